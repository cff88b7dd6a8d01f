"""Support-bundle collector (``imdesk bundle collect``), in the manner of sos report.

A bundle is made by small declarative collectors (``name``, file ``patterns``, ``redactions`` and
one ``collect()``), each writing into a staging folder and recording what it did in the manifest:

    logs     the log files inside the time window (sliced inside files; rotated .gz included)
    config   im_config.yaml and the other text files of the config folder, secrets redacted;
             private-key files are never collected
    version  ``im_server --version`` when present
    system   CPU, memory, disks, open-file limits, uptime, clock sync (psutil)
    network  the network check of the endpoints named in the config

Everything that enters the bundle goes through the :class:`~imdesk.diag.redact.Redactor` (always
on). ``manifest.json`` lists every file with its size and sha256, the redactions applied, and
what was skipped and why. The result is one ``.tar.gz``.

Log slicing is fast on purpose (1 GB in seconds): im_server lines start with a sortable local
timestamp (``2026-03-15 10:23:45.123``), so the window is found by bisection inside plain files
and by comparing timestamp prefixes as bytes inside compressed ones; no line is parsed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import io
import json
import os
import platform
import re
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, ClassVar
from zoneinfo import ZoneInfo

from imdesk import __version__
from imdesk.core.errors import BadInput
from imdesk.diag.redact import Redactor
from imdesk.profiles import Profile, load_profile

BLOCK = 4 * 1024 * 1024
DEFAULT_MAX_MB = 4096
_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
_TEXT_TS = re.compile(rb"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")
_JSON_TS = re.compile(rb'"ts"\s*:\s*"([^"]+)"')

Progress = Callable[[int], None]


class ParallelGzipWriter(io.RawIOBase):
    """A write-only gzip stream compressed in worker threads (zlib releases the GIL), like pigz:
    the stream is cut into chunks, each compressed as its own gzip member; a sequence of members
    is a valid .gz that every gzip reader (and ``tarfile`` "r:gz") reads as one stream."""

    def __init__(self, raw: BinaryIO, level: int = 1, workers: int = 2, chunk: int = 8 << 20) -> None:
        import concurrent.futures
        from collections import deque

        super().__init__()
        self._raw = raw
        self._level = level
        self._chunk = chunk
        self._buf: list[bytes] = []
        self._size = 0
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers))
        self._pending: deque[Any] = deque()
        self._max_pending = max(2, workers * 2)

    def writable(self) -> bool:
        return True

    def _compress(self, data: bytes) -> bytes:
        c = zlib.compressobj(self._level, zlib.DEFLATED, 31)
        return c.compress(data) + c.flush()

    def _submit(self) -> None:
        if not self._buf:
            return
        data = b"".join(self._buf)
        self._buf, self._size = [], 0
        self._pending.append(self._pool.submit(self._compress, data))
        while len(self._pending) > self._max_pending:
            self._raw.write(self._pending.popleft().result())

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._buf.append(data)
        self._size += len(data)
        if self._size >= self._chunk:
            self._submit()
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._submit()
            while self._pending:
                self._raw.write(self._pending.popleft().result())
        finally:
            self._pool.shutdown(wait=True)
            super().close()


class SizeCapReached(Exception):
    pass


@dataclass
class Window:
    """The time window in UTC plus the zone the log timestamps are written in."""

    since: datetime | None
    until: datetime | None
    log_tz: tzinfo

    def local_key(self, dt: datetime | None, *, after: bool = False) -> bytes | None:
        """``dt`` as the log's sortable prefix ``YYYY-MM-DD HH:MM:SS.mmm`` (``after``: +1 ms)."""
        if dt is None:
            return None
        if after:
            dt = dt + timedelta(milliseconds=1)
        local = dt.astimezone(self.log_tz)
        return local.strftime("%Y-%m-%d %H:%M:%S.").encode() + f"{local.microsecond // 1000:03d}".encode()

    def day_overlaps(self, day: date) -> bool:
        start = datetime(day.year, day.month, day.day, tzinfo=self.log_tz).astimezone(UTC)
        # a day's file may hold a few records of the next day written before rotation: 1 day slack
        end = start + timedelta(days=2)
        start -= timedelta(days=1)
        return (self.until is None or start <= self.until) and (self.since is None or end >= self.since)

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "log_timezone": str(self.log_tz)}


