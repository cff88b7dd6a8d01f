"""net check against servers started on 127.0.0.1 by the test itself (no other network)."""

from __future__ import annotations

import base64
import hashlib
import json
import select
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from imdesk.core.errors import BadInput
from imdesk.diag.netcheck import WS_GUID, check_tcp, check_url, hostname_matches, parse_url, proxy_for

GOOD_TOKEN = "good-token-123"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/healthz":
            self._send(200, b'{"status":"ok"}', {"Content-Type": "application/json", "X-Node": "n1"})
        elif self.path == "/v1/me":
            if self.headers.get("Authorization") == f"Bearer {GOOD_TOKEN}":
                self._send(200, b"{}")
            else:
                self._send(401, b"", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        elif self.path == "/v2/ws":
            key = self.headers.get("Sec-WebSocket-Key", "")
            accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.end_headers()
            self.close_connection = True
        elif self.path == "/down":
            self._send(503, b"backend down")
        else:
            self._send(404, b"nope")


def _serve(server):
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return server


@pytest.fixture(scope="module")
def http_server():
    server = _serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def make_cert(tmp_path, name, *, expired, san="localhost"):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, san)])
    now = datetime.now(UTC)
    start, end = (now - timedelta(days=400), now - timedelta(days=35)) if expired else (now - timedelta(days=1), now + timedelta(days=90))
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(san), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                                                   if san == "localhost" else [x509.DNSName(san)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / f"{name}.crt"
    key_file = tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file, end


def tls_server(cert_file, key_file):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    return _serve(server)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    return {
        "expired": make_cert(d, "expired", expired=True),
        "valid": make_cert(d, "valid", expired=False),
        "other": make_cert(d, "other", expired=False, san="im.other.example"),
    }


@pytest.fixture
def silent_port():
    """Accepts connections (kernel backlog) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def refused_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


NOENV: dict[str, str] = {}


def test_plain_http_with_timings_and_headers(http_server):
    r = check_url(f"http://127.0.0.1:{http_server}/healthz", env=NOENV)
    assert r.ok and r.phase is None
    assert r.http["status"] == 200 and r.http["headers"]["x-node"] == "n1"
    assert r.dns["addresses"] == ["127.0.0.1"]
    t = r.timings_ms
    assert t["tls"] is None
    assert 0 <= t["dns"] <= t["connect"] <= t["ttfb"] <= t["total"]
    json.dumps(r.to_dict())  # JSON-ready


def test_server_error_is_a_failure(http_server):
    r = check_url(f"http://127.0.0.1:{http_server}/down", env=NOENV)
    assert not r.ok and r.phase == "http" and r.kind == "server_error" and r.http["status"] == 503


def test_expired_self_signed_certificate(certs):
    cert, key, end = certs["expired"]
    server = tls_server(cert, key)
    try:
        r = check_url(f"https://localhost:{server.server_address[1]}/healthz", env=NOENV)
    finally:
        server.shutdown()
        server.server_close()
    assert not r.ok and r.phase == "tls"
    assert r.kind in ("cert_expired", "cert_self_signed")
    c = r.tls["certificate"]
    assert c["expired"] is True and c["days_left"] < 0 and c["self_signed"] is True
    assert c["not_after"][:10] == end.date().isoformat()
    assert r.causes and r.causes_zh


def test_expired_certificate_trusted_ca_says_expired(certs):
    cert, key, _ = certs["expired"]
    server = tls_server(cert, key)
    try:
        r = check_url(f"https://localhost:{server.server_address[1]}/healthz", env=NOENV, ca_file=str(cert))
    finally:
        server.shutdown()
        server.server_close()
    assert r.phase == "tls" and r.kind == "cert_expired"
    assert "expired" in r.causes[0]


def test_valid_tls_reports_version_cipher_and_hostname(certs):
    cert, key, _ = certs["valid"]
    server = tls_server(cert, key)
    try:
        r = check_url(f"https://localhost:{server.server_address[1]}/healthz", env=NOENV, ca_file=str(cert))
    finally:
        server.shutdown()
        server.server_close()
    assert r.ok, r.error
    assert r.tls["version"].startswith("TLS") and r.tls["cipher"]
    assert r.tls["certificate"]["hostname_match"] and r.tls["certificate"]["days_left"] >= 88
    assert r.tls["chain"][0]["subject"] == "localhost"
    assert r.timings_ms["tls"] >= r.timings_ms["connect"]


def test_hostname_mismatch(certs):
    cert, key, _ = certs["other"]
    server = tls_server(cert, key)
    try:
        r = check_url(f"https://localhost:{server.server_address[1]}/healthz", env=NOENV, ca_file=str(cert))
    finally:
        server.shutdown()
        server.server_close()
    assert r.phase == "tls" and r.kind == "hostname_mismatch"
    assert r.tls["certificate"]["hostname_match"] is False


def test_tls_against_plain_http_port(http_server):
    r = check_url(f"https://127.0.0.1:{http_server}/healthz", env=NOENV, timeout=2)
    assert r.phase == "tls" and r.kind in ("tls_not_tls", "tls_failed")


def test_refused_port(refused_port):
    r = check_url(f"http://127.0.0.1:{refused_port}/", env=NOENV)
    assert r.phase == "connect" and r.kind == "refused"
    assert "Nothing listens" in r.causes[0]


def test_accepts_and_never_answers(silent_port):
    r = check_url(f"http://127.0.0.1:{silent_port}/healthz", env=NOENV, timeout=0.5)
    assert r.phase == "http" and r.kind == "ttfb_timeout"
    assert r.timings_ms["connect"] is not None and r.timings_ms["ttfb"] is None
    assert r.timings_ms["total"] >= 500


def test_tls_on_silent_port_times_out_in_handshake(silent_port):
    r = check_url(f"https://127.0.0.1:{silent_port}/", env=NOENV, timeout=0.5)
    assert r.phase == "tls" and r.kind == "tls_timeout"


def test_unresolvable_name():
    r = check_url("https://im-server.invalid/healthz", env=NOENV, timeout=3)
    assert r.phase == "dns" and r.kind in ("dns_nxdomain", "dns_temporary", "dns_timeout")
    assert r.dns["addresses"] == [] and r.causes


def test_token_validation(http_server):
    ok = check_url(f"http://127.0.0.1:{http_server}/v1/me", token=GOOD_TOKEN, env=NOENV)
    assert ok.ok and ok.token["accepted"]
    header = base64.urlsafe_b64encode(b'{"alg":"HS256"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(b'{"sub":"u1","exp":1600000000}').rstrip(b"=").decode()
    bad = check_url(f"http://127.0.0.1:{http_server}/v1/me", token=f"{header}.{payload}.sig", env=NOENV)
    assert not bad.ok and bad.phase == "token" and bad.token["jwt_expired"] is True
    assert bad.token["www_authenticate"].startswith("Bearer")
    assert "ERR_IM_1001" in bad.causes[0]


def test_websocket_upgrade(http_server):
    r = check_url(f"ws://127.0.0.1:{http_server}/v2/ws", env=NOENV)
    assert r.ok and r.websocket == {"upgraded": True, "status": 101, "accept_valid": True}
    r = check_url(f"ws://127.0.0.1:{http_server}/healthz", env=NOENV)
    assert r.phase == "websocket" and r.kind == "ws_not_upgraded"


def _connect_proxy(seen):
    """A tiny CONNECT proxy on loopback; records the tunnel targets it was asked for."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)

    def pump(a, b):
        try:
            while True:
                r, _, _ = select.select([a, b], [], [], 5)
                if not r:
                    return
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def serve():
        while True:
            try:
                client, _ = lsock.accept()
            except OSError:
                return
            head = b""
            while b"\r\n\r\n" not in head:
                head += client.recv(4096)
            target = head.split(b" ")[1].decode()
            seen.append(target)
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection(("127.0.0.1", int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=pump, args=(client, upstream), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return lsock


def test_https_proxy_environment_is_honoured(certs):
    cert, key, _ = certs["valid"]
    server = tls_server(cert, key)
    seen: list[str] = []
    proxy = _connect_proxy(seen)
    port = server.server_address[1]
    try:
        env = {"HTTPS_PROXY": f"http://127.0.0.1:{proxy.getsockname()[1]}"}
        r = check_url(f"https://localhost:{port}/healthz", env=env, ca_file=str(cert))
        assert r.ok, r.error
        assert r.proxy["tunnel"] is True and seen == [f"localhost:{port}"]
        direct = check_url(f"https://localhost:{port}/healthz", env=env | {"NO_PROXY": "localhost"}, ca_file=str(cert))
        assert direct.ok and direct.proxy is None and len(seen) == 1
    finally:
        proxy.close()
        server.shutdown()
        server.server_close()


def test_proxy_for_no_proxy_rules():
    env = {"https_proxy": "http://proxy:3128", "NO_PROXY": ".corp.example,10.0.0.0/8,db:5432"}
    assert proxy_for("https", "im.corp.example", 443, env) is None
    assert proxy_for("https", "10.1.2.3", 443, env) is None
    assert proxy_for("https", "im.public.example", 443, env) == "http://proxy:3128"
    assert proxy_for("http", "im.public.example", 80, env) is None
    assert proxy_for("https", "x", 1, {"ALL_PROXY": "http://p:1", "no_proxy": "*"}) is None


def test_tcp_only(http_server, refused_port):
    assert check_tcp("127.0.0.1", http_server).ok
    assert check_tcp("127.0.0.1", refused_port).kind == "refused"


@pytest.mark.parametrize("url", ["im.example.com/healthz", "ftp://host/", "https://", "http://h:99999/"])
def test_bad_urls(url):
    with pytest.raises(BadInput):
        parse_url(url)


def test_hostname_matching():
    assert hostname_matches("a.example.com", [("DNS", "*.example.com")])
    assert not hostname_matches("a.b.example.com", [("DNS", "*.example.com")])
    assert hostname_matches("10.0.0.1", [("IP Address", "10.0.0.1")])
    assert not hostname_matches("10.0.0.1", [("DNS", "10.0.0.1.example")])
