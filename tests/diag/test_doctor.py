"""diag doctor: five steps, each ok / problem / skipped, one redacted report."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from imdesk.diag.config_check import example_text
from imdesk.diag.doctor import DoctorInput, redact_report, render_markdown, run_doctor


class Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def http_url():
    s = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{s.server_address[1]}/healthz"
    s.shutdown()
    s.server_close()


@pytest.fixture
def site(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "2026-03-15.log").write_text(
        "2026-03-15 09:00:00.000 INFO [gateway] - started\n"
        + "".join(f"2026-03-15 10:0{i}:00.000 ERROR [storage] ERR_IM_5003 database pool timeout pool_size=4 "
                  f"waiting=30 trace_id=a{i}\n" for i in range(6))
        + "2026-03-15 15:00:00.000 ERROR [push] ERR_IM_3001 apns rejected token provider=apns status=403\n")
    cfg = tmp_path / "im_config.yaml"
    cfg.write_text(example_text().replace("  # workers: 8", "  workers: 16").replace("pool_size: 20", "pool_size: 4")
                   .replace("dir: /var/log/im_server", f"dir: {logs}"))
    return {"logs": logs, "cfg": cfg}


AT = datetime(2026, 3, 15, 2, 3, tzinfo=UTC)  # 10:03 in Shanghai


def test_all_five_steps_with_problems(site, http_url):
    inp = DoctorInput(steps="send a message in group g1", params="user=u1", error="client shows ERR_IM_5003",
                      at=AT, window=timedelta(minutes=30), config=site["cfg"], url=http_url,
                      sdk="android:4.2.0", server="4.2.1")
    report = run_doctor(inp)
    by = {s["name"]: s for s in report["steps"]}
    assert [s["step"] for s in report["steps"]] == [1, 2, 3, 4, 5]
    assert by["reproduction"]["status"] == "ok" and by["reproduction"]["details"]["codes"][0]["code"] == "ERR_IM_5003"
    assert by["logs"]["status"] == "problem"  # log dir taken from the config's log.dir
    codes = [f["code"] for f in by["logs"]["details"]["findings"]]
    assert "ERR_IM_5003" in codes and "ERR_IM_3001" not in codes  # 15:00 is outside 10:03 ± 30m
    assert by["network"]["status"] == "ok"
    assert by["config"]["status"] == "problem"
    assert any(f["rule_id"] == "IMCFG-PERF-001" for f in by["config"]["details"]["findings"])
    assert by["versions"]["status"] == "ok"
    assert report["problems"] == [2, 4]
    md = render_markdown(report, "en")
    assert "## 4. Config — PROBLEM" in md and "IMCFG-PERF-001" in md
    zh = render_markdown(report, "zh")
    assert "## 2. 故障时间附近的日志 — 有问题" in zh


def test_steps_are_skipped_with_reasons(tmp_path):
    report = run_doctor(DoctorInput(), now=AT)
    statuses = {s["name"]: s["status"] for s in report["steps"]}
    assert statuses == {"reproduction": "skipped", "logs": "skipped", "network": "skipped", "config": "skipped",
                        "versions": "skipped"}
    assert report["problems"] == []
    assert "--sdk" in report["steps"][4]["summary"]


def test_network_failure_is_a_problem():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    report = run_doctor(DoctorInput(url=f"http://127.0.0.1:{port}/healthz"), now=AT)
    net = report["steps"][2]
    assert net["status"] == "problem" and net["details"]["result"]["kind"] == "refused"


def test_pasted_secrets_are_redacted_from_the_report():
    report = run_doctor(DoctorInput(error="login failed password=hunter2xyz token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln",
                                    steps="s"), now=AT)
    clean, text = redact_report(report, render_markdown(report))
    blob = json.dumps(clean) + text
    assert "hunter2xyz" not in blob and "eyJhbGciOiJIUzI1NiJ9" not in blob
