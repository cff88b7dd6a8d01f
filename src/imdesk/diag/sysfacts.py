"""Facts of the machine for a support bundle: CPU, memory, disks, open-file limits, uptime, clock
sync, OS and the IM server's version. Every probe is best effort: a fact that cannot be read is
``None`` with the reason in ``errors`` — collecting facts never fails.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imdesk.profiles import Profile, load_profile

_CMD_TIMEOUT = 5.0


def _run(argv: list[str], timeout: float = _CMD_TIMEOUT) -> tuple[int, str] | None:
    """Run a command without a shell; None when it does not exist or hangs."""
    exe = shutil.which(argv[0])
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=timeout,
                              check=False, env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.returncode, (proc.stdout or "") + (proc.stderr or "")


def server_version_output(profile: Profile | None = None) -> str | None:
    """Raw output of ``im_server --version`` (the profile's version command), None when absent."""
    profile = profile or load_profile()
    meta = profile.data("profile") if profile.has("profile") else {}
    argv = [str(a) for a in (meta.get("version_command") or ["im_server", "--version"])]
    got = _run(argv)
    if got is None or got[0] != 0:
        return None
    return got[1].strip() or None


def server_version(profile: Profile | None = None) -> str | None:
    from imdesk.diag.version import parse_server_output

    out = server_version_output(profile)
    v = parse_server_output(out) if out else None
    return str(v) if v else None


def clock_sync() -> dict[str, Any]:
    """Whether the system clock is synchronised (timedatectl, chronyc or ntpstat)."""
    got = _run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    if got is not None and got[0] == 0 and got[1].strip() in ("yes", "no"):
        return {"synchronized": got[1].strip() == "yes", "source": "timedatectl"}
    got = _run(["chronyc", "tracking"])
    if got is not None and got[0] == 0:
        status = next((ln.split(":", 1)[1].strip() for ln in got[1].splitlines()
                       if ln.lower().startswith("leap status")), "")
        return {"synchronized": status.lower() == "normal", "source": "chronyc", "detail": status}
    got = _run(["ntpstat"])
    if got is not None:
        return {"synchronized": got[0] == 0, "source": "ntpstat"}
    if Path("/run/systemd/timesync/synchronized").exists():
        return {"synchronized": True, "source": "systemd-timesyncd"}
    return {"synchronized": None, "source": None, "detail": "no timedatectl, chronyc or ntpstat"}


def _nofile_shell() -> dict[str, Any]:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        inf = resource.RLIM_INFINITY
        return {"soft": None if soft == inf else soft, "hard": None if hard == inf else hard}
    except (ImportError, OSError, ValueError):
        return {"soft": None, "hard": None}


def collect_facts(*, paths: list[str | os.PathLike[str]] | None = None,
                  profile: Profile | None = None) -> dict[str, Any]:
    """All facts as one JSON-ready dict (``errors`` lists what could not be read and why)."""
    errors: dict[str, str] = {}
    facts: dict[str, Any] = {
        "collected_at": datetime.now(UTC).isoformat(),
        "hostname": platform.node(),
        "os": {"system": platform.system(), "release": platform.release(), "version": platform.version(),
               "machine": platform.machine()},
        "python": platform.python_version(),
        "open_files": {"shell": _nofile_shell(), "im_server": None},
    }
    try:
        import psutil

        facts["cpu"] = {"logical": psutil.cpu_count(logical=True), "physical": psutil.cpu_count(logical=False)}
        try:
            facts["cpu"]["load_avg"] = list(os.getloadavg())
        except OSError:
            facts["cpu"]["load_avg"] = None
        vm = psutil.virtual_memory()
        facts["memory"] = {"total": vm.total, "available": vm.available, "percent": vm.percent}
        sw = psutil.swap_memory()
        facts["swap"] = {"total": sw.total, "used": sw.used}
        boot = psutil.boot_time()
        facts["uptime_s"] = int(time.time() - boot)
        facts["boot_time"] = datetime.fromtimestamp(boot, UTC).isoformat()
        disks = {}
        for p in ["/", *[str(x) for x in (paths or [])]]:
            probe = Path(p)
            while not probe.exists() and probe != probe.parent:
                probe = probe.parent
            try:
                du = psutil.disk_usage(str(probe))
                disks[p] = {"total": du.total, "used": du.used, "free": du.free, "percent": du.percent}
            except OSError as exc:
                errors[f"disk:{p}"] = exc.strerror or str(exc)
        facts["disks"] = disks
        for proc in psutil.process_iter(["name", "pid"]):
            if proc.info.get("name") == "im_server":
                try:
                    soft, hard = proc.rlimit(psutil.RLIMIT_NOFILE)
                    facts["open_files"]["im_server"] = {"pid": proc.info["pid"], "soft": soft, "hard": hard,
                                                        "open": proc.num_fds()}
                except (psutil.Error, AttributeError, OSError) as exc:
                    errors["open_files.im_server"] = str(exc)
                break
    except ImportError:
        errors["psutil"] = "psutil is not installed"
    facts["clock"] = clock_sync()
    facts["im_server_version"] = server_version_output(profile)
    if facts["im_server_version"] is None:
        errors["im_server_version"] = "im_server not on PATH or `--version` failed"
    facts["errors"] = errors
    return facts
