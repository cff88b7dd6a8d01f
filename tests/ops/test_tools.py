"""Self-service diagnostics from the portal and the API (config check, version check, log analysis)."""

from __future__ import annotations

import gzip
import io
import re

import pytest

from imdesk.diag.config_check import example_text
from tests.factories import PASSWORD, auth, make_token, make_user

BROKEN_CONFIG = """\
server:
  node_id: im-node-1
  workers: 32
  max_concurent: 80000
tls:
  enabled: false
storage:
  database:
    dsn: mysql://im:pw@db:3306/im
    pool_size: 8
  redis:
    addrs: ["redis:6379"]
mq:
  brokers: ["kafka:9092"]
auth:
  jwt_secret: changeme
"""


@pytest.fixture
def token(session):
    t = make_token(session, make_user(session, "customer"))
    session.commit()
    return t


def test_config_check_names_keys_and_lines(client, token):
    r = client.post("/api/v1/tools/config-check", json={"content": BROKEN_CONFIG}, headers=auth(token))
    assert r.status_code == 200, r.text
    body = r.json()
    by_key = {f["key"]: f for f in body["findings"]}
    assert "server.max_concurent" in by_key and "max_concurrent" in by_key["server.max_concurent"]["message"]
    assert by_key["server.max_concurent"]["line"] == 4
    assert by_key["tls.enabled"]["severity"] == "critical"
    assert any(f["key"] == "auth.jwt_secret" and f["severity"] == "critical" for f in body["findings"])
    assert any(f["key"] == "storage.database.pool_size" for f in body["findings"])
    assert body["exit_code"] == 1 and body["worst"] == "critical"
    assert "changeme" not in r.text and ":pw@" not in r.text  # secrets are never echoed


def test_official_example_is_clean_online(client, token):
    r = client.post("/api/v1/tools/config-check", json={"content": example_text()}, headers=auth(token))
    assert r.status_code == 200
    assert r.json()["exit_code"] == 0


@pytest.mark.parametrize("content", ["\x00\x01\x02binary", "server: [unclosed", "a:\n\tb: 1\n"])
def test_config_check_bad_input_is_findings_or_422(client, token, content):
    r = client.post("/api/v1/tools/config-check", json={"content": content}, headers=auth(token))
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        assert r.json()["findings"]


def test_version_check(client, token):
    r = client.post("/api/v1/tools/version-check", json={"sdk": "ios:3.9.0", "server": "5.0.1"}, headers=auth(token))
    assert r.status_code == 200 and r.json()["status"] == "incompatible"
    r = client.post("/api/v1/tools/version-check", json={"sdk": "cobol:1.0", "server": "4.2.1"}, headers=auth(token))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")


def _log(lines: int = 300) -> bytes:
    rows = []
    for i in range(lines):
        rows.append(f"2026-03-15 10:{i // 60:02d}:{i % 60:02d}.123 INFO [msg] - message delivered to=user{i} trace_id=ab{i:04x}")
        if i % 3 == 0:
            rows.append(f"2026-03-15 10:{i // 60:02d}:{i % 60:02d}.456 ERROR [storage] ERR_IM_5003 database pool "
                        f"timeout waited=5000ms pool_size=8 trace_id=cd{i:04x}")
    return ("\n".join(rows) + "\n").encode()


def test_log_analysis_upload_names_the_cause(client, token):
    data = gzip.compress(_log())
    r = client.post("/api/v1/tools/log-analysis?lang=en", files={"file": ("2026-03-15.log.gz", data)},
                    headers=auth(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert "ERR_IM_5003" in body["headline"]
    assert body["report"]["findings"][0]["code"] == "ERR_IM_5003"
    assert "/tmp" not in r.text and "imdesk-analyze" not in r.text  # no server paths leak


def test_log_analysis_bad_uploads(client, token):
    r = client.post("/api/v1/tools/log-analysis", files={"file": ("empty.log", b"")}, headers=auth(token))
    assert r.status_code == 422
    r = client.post("/api/v1/tools/log-analysis", files={"file": ("bad.gz", b"\x1f\x8b\x08\x00garbage")},
                    headers=auth(token))
    assert r.status_code < 500
    r = client.post("/api/v1/tools/log-analysis", files={"file": ("../../etc/passwd", b"\xff\xfe" * 100)},
                    headers=auth(token))
    assert r.status_code < 500


def test_log_analysis_size_cap(client, token, monkeypatch):
    from imdesk.ops import services

    monkeypatch.setattr(services, "MAX_LOG_UPLOAD_BYTES", 1000)
    monkeypatch.setattr(services.analyze_upload, "__kwdefaults__", {**services.analyze_upload.__kwdefaults__,
                                                                     "max_bytes": 1000})
    r = client.post("/api/v1/tools/log-analysis", files={"file": ("big.log", _log())}, headers=auth(token))
    assert r.status_code == 413 and r.json()["code"] == "tool_input_too_large"


def test_tools_page_and_htmx_partials(client, session):
    cust = make_user(session, "customer", locale="zh_CN")
    session.commit()
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"email": cust.email, "password": PASSWORD, "csrf_token": csrf})
    page = client.get("/tools")
    assert page.status_code == 200 and "配置健康检查" in page.text
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text).group(1)
    r = client.post("/tools/config-check", data={"content": BROKEN_CONFIG, "csrf_token": csrf},
                    headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "<html" not in r.text and "server.max_concurent" in r.text and "严重" in r.text
    r = client.post("/tools/version-check", data={"sdk": "java:4.3.0", "server": "4.2.1", "csrf_token": csrf})
    assert r.status_code == 200 and "<html" in r.text and "兼容" in r.text
    r = client.post("/tools/log-analysis", files={"file": ("x.log", io.BytesIO(_log()))}, data={"csrf_token": csrf},
                    headers={"HX-Request": "true"})
    assert r.status_code == 200 and "ERR_IM_5003" in r.text
    r = client.post("/tools/version-check", data={"sdk": "<script>x</script>", "server": "1", "csrf_token": csrf},
                    headers={"HX-Request": "true"})
    assert r.status_code == 422 and "<script>x" not in r.text
