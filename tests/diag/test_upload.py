"""bundle upload client against a loopback server that implements the upload protocol.

The server below is a test double of the (not yet built) imdesk ticket-attachment endpoint: it
speaks the documented protocol faithfully (POST/PATCH/HEAD, Upload-Offset, offset conflicts,
problem+json errors, bearer auth) and can drop a connection in the middle of a chunk."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from imdesk.core.errors import BadInput
from imdesk.diag.upload import UploadFailed, upload_bundle

TOKEN = "t0ken-for-tests"


class UploadServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.uploads: dict[str, dict] = {}
        self.drop_at: list[int] = []  # absolute offsets at which to cut the connection once each
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _problem(self, status, detail, code):
        body = json.dumps({"type": f"https://imdesk.dev/problems/{code}", "title": detail, "status": status,
                           "detail": detail, "code": code}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _auth(self):
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._drain()
            self._problem(401, "invalid token", "not_authenticated")
            return False
        return True

    def _drain(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)

    def do_POST(self):
        self.server.requests.append(("POST", self.path))
        if not self._auth():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/api/v1/uploads" or not isinstance(body.get("ticket"), int):
            return self._problem(422, "bad upload request", "validation_failed")
        if body["ticket"] == 404:
            return self._problem(404, "ticket 404 not found", "not_found")
        uid = f"u{len(self.server.uploads) + 1}"
        self.server.uploads[uid] = {"meta": body, "data": bytearray()}
        out = json.dumps({"id": uid, "offset": 0}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def _upload(self):
        uid = self.path.rsplit("/", 1)[-1]
        return self.server.uploads.get(uid)

    def do_HEAD(self):
        self.server.requests.append(("HEAD", self.path))
        if not self._auth():
            return
        up = self._upload()
        if up is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Upload-Offset", str(len(up["data"])))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PATCH(self):
        self.server.requests.append(("PATCH", self.path))
        if not self._auth():
            return
        up = self._upload()
        if up is None:
            self._drain()
            return self._problem(404, "no such upload", "not_found")
        if self.headers.get("Content-Type") != "application/offset+octet-stream":
            self._drain()
            return self._problem(415, "wrong content type", "validation_failed")
        offset = int(self.headers.get("Upload-Offset", "-1"))
        if offset != len(up["data"]):
            self._drain()
            return self._problem(409, f"offset {offset} does not match {len(up['data'])}", "conflict")
        length = int(self.headers["Content-Length"])
        drop = next((d for d in self.server.drop_at if offset < d < offset + length), None)
        if drop is not None:
            self.server.drop_at.remove(drop)
            up["data"] += self.rfile.read(drop - offset)  # keep what arrived, then the line goes dead
            self.close_connection = True
            self.connection.shutdown(2)
            return
        up["data"] += self.rfile.read(length)
        done = len(up["data"]) == up["meta"]["size"]
        if done and hashlib.sha256(up["data"]).hexdigest() != up["meta"]["sha256"]:
            return self._problem(422, "checksum mismatch", "validation_failed")
        self.send_response(204)
        self.send_header("Upload-Offset", str(len(up["data"])))
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server():
    s = UploadServer()
    t = threading.Thread(target=s.serve_forever, daemon=True)
    t.start()
    yield s
    s.shutdown()
    s.server_close()


@pytest.fixture
def bundle(tmp_path):
    p = tmp_path / "bundle.tar.gz"
    p.write_bytes(os.urandom(300_000))
    return p


def test_upload_in_chunks(server, bundle):
    seen = []
    r = upload_bundle(bundle, url=server.url, token=TOKEN, ticket=42, chunk_size=64_000, progress=seen.append)
    up = server.uploads[r.id]
    assert bytes(up["data"]) == bundle.read_bytes()
    assert up["meta"] == {"filename": "bundle.tar.gz", "size": 300_000, "sha256": r.sha256, "ticket": 42}
    assert sum(seen) == 300_000 and r.resumed_from == 0
    assert sum(1 for m, _ in server.requests if m == "PATCH") == 5
    assert not (bundle.parent / "bundle.tar.gz.upload.json").exists()


def test_connection_dropped_mid_chunk_is_resumed(server, bundle):
    server.drop_at = [100_000, 250_000]
    r = upload_bundle(bundle, url=server.url, token=TOKEN, ticket=7, chunk_size=64_000, backoff=0.01)
    assert bytes(server.uploads[r.id]["data"]) == bundle.read_bytes()
    assert r.retries == 2
    assert sum(1 for m, _ in server.requests if m == "HEAD") == 2


def test_resume_across_runs(server, bundle):
    server.drop_at = [150_000]
    with pytest.raises(UploadFailed, match="resume"):
        upload_bundle(bundle, url=server.url, token=TOKEN, ticket=7, chunk_size=64_000, retries=0)
    state = json.loads((bundle.parent / "bundle.tar.gz.upload.json").read_text())
    assert len(server.uploads[state["id"]]["data"]) == 150_000
    r = upload_bundle(bundle, url=server.url, token=TOKEN, ticket=7, chunk_size=64_000)
    assert r.id == state["id"] and r.resumed_from == 150_000 and r.sent == 150_000
    assert bytes(server.uploads[r.id]["data"]) == bundle.read_bytes()
    assert len(server.uploads) == 1


def test_problem_json_errors_are_reported(server, bundle):
    with pytest.raises(UploadFailed, match="invalid token"):
        upload_bundle(bundle, url=server.url, token="wrong", ticket=1)
    with pytest.raises(UploadFailed, match="ticket 404 not found"):
        upload_bundle(bundle, url=server.url, token=TOKEN, ticket=404)


def test_unreachable_server(bundle):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(UploadFailed, match="cannot reach"):
        upload_bundle(bundle, url=f"http://127.0.0.1:{port}", token=TOKEN, ticket=1)


@pytest.mark.parametrize("kw", [dict(url="ftp://x"), dict(ticket=0), dict(token="")])
def test_bad_input(bundle, kw):
    args = dict(url="http://127.0.0.1:1", token=TOKEN, ticket=1) | kw
    with pytest.raises(BadInput):
        upload_bundle(bundle, **args)


def test_missing_bundle(tmp_path):
    with pytest.raises(BadInput):
        upload_bundle(tmp_path / "none.tar.gz", url="http://127.0.0.1:1", token=TOKEN, ticket=1)
