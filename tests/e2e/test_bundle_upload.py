"""`imdesk bundle upload` (the diag client) against the real imdesk server (the desk's resumable
uploads): the bundle becomes an attachment of the customer's ticket, byte for byte."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile

import httpx


def _imdesk(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imdesk.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_bundle_upload_attaches_to_ticket(live_server, live_env, tmp_path):
    token = _imdesk(live_env, "token", "create", "ops@huaxin.example").stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.post(live_server + "/api/v1/tickets", headers=headers, timeout=30,
                   json={"title": "推送失败 ERR_IM_3001", "description": "iOS 推送失败，附支持包"})
    assert r.status_code == 201, r.text
    ticket_id = r.json()["id"]

    data = b"".join(f"2026-03-15 10:00:{i % 60:02d}.123 ERROR [push] ERR_IM_3001 apns rejected token "
                    f"provider=apns status=403 trace_id={i:06x}\n".encode() for i in range(30000))
    bundle = tmp_path / "bundle.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        info = tarfile.TarInfo("node-1/2026-03-15.log")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    out = _imdesk(live_env, "bundle", "upload", str(bundle), "--ticket", str(ticket_id), "--url", live_server,
                  "--token", token)
    assert out.returncode == 0, out.stderr
    detail = httpx.get(f"{live_server}/api/v1/tickets/{ticket_id}", headers=headers, timeout=30).json()
    att = [a for a in detail["attachments"] if a["filename"] == "bundle.tar.gz"]
    assert len(att) == 1 and att[0]["size"] == bundle.stat().st_size
    body = httpx.get(f"{live_server}/api/v1/attachments/{att[0]['id']}", headers=headers, timeout=30).content
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(bundle.read_bytes()).hexdigest()


def test_bundle_upload_to_another_orgs_ticket_is_refused(live_server, live_env, tmp_path):
    own = _imdesk(live_env, "token", "create", "ops@huaxin.example").stdout.strip().splitlines()[-1]
    other = _imdesk(live_env, "token", "create", "it@northwind.example").stdout.strip().splitlines()[-1]
    r = httpx.post(live_server + "/api/v1/tickets", headers={"Authorization": f"Bearer {own}"}, timeout=30,
                   json={"title": "Login fails", "description": "ERR_IM_1001 for everyone"})
    ticket_id = r.json()["id"]
    f = tmp_path / "x.log"
    f.write_text("2026-03-15 10:00:00.000 ERROR [auth] ERR_IM_1001 token expired\n", encoding="utf-8")
    out = _imdesk(live_env, "bundle", "upload", str(f), "--ticket", str(ticket_id), "--url", live_server,
                  "--token", other)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len([ln for ln in out.stderr.splitlines() if ln.strip()]) == 1