@dataclass
class Manifest:
    files: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    collectors: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def skip(self, path: str | os.PathLike[str], reason: str) -> None:
        self.skipped.append({"path": str(path), "reason": reason})


@dataclass
class Context:
    profile: Profile
    redactor: Redactor
    staging: Path
    window: Window
    log_dir: Path | None
    config_path: Path | None
    manifest: Manifest
    max_bytes: int
    progress: Progress | None = None
    network: bool = True
    net_timeout: float = 2.0
    collected_log_bytes: int = 0
    truncated: bool = False
    config_values: dict[str, Any] = field(default_factory=dict)
    tar: tarfile.TarFile | None = None
    top: str = "bundle"
    workers: int = 1
    parallel_min_bytes: int = 64 << 20

    def add_file(self, rel: str, data: bytes | None = None, *, source: str, collector: str,
                 before: dict[str, int] | None = None, extra: dict[str, Any] | None = None) -> Path:
        """Write ``data`` (already redacted) to ``rel`` in the staging folder, or record a file a
        collector wrote there itself; the manifest gets size, sha256 and redactions."""
        target = self.staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            target.write_bytes(data)
        after = self.redactor.counts
        redactions = {k: after[k] - (before or {}).get(k, 0) for k in after if after[k] - (before or {}).get(k, 0)}
        sha = (extra or {}).pop("sha256", None) or _sha256_file(target)
        entry = {"path": rel, "source": source, "collector": collector, "size": target.stat().st_size,
                 "sha256": sha, "redactions": redactions}
        if extra:
            entry.update(extra)
        self.manifest.files.append(entry)
        self.to_archive(target, rel)
        return target

    def to_archive(self, path: Path, rel: str) -> None:
        """Stream a finished file into the bundle and drop it from the staging folder."""
        if self.tar is None:
            return
        info = self.tar.gettarinfo(str(path), arcname=f"{self.top}/{rel}")
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o644
        with open(path, "rb") as fh:
            self.tar.addfile(info, fh)
        path.unlink()

    def tick(self, n: int) -> None:
        if self.progress and n:
            self.progress(n)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Collector:
    """Base of the declarative collectors: ``name``, ``patterns``, ``redactions`` and one
    ``collect(ctx)``; ``planned_bytes`` feeds the progress bar."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    patterns: ClassVar[tuple[str, ...]] = ()
    redactions: ClassVar[tuple[str, ...]] = ("secrets",)

    def planned_bytes(self, ctx: Context) -> int:
        return 0

    def collect(self, ctx: Context) -> None:  # pragma: no cover - interface
        raise NotImplementedError


# ------------------------------------------------------------------------------------------------
# logs


def _ts_of_line(line: bytes) -> bytes | None:
    """The sortable timestamp prefix of a text line, or None (continuation / other line)."""
    if _TEXT_TS.match(line):
        return line[:23].replace(b"T", b" ", 1).replace(b",", b".")
    return None


class _JsonTs:
    """Timestamps of JSON-mode lines as local sortable prefixes."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz

    def __call__(self, line: bytes) -> bytes | None:
        if not line.startswith(b"{"):
            return _ts_of_line(line)
        m = _JSON_TS.search(line, 0, 200)
        if not m:
            return None
        try:
            dt = datetime.fromisoformat(m.group(1).decode().replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.tz)
        local = dt.astimezone(self.tz)
        return local.strftime("%Y-%m-%d %H:%M:%S.").encode() + f"{local.microsecond // 1000:03d}".encode()


def _line_start_ts(fh: BinaryIO, pos: int, size: int, ts_of: Callable[[bytes], bytes | None]
                   ) -> tuple[int, bytes | None]:
    """The first line starting at or after ``pos`` that carries a timestamp: (offset, ts)."""
    fh.seek(pos)
    if pos > 0:
        fh.seek(pos - 1)
        if fh.read(1) != b"\n":
            fh.readline()
    scanned = 0
    while True:
        start = fh.tell()
        line = fh.readline()
        if not line:
            return size, None
        ts = ts_of(line)
        if ts is not None:
            return start, ts
        scanned += len(line)
        if scanned > 16 * 1024 * 1024:
            return start, None


