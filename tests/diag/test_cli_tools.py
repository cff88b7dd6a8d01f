"""The CLI contracts of config/net/version/bundle and diag doctor: output, exit codes 0/1/2,
one clear line and never a traceback for bad input."""

from __future__ import annotations

import json
import socket
import tarfile

import pytest

from imdesk.cli import main
from imdesk.diag.config_check import example_text


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def bad_line(err: str) -> None:
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("imdesk: error: ")


@pytest.fixture
def example(tmp_path):
    p = tmp_path / "im_config.yaml"
    p.write_text(example_text(), encoding="utf-8")
    return p


def test_config_example_is_the_profile_example(capsys):
    code, out, _ = run(capsys, "config", "example", "--profile", "im_server")
    assert code == 0 and out == example_text()


def test_config_check_exit_codes_and_json(capsys, example, tmp_path):
    code, out, _ = run(capsys, "config", "check", str(example), "--json")
    assert code == 0
    data = json.loads(out)
    assert all(f["severity"] == "info" for f in data["findings"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(example_text().replace("level: INFO", "level: DEBUG").replace("max_concurrent:", "max_concurent:"))
    code, out, _ = run(capsys, "config", "check", str(bad), "--json")
    assert code == 1
    found = {(f["rule_id"], f["key"]) for f in json.loads(out)["findings"]}
    assert ("IMCFG-PERF-005", "log.level") in found and ("IMCFG-UNKNOWN-KEY", "server.max_concurent") in found
    for f in json.loads(out)["findings"]:
        assert {"rule_id", "severity", "key", "line", "message", "fix"} <= set(f)
    code, out, _ = run(capsys, "config", "check", str(bad), "--sarif")
    assert code == 1 and json.loads(out)["version"] == "2.1.0"
    code, out, _ = run(capsys, "config", "check", str(bad), "--lang", "zh")
    assert "生产环境" in out and "修复" in out


@pytest.mark.parametrize("kind", ["missing", "binary", "dir"])
def test_config_check_unreadable_input(capsys, tmp_path, kind):
    path = tmp_path / "x.yaml"
    if kind == "binary":
        path.write_bytes(b"\x00\x01\x02\x03")
    elif kind == "dir":
        path = tmp_path
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 2
    bad_line(err)


def test_config_diff(capsys, example, tmp_path):
    other = tmp_path / "node2.yaml"
    other.write_text(example_text().replace("consumer_group: im_server", "consumer_group: other"))
    code, out, _ = run(capsys, "config", "diff", str(other), "--against", str(example))
    assert code == 1 and "mq.consumer_group" in out and "!!" in out
    code, out, _ = run(capsys, "config", "diff", str(example), "--json")
    assert code == 0 and json.loads(out)["differences"] == []


def test_version_check(capsys):
    code, out, _ = run(capsys, "version", "check", "--sdk", "ios:3.2.0", "--server", "5.0.1", "--json")
    data = json.loads(out)
    assert code == 1 and data["status"] == "incompatible" and data["reason"] and data["advice"]
    code, out, _ = run(capsys, "version", "check", "--sdk", "ios:4.2.0", "--server", "4.2.1")
    assert code == 0 and out.startswith("compatible")
    code, _, err = run(capsys, "version", "check", "--sdk", "ios", "--server", "4.2.1")
    assert code == 2
    bad_line(err)


def test_net_check(capsys):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    code, out, _ = run(capsys, "net", "check", f"http://127.0.0.1:{port}/", "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["phase"] == "connect"
    assert set(data["timings_ms"]) == {"dns", "connect", "tls", "ttfb", "total"}
    assert {"ok", "phase", "error", "timings_ms", "tls", "http"} <= set(data)
    code, _, err = run(capsys, "net", "check", "im.example.com/healthz")
    assert code == 2 and "no scheme" in err
    bad_line(err)


def test_bundle_collect_and_bad_input(capsys, example, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "2026-03-15.log").write_text("2026-03-15 10:00:00.000 ERROR [auth] ERR_IM_1003 bad sig password=Pw123456\n")
    out_file = tmp_path / "b.tar.gz"
    code, out, err = run(capsys, "bundle", "collect", "--since", "2026-03-15", "--until", "2026-03-16",
                         "--log-dir", str(logs), "--config", str(example), "--no-network", "--no-progress",
                         "--node-name", "n1", "-o", str(out_file))
    assert code == 0, err
    assert "bundle:" in out and "redactions:" in out
    with tarfile.open(out_file) as tar:
        names = [m.name.split("/", 1)[1] for m in tar.getmembers()]
    assert {"manifest.json", "logs/2026-03-15.log", "config/im_config.yaml"} <= set(names)
    code, _, err = run(capsys, "bundle", "collect", "--log-dir", str(tmp_path / "missing"), "-o",
                       str(tmp_path / "c.tar.gz"))
    assert code == 2
    bad_line(err)
    code, _, err = run(capsys, "bundle", "collect", "--since", "yesterday-ish", "-o", str(tmp_path / "c.tar.gz"))
    assert code == 2
    bad_line(err)


def test_bundle_upload_bad_input(capsys, tmp_path):
    code, _, err = run(capsys, "bundle", "upload", str(tmp_path / "none.tar.gz"), "--ticket", "1",
                       "--url", "http://127.0.0.1:1", "--token", "t")
    assert code == 2
    bad_line(err)


def test_diag_doctor(capsys, example, tmp_path):
    report = tmp_path / "report.md"
    code, out, err = run(capsys, "diag", "doctor", "--no-input", "--error", "ERR_IM_1301 unsupported api",
                         "--config", str(example), "--sdk", "web:3.1.0", "--server", "5.0.0",
                         "--url", "http://127.0.0.1:1/healthz", "-o", str(report))
    assert code == 1, err
    md = report.read_text()
    assert "# imdesk doctor report" in md and "## 5. Versions — PROBLEM" in md
    data = json.loads(report.with_suffix(".json").read_text())
    assert [s["status"] for s in data["steps"]][2:] == ["problem", "ok", "problem"]
    code, _, err = run(capsys, "diag", "doctor", "--no-input", "--url", "nourl")
    assert code == 2
    bad_line(err)