def find_offset(fh: BinaryIO, size: int, key: bytes, ts_of: Callable[[bytes], bytes | None]) -> int:
    """Offset of the first record whose timestamp is ≥ ``key`` (bisection; lines sorted by time)."""
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        _, ts = _line_start_ts(fh, mid, size, ts_of)
        if ts is None or ts >= key:
            hi = mid
        else:
            lo = mid + 1
    return _line_start_ts(fh, lo, size, ts_of)[0]


def _blocks(fh: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """``[start, end)`` of a plain file in blocks that end at a line boundary."""
    fh.seek(start)
    remaining = end - start
    carry = b""
    while remaining > 0:
        chunk = fh.read(min(BLOCK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0 and remaining > 0:
            carry = data
            continue
        carry = data[cut:]
        if cut:
            yield data[:cut]
    if carry:
        yield carry


def _filter_block(block: bytes, since: bytes | None, until_excl: bytes | None, state: list[bool],
                  ts_of: Callable[[bytes], bytes | None]) -> bytes:
    """Lines of ``block`` inside the window; ``state[0]`` says whether the current record (for
    continuation lines) is inside. Whole blocks inside the window are kept without splitting."""
    first_nl = block.find(b"\n")
    first = ts_of(block[: first_nl + 1 if first_nl >= 0 else len(block)])
    last_start = block.rfind(b"\n", 0, len(block) - 1) + 1
    last = ts_of(block[last_start:])
    if first is not None and last is not None:
        if (since is None or first >= since) and (until_excl is None or last < until_excl):
            state[0] = True
            return block
        if (until_excl is not None and first >= until_excl) or (since is not None and last < since):
            state[0] = False
            return b""
    out = []
    inside = state[0]
    for line in block.splitlines(keepends=True):
        ts = ts_of(line)
        if ts is not None:
            inside = (since is None or ts >= since) and (until_excl is None or ts < until_excl)
        if inside:
            out.append(line)
    state[0] = inside
    return b"".join(out)


def _gz_blocks(path: Path, ctx: Context) -> Iterator[bytes]:
    """Decompressed blocks of a .gz at line boundaries; advances progress by compressed bytes."""
    with open(path, "rb") as raw:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        carry = b""
        while True:
            comp = raw.read(1 << 20)
            if not comp:
                break
            ctx.tick(len(comp))
            data = carry + d.decompress(comp)
            while d.eof and d.unused_data:  # concatenated gzip members
                rest = d.unused_data
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                data += d.decompress(rest)
            cut = data.rfind(b"\n") + 1
            if len(data) >= BLOCK and cut:
                yield data[:cut]
                carry = data[cut:]
            else:
                carry = data
        carry += d.flush()
        if carry:
            yield carry


_WORKER_REDACTOR: Redactor | None = None


def _worker_init(redactor: Redactor) -> None:
    global _WORKER_REDACTOR
    _WORKER_REDACTOR = redactor


def _worker_redact(block: bytes) -> tuple[bytes, dict[str, int], dict[str, dict[str, str]]]:
    assert _WORKER_REDACTOR is not None
    return _WORKER_REDACTOR.redact_delta(block)


class RedactPool:
    """Redaction of log blocks in worker processes (regular expressions hold the GIL), results in
    input order with a bounded number of blocks in flight; in-process when ``workers`` <= 1.

    Workers start with ``forkserver`` (or ``spawn``): a script that calls :func:`collect_bundle`
    with ``workers > 1`` needs the usual ``if __name__ == "__main__":`` guard."""

    def __init__(self, redactor: Redactor, workers: int) -> None:
        self.redactor = redactor
        self.workers = workers
        self.pool = None
        if workers > 1:
            import multiprocessing

            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            self.pool = multiprocessing.get_context(method).Pool(workers, initializer=_worker_init,
                                                                 initargs=(redactor,))

    def stream(self, blocks: Iterator[bytes]) -> Iterator[bytes]:
        if self.pool is None:
            for block in blocks:
                yield self.redactor.redact_bytes(block)
            return
        from collections import deque

        pending: deque[Any] = deque()
        for block in blocks:
            pending.append(self.pool.apply_async(_worker_redact, (block,)))
            if len(pending) >= self.workers * 2:
                yield self._take(pending.popleft())
        while pending:
            yield self._take(pending.popleft())

    def _take(self, result: Any) -> bytes:
        out, counts, mapping = result.get()
        self.redactor.merge(counts, mapping)
        return out

    def close(self, *, error: bool = False) -> None:
        if self.pool is not None:
            if error:
                self.pool.terminate()
            else:
                self.pool.close()
            self.pool.join()
            self.pool = None


class LogsCollector(Collector):
    name = "logs"
    description = "log files inside the time window, sliced inside files; rotated .gz included"
    patterns = ("*.log", "*.log.gz", "*.log.[0-9]", "*.log.[0-9].gz", "*.log.[0-9][0-9]", "*.log.[0-9][0-9].gz")
    redactions = ("secrets", "config-secrets", "obfuscation")

    def files(self, ctx: Context) -> list[Path]:
        if ctx.log_dir is None or not ctx.log_dir.is_dir():
            return []
        chosen: list[Path] = []
        try:
            entries = sorted(ctx.log_dir.iterdir())
        except PermissionError:
            ctx.manifest.skip(ctx.log_dir, "permission denied reading the log folder")
            return []
        for p in entries:
            if not p.is_file() or not any(fnmatch.fnmatch(p.name, pat) for pat in self.patterns):
                continue
            m = _DATE_IN_NAME.search(p.name)
            if m:
                try:
                    day = date.fromisoformat(m.group(1))
                except ValueError:
                    day = None
                if day is not None and not ctx.window.day_overlaps(day):
                    continue
            chosen.append(p)
        # newest first, so a size cap keeps the most recent records
        chosen.sort(key=lambda p: (_DATE_IN_NAME.search(p.name).group(1) if _DATE_IN_NAME.search(p.name) else "9999",
                                   p.name), reverse=True)
        return chosen

    def planned_bytes(self, ctx: Context) -> int:
        total = 0
        for p in self.files(ctx):
            with contextlib.suppress(OSError):
                total += p.stat().st_size
        return total

    def collect(self, ctx: Context) -> None:
        if ctx.log_dir is None:
            return
        if not ctx.log_dir.is_dir():
            ctx.manifest.skip(ctx.log_dir, "log folder does not exist")
            return
        fmt = ctx.config_values.get("log.format", "text")
        ts_of: Callable[[bytes], bytes | None] = _JsonTs(ctx.window.log_tz) if fmt == "json" else _ts_of_line
        since = ctx.window.local_key(ctx.window.since)
        until_excl = ctx.window.local_key(ctx.window.until, after=True)
        files = self.files(ctx)
        planned = 0
        for p in files:
            with contextlib.suppress(OSError):
                planned += p.stat().st_size
        workers = ctx.workers if planned >= ctx.parallel_min_bytes else 1
        pool = RedactPool(ctx.redactor, workers)
        ok = False
        try:
            for path in files:
                if ctx.truncated:
                    ctx.manifest.skip(path, f"size cap of {ctx.max_bytes // (1 << 20)} MB reached")
                    continue
                try:
                    self._one(ctx, path, since, until_excl, ts_of, pool)
                except PermissionError:
                    ctx.manifest.skip(path, "permission denied")
                except (OSError, EOFError, zlib.error) as exc:
                    ctx.manifest.skip(path, f"unreadable: {getattr(exc, 'strerror', None) or exc}")
            ok = True
        finally:
            pool.close(error=not ok)

    def _one(self, ctx: Context, path: Path, since: bytes | None, until_excl: bytes | None,
             ts_of: Callable[[bytes], bytes | None], pool: RedactPool) -> None:
        gz = path.name.endswith(".gz")
        rel_name = path.name[:-3] if gz else path.name
        rel = f"logs/{rel_name}"
        before = dict(ctx.redactor.counts)
        target = ctx.staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        sha = hashlib.sha256()
        with open(path, "rb") as head_fh:
            head = head_fh.read(8192)
        if gz and not head.startswith(b"\x1f\x8b"):
            ctx.manifest.skip(path, "named .gz but not gzip data")
            return
        if not gz and b"\x00" in head:
            ctx.manifest.skip(path, "binary file, not a log")
            return
        sliced: dict[str, Any] = {"compressed": True}

        def blocks() -> Iterator[bytes]:
            if gz:
                state: list[Any] = [None]
                for block in _gz_blocks(path, ctx):
                    kept = _filter_block(block, since, until_excl, state, ts_of) if (since or until_excl) else block
                    if kept:
                        yield kept
                return
            size = path.stat().st_size
            with open(path, "rb") as fh:
                start = find_offset(fh, size, since, ts_of) if since else 0
                end = find_offset(fh, size, until_excl, ts_of) if until_excl else size
                end = max(start, end)
                sliced.clear()
                sliced.update({"offset_start": start, "offset_end": end, "source_size": size})
                ctx.tick(size - (end - start))
                for block in _blocks(fh, start, end):
                    ctx.tick(len(block))
                    yield block

        with open(target, "wb") as out:
            for data in pool.stream(self._capped(ctx, blocks())):
                out.write(data)
                sha.update(data)
                written += len(data)
        if written == 0:
            target.unlink()
            ctx.manifest.skip(path, "no records inside the time window")
            return
        ctx.add_file(rel, source=str(path), collector=self.name, before=before,
                     extra={"slice": sliced, "sha256": sha.hexdigest()})

    @staticmethod
    def _capped(ctx: Context, blocks: Iterator[bytes]) -> Iterator[bytes]:
        """Blocks up to the size cap (counted on the raw log bytes), cut at a line boundary."""
        for block in blocks:
            if ctx.truncated:
                return
            if ctx.collected_log_bytes + len(block) > ctx.max_bytes:
                room = ctx.max_bytes - ctx.collected_log_bytes
                block = block[: block.rfind(b"\n", 0, max(room, 0)) + 1]
                ctx.truncated = True
            if block:
                ctx.collected_log_bytes += len(block)
                yield block


# ------------------------------------------------------------------------------------------------
# config


class ConfigCollector(Collector):
    name = "config"
    description = "im_config.yaml and the other text files of its folder, secrets redacted; never private keys"
    patterns = ("*.yaml", "*.yml", "*.conf", "*.toml", "*.json", "*.ini", "*.env", "*.crt", "*.pem")
    redactions = ("config-secrets", "secrets", "obfuscation")
    MAX_FILE = 2 * 1024 * 1024

    def collect(self, ctx: Context) -> None:
        if ctx.config_path is None:
            return
        if not ctx.config_path.exists():
            ctx.manifest.skip(ctx.config_path, "config file not found")
            return
        folder = ctx.config_path.parent
        others = []
        try:
            others = sorted(p for p in folder.iterdir() if p.is_file() and p != ctx.config_path)
        except OSError:
            ctx.manifest.skip(folder, "config folder unreadable")
        self._file(ctx, ctx.config_path, main=True)
        for p in others:
            if p.suffix in (".key",) or not any(fnmatch.fnmatch(p.name, pat) for pat in self.patterns + ("*.key",)):
                reason = ctx.redactor.never_collect(p.name)
                if reason:
                    ctx.manifest.skip(p, reason)
                continue
            self._file(ctx, p, main=False)
        for sub in ("tls",):  # certificates (not keys) are useful to check expiry
            d = folder / sub
            if d.is_dir():
                for p in sorted(d.iterdir()):
                    if p.is_file():
                        self._file(ctx, p, main=False, rel_prefix=f"config/{sub}/")

    def _file(self, ctx: Context, path: Path, *, main: bool, rel_prefix: str = "config/") -> None:
        reason = ctx.redactor.never_collect(path.name)
        if reason:
            ctx.manifest.skip(path, reason)
            return
        try:
            if path.stat().st_size > self.MAX_FILE:
                ctx.manifest.skip(path, f"larger than {self.MAX_FILE // (1 << 20)} MB")
                return
            data = path.read_bytes()
        except PermissionError:
            ctx.manifest.skip(path, "permission denied")
            return
        except OSError as exc:
            ctx.manifest.skip(path, f"unreadable: {exc.strerror or exc}")
            return
        reason = ctx.redactor.never_collect(path.name, data)
        if reason:
            ctx.manifest.skip(path, reason)
            return
        if b"\x00" in data[:8192]:
            ctx.manifest.skip(path, "binary file")
            return
        before = dict(ctx.redactor.counts)
        text = data.decode("utf-8", "replace")
        if main or path.suffix in (".yaml", ".yml"):
            redacted = ctx.redactor.redact_config(text, ctx.profile)
        else:
            redacted = ctx.redactor.redact_text(text)
        ctx.add_file(rel_prefix + path.name, redacted.encode("utf-8"), source=str(path), collector=self.name,
                     before=before)


# ------------------------------------------------------------------------------------------------
# version, system, network


class VersionCollector(Collector):
    name = "version"
    description = "im_server --version, imdesk and Python versions"
    redactions = ()

    def collect(self, ctx: Context) -> None:
        from imdesk.diag.sysfacts import server_version_output

        out = server_version_output(ctx.profile)
        if out is None:
            ctx.manifest.skip("im_server --version", "im_server not on PATH or the command failed")
        data = {"im_server": out, "imdesk": __version__, "python": platform.python_version()}
        before = dict(ctx.redactor.counts)
        text = ctx.redactor.redact_text(json.dumps(data, indent=2, ensure_ascii=False))
        ctx.add_file("versions.json", text.encode(), source="commands", collector=self.name, before=before)


class SystemCollector(Collector):
    name = "system"
    description = "CPU, memory, disks, open-file limits, uptime, clock sync"
    redactions = ("obfuscation",)

    def collect(self, ctx: Context) -> None:
        from imdesk.diag.sysfacts import collect_facts

        paths = [str(p) for p in (ctx.log_dir, ctx.config_path) if p is not None]
        facts = collect_facts(paths=paths, profile=ctx.profile)
        ctx.redactor.add_identifier(facts.get("hostname"), "host")
        before = dict(ctx.redactor.counts)
        text = ctx.redactor.redact_text(json.dumps(facts, indent=2, ensure_ascii=False, default=str))
        ctx.add_file("system.json", text.encode(), source="psutil", collector=self.name, before=before)


def endpoints(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The endpoints a config names: the client listener, metrics, DB, Redis, brokers, peers."""
    from urllib.parse import urlsplit

    from imdesk.diag.config_check import parse_hostport

    def local(host: str) -> str:
        return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host

    out: list[dict[str, Any]] = []
    listen = parse_hostport(values.get("server.listen", "0.0.0.0:8443"))
    if listen:
        scheme = "https" if values.get("tls.enabled", True) is not False else "http"
        out.append({"name": "server", "kind": "http", "url": f"{scheme}://{local(listen[0])}:{listen[1]}/healthz"})
    if values.get("metrics.enabled", True) is not False:
        m = parse_hostport(values.get("metrics.listen", "0.0.0.0:9464"))
        if m:
            out.append({"name": "metrics", "kind": "http", "url": f"http://{local(m[0])}:{m[1]}/metrics"})
    dsn = values.get("storage.database.dsn")
    if isinstance(dsn, str):
        try:
            parts = urlsplit(dsn)
            if parts.hostname:
                default = 3306 if parts.scheme.startswith("mysql") else 5432
                out.append({"name": "database", "kind": "tcp", "host": parts.hostname, "port": parts.port or default})
        except ValueError:
            pass
    for key, name in (("storage.redis.addrs", "redis"), ("mq.brokers", "mq"), ("cluster.nodes", "peer")):
        for item in values.get(key) or []:
            hp = parse_hostport(item)
            if hp:
                out.append({"name": name, "kind": "tcp", "host": hp[0], "port": hp[1]})
    return out


class NetworkCollector(Collector):
    name = "network"
    description = "network check of the endpoints named in the config"
    redactions = ("secrets", "obfuscation")

    def collect(self, ctx: Context) -> None:
        from imdesk.diag.netcheck import check_tcp, check_url

        if not ctx.network:
            ctx.manifest.skip("network", "disabled with --no-network")
            return
        if not ctx.config_values:
            ctx.manifest.skip("network", "no config: endpoints unknown")
            return
        results = []
        for ep in endpoints(ctx.config_values):
            if ep["kind"] == "http":
                r = check_url(ep["url"], timeout=ctx.net_timeout, verify=False)
            else:
                r = check_tcp(ep["host"], ep["port"], timeout=ctx.net_timeout)
            results.append({"endpoint": ep["name"], **r.to_dict()})
        before = dict(ctx.redactor.counts)
        text = ctx.redactor.redact_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
        ctx.add_file("network.json", text.encode(), source="net check", collector=self.name, before=before)


COLLECTORS: tuple[type[Collector], ...] = (ConfigCollector, VersionCollector, SystemCollector, NetworkCollector,
                                           LogsCollector)


# ------------------------------------------------------------------------------------------------
# entry point


@dataclass
class BundleResult:
    output: Path
    manifest: dict[str, Any]
    mapping_file: Path | None
    size: int
    seconds: float
    truncated: bool


def _config_values(path: Path | None, profile: Profile) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    from imdesk.diag.config_check import Schema, effective_values, load_values

    values, _ = load_values(path, profile)
    typed, _, _ = effective_values(Schema.of(profile), values)
    raw = {k: e.value for k, e in values.items()}
    return {**{k: v for k, v in typed.items() if not hasattr(v, "total_seconds")}, **raw}


def collect_bundle(
    output: str | os.PathLike[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
    node_name: str | None = None,
    profile: Profile | None = None,
    obfuscate: bool = False,
    salt: str | None = None,
    max_mb: int = DEFAULT_MAX_MB,
    network: bool = True,
    compresslevel: int = 1,
    log_tz: str | None = None,
    progress_factory: Callable[[int], Progress] | None = None,
    collectors: tuple[type[Collector], ...] = COLLECTORS,
    explicit_log_dir: bool = False,
    explicit_config: bool = False,
    workers: int = 1,
    parallel_min_mb: int = 64,
) -> BundleResult:
    """Collect a bundle into ``output`` (a .tar.gz); see the module docstring."""
    t0 = time.perf_counter()
    profile = profile or load_profile()
    meta = profile.data("profile") if profile.has("profile") else {}
    out = Path(output)
    if out.exists() and out.is_dir():
        raise BadInput(f"{out}: is a directory; give a file name such as bundle.tar.gz")
    if not out.parent.exists():
        raise BadInput(f"{out.parent}: output folder does not exist")
    if max_mb < 1:
        raise BadInput("--max-size must be at least 1 MB")
    log_path = Path(log_dir) if log_dir else Path(meta.get("log_dir", "/var/log/im_server"))
    if explicit_log_dir:
        if not log_path.exists():
            raise BadInput(f"{log_path}: log folder does not exist")
        if not log_path.is_dir():
            raise BadInput(f"{log_path}: not a folder")
        if not os.access(log_path, os.R_OK | os.X_OK):
            raise BadInput(f"{log_path}: permission denied")
    cfg_path = Path(config) if config else Path(meta.get("config_path", "/etc/im_server/im_config.yaml"))
    if explicit_config:
        from imdesk.diag.config_check import read_config_file

        read_config_file(cfg_path)  # BadInput for missing, unreadable or binary
    try:
        config_values = _config_values(cfg_path, profile)
    except BadInput as exc:
        if explicit_config:
            raise
        config_values = {}
        default_problem = str(exc)
    else:
        default_problem = None
    if config_values.get("log.utc") is True:
        tz: tzinfo = UTC
    else:
        zone = log_tz or (profile.data("log_format").get("timezone") if profile.has("log_format") else None) \
            or meta.get("timezone") or "Asia/Shanghai"
        try:
            tz = ZoneInfo(zone)
        except (KeyError, ValueError) as exc:
            raise BadInput(f"unknown time zone {zone!r}") from exc
    if not explicit_log_dir and not log_dir and isinstance(config_values.get("log.dir"), str):
        log_path = Path(config_values["log.dir"])
    redactor = Redactor.for_profile(profile, salt=salt, obfuscate=obfuscate)
    node = node_name or platform.node() or "node"
    manifest = Manifest()
    if default_problem:
        manifest.skip(cfg_path, default_problem)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe_node = re.sub(r"[^A-Za-z0-9_.-]+", "_", node)[:60] or "node"
    top = f"imdesk-bundle-{safe_node}-{stamp}"
    with tempfile.TemporaryDirectory(prefix=".imdesk-bundle-", dir=out.parent) as tmp:
        staging = Path(tmp) / top
        staging.mkdir()
        partial = out.with_name(out.name + ".partial")
        raw = open(partial, "wb")
        gz = ParallelGzipWriter(raw, level=compresslevel, workers=min(2, os.cpu_count() or 1))
        # stream mode: tarfile buffers `bufsize` bytes and slices them off; keep both sizes equal
        tar = tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20, copybufsize=1 << 20)
        ctx = Context(profile=profile, redactor=redactor, staging=staging,
                      window=Window(since, until, tz), log_dir=log_path, config_path=cfg_path,
                      manifest=manifest, max_bytes=max_mb * (1 << 20), network=network,
                      config_values=config_values, tar=tar, top=top,
                      workers=max(1, workers),
                      parallel_min_bytes=parallel_min_mb << 20)
        try:
            instances = [c() for c in collectors]
            if progress_factory is not None:
                ctx.progress = progress_factory(sum(c.planned_bytes(ctx) for c in instances))
            for c in instances:
                c0 = time.perf_counter()
                status = "ok"
                try:
                    c.collect(ctx)
                except BadInput:
                    raise
                except (OSError, ValueError) as exc:  # one collector's failure never loses the bundle
                    status = f"failed: {exc}"
                    manifest.skip(c.name, status)
                manifest.collectors.append({"name": c.name, "description": c.description, "patterns": list(c.patterns),
                                            "redactions": list(c.redactions), "status": status,
                                            "seconds": round(time.perf_counter() - c0, 3)})
            if ctx.truncated:
                manifest.notes.append(
                    f"size cap of {max_mb} MB reached: the most recent logs were kept; narrow --since/--until "
                    f"or raise --max-size to collect more")
            doc = {
                "format": 1,
                "created_at": datetime.now(UTC).isoformat(),
                "imdesk_version": __version__,
                "profile": profile.name,
                "node_name": node,
                "window": ctx.window.to_dict(),
                "log_dir": str(log_path),
                "config": str(cfg_path),
                "redaction": {"always_on": True, "applied": redactor.summary(),
                              "salt": "operator-supplied" if salt else "random per bundle",
                              "placeholder": "[REDACTED-<kind>-<hmac8>]"},
                "obfuscated": obfuscate,
                "size_cap_mb": max_mb,
                "truncated": ctx.truncated,
                "log_bytes_collected": ctx.collected_log_bytes,
                "collectors": manifest.collectors,
                "files": manifest.files,
                "skipped": manifest.skipped,
                "notes": manifest.notes,
            }
            (staging / "manifest.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
            ctx.to_archive(staging / "manifest.json", "manifest.json")
            tar.close()
            gz.close()
            raw.close()
            os.replace(partial, out)
        except BaseException:
            for closer in (tar.close, gz.close, raw.close):
                with contextlib.suppress(Exception):  # already failing; the partial file is removed next
                    closer()
            partial.unlink(missing_ok=True)
            raise
    mapping_file = None
    if obfuscate:
        mapping_file = out.with_name(out.name + ".obfuscation-map.json")
        fd = os.open(mapping_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"bundle": out.name, "mapping": redactor.mapping,
                       "note": "Keep this file on this machine: it maps the bundle's tokens back to real values."},
                      fh, indent=2, ensure_ascii=False)
    return BundleResult(output=out, manifest=doc, mapping_file=mapping_file, size=out.stat().st_size,
                        seconds=round(time.perf_counter() - t0, 3), truncated=ctx.truncated)


def read_manifest(bundle: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a bundle made by :func:`collect_bundle`."""
    try:
        with tarfile.open(bundle, "r:gz") as tar:
            for m in tar.getmembers():
                if m.name.endswith("/manifest.json") and m.name.count("/") == 1:
                    fh = tar.extractfile(m)
                    if fh is not None:
                        return json.load(io.TextIOWrapper(fh, encoding="utf-8"))
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BadInput(f"{bundle}: not a readable bundle ({exc})") from None
    raise BadInput(f"{bundle}: no manifest.json (not an imdesk bundle)")


__all__ = ["COLLECTORS", "BundleResult", "Collector", "collect_bundle", "endpoints", "find_offset", "read_manifest"]
