"""net check reports the whole certificate chain the server presented when TLS verification fails
(like ``openssl s_client -showcerts``), naming the certificate that failed and why.

Every test starts its own loopback TLS server with a generated PKI: root CA -> intermediate CA ->
leaf (the server presents leaf + intermediate), plus expired and self-signed variants.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from imdesk.diag.netcheck import check_url, render_text

NOENV: dict[str, str] = {}
NOW = datetime.now(UTC)


@dataclass
class Cert:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


def _name(cn: str, org: str = "imdesk test") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue(cn: str, *, issuer: Cert | None = None, ca: bool = False, expired: bool = False,
          sans: tuple[str, ...] = ("localhost",)) -> Cert:
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = (NOW - timedelta(days=400), NOW - timedelta(days=20)) if expired else \
        (NOW - timedelta(days=2), NOW + timedelta(days=60 if not ca else 900))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False), critical=True)
    else:
        names: list[x509.GeneralName] = []
        for s in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(s)))
            except ValueError:
                names.append(x509.DNSName(s))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    signer = issuer.key if issuer else key
    return Cert(builder.sign(signer, hashes.SHA256()), key)


@pytest.fixture(scope="module")
def pki():
    root = issue("imdesk Test Root CA", ca=True)
    inter = issue("imdesk Test Intermediate CA", issuer=root, ca=True)
    return {
        "root": root,
        "inter": inter,
        "leaf": issue("localhost", issuer=inter),
        "expired_leaf": issue("localhost", issuer=inter, expired=True),
        "expired_inter": issue("imdesk Expired Intermediate CA", issuer=root, ca=True, expired=True),
        "self_signed": issue("localhost", expired=True, sans=("localhost", "127.0.0.1")),
    }


class TLSServer:
    """Completes TLS handshakes on 127.0.0.1 with the given chain and answers one HTTP request."""

    def __init__(self, tmp_path, chain: list[Cert]):
        cert_file = tmp_path / f"chain-{id(self)}.pem"
        key_file = tmp_path / f"key-{id(self)}.pem"
        cert_file.write_bytes(b"".join(c.pem for c in chain))
        key_file.write_bytes(chain[0].key.private_bytes(serialization.Encoding.PEM,
                                                        serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert_file, key_file)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            raw.settimeout(5)
            try:
                with self.ctx.wrap_socket(raw, server_side=True) as conn:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            except (OSError, ssl.SSLError):
                raw.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve(tmp_path):
    servers: list[TLSServer] = []

    def start(*chain: Cert) -> int:
        s = TLSServer(tmp_path, list(chain))
        servers.append(s)
        return s.port

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def root_file(tmp_path, pki):
    path = tmp_path / "root.pem"
    path.write_bytes(pki["root"].pem)
    return str(path)


def _failed(chain):
    return [c["index"] for c in chain if c["failed"]]


def test_unknown_authority_reports_every_presented_certificate(pki, serve):
    port = serve(pki["leaf"], pki["inter"])
    r = check_url(f"https://localhost:{port}/", env=NOENV, timeout=5)
    assert not r.ok and r.phase == "tls" and r.kind == "cert_untrusted"
    chain = r.tls["chain"]
    assert r.tls["chain_source"] == "presented"
    assert [c["sha256"] for c in chain] == [pki["leaf"].sha256, pki["inter"].sha256]
    assert [c["subject"] for c in chain] == ["localhost", "imdesk Test Intermediate CA"]
    assert [c["issuer"] for c in chain] == ["imdesk Test Intermediate CA", "imdesk Test Root CA"]
    assert chain[1]["subject_dn"] == "CN=imdesk Test Intermediate CA,O=imdesk test"
    assert chain[0]["issuer_dn"] == chain[1]["subject_dn"]
    assert chain[0]["not_after"][:10] == pki["leaf"].cert.not_valid_after_utc.date().isoformat()
    assert chain[1]["not_before"][:10] == pki["inter"].cert.not_valid_before_utc.date().isoformat()
    assert chain[0]["days_left"] in (59, 60) and chain[0]["expired"] is False
    assert chain[1]["is_ca"] is True and chain[0]["is_ca"] is False
    # the intermediate is the one whose issuer (the root) is neither presented nor trusted
    assert _failed(chain) == [1]
    assert "issuer_unknown" in chain[1]["problems"] and "issuer_unknown" not in chain[0]["problems"]
    assert chain[1]["failure"] == r.tls["verify_error"]["message"]
    assert r.tls["verify_error"]["code"] == 20 and r.tls["verify_error"]["index"] == 1
    # the leaf summary still describes the leaf
    assert r.tls["certificate"]["sha256"] == pki["leaf"].sha256
    json.dumps(r.to_dict())


def test_trusted_chain_succeeds_with_the_verified_chain(pki, serve, root_file):
    port = serve(pki["leaf"], pki["inter"])
    r = check_url(f"https://localhost:{port}/", env=NOENV, ca_file=root_file, timeout=5)
    assert r.ok, r.error
    assert r.tls["chain_source"] == "verified"
    assert [c["sha256"] for c in r.tls["chain"]] == [pki["leaf"].sha256, pki["inter"].sha256, pki["root"].sha256]
    assert _failed(r.tls["chain"]) == [] and r.tls.get("verify_error") is None


def test_expired_leaf_in_a_trusted_chain_is_named(pki, serve, root_file):
    port = serve(pki["expired_leaf"], pki["inter"])
    r = check_url(f"https://localhost:{port}/", env=NOENV, ca_file=root_file, timeout=5)
    assert r.phase == "tls" and r.kind == "cert_expired"
    chain = r.tls["chain"]
    assert len(chain) == 2 and _failed(chain) == [0]
    assert chain[0]["expired"] is True and chain[0]["days_left"] < 0 and "expired" in chain[0]["problems"]
    assert chain[1]["expired"] is False and chain[1]["problems"] == []
    assert "expired" in chain[0]["failure"]


def test_expired_intermediate_is_named_not_the_leaf(pki, serve, root_file):
    leaf = issue("localhost", issuer=pki["expired_inter"])
    port = serve(leaf, pki["expired_inter"])
    r = check_url(f"https://localhost:{port}/", env=NOENV, ca_file=root_file, timeout=5)
    assert r.phase == "tls" and r.kind == "cert_expired"
    chain = r.tls["chain"]
    assert [c["sha256"] for c in chain] == [leaf.sha256, pki["expired_inter"].sha256]
    assert _failed(chain) == [1]
    assert chain[0]["expired"] is False and chain[1]["expired"] is True
    assert r.tls["verify_error"]["index"] == 1
    # the leaf summary alone would have looked healthy
    assert r.tls["certificate"]["expired"] is False


def test_hostname_mismatch_names_the_leaf_and_keeps_the_chain(pki, serve, root_file):
    port = serve(pki["leaf"], pki["inter"])
    r = check_url(f"https://127.0.0.1:{port}/", env=NOENV, ca_file=root_file, timeout=5)
    assert r.phase == "tls" and r.kind == "hostname_mismatch"
    chain = r.tls["chain"]
    assert len(chain) == 2 and _failed(chain) == [0]
    assert "hostname_mismatch" in chain[0]["problems"] and chain[0]["hostname_match"] is False
    assert "hostname_mismatch" not in chain[1]["problems"]


def test_expired_self_signed_certificate(pki, serve):
    port = serve(pki["self_signed"])
    r = check_url(f"https://localhost:{port}/", env=NOENV, timeout=5)
    assert r.phase == "tls" and r.kind in ("cert_self_signed", "cert_expired")
    chain = r.tls["chain"]
    assert len(chain) == 1 and _failed(chain) == [0]
    assert chain[0]["self_signed"] is True and chain[0]["expired"] is True
    assert {"self_signed", "expired"} <= set(chain[0]["problems"])
    assert chain[0]["sha256"] == pki["self_signed"].sha256


def test_out_of_order_and_extra_certificates_are_flagged(pki, serve):
    stranger = issue("imdesk Unrelated CA", ca=True)
    port = serve(pki["leaf"], stranger, pki["inter"])
    r = check_url(f"https://localhost:{port}/", env=NOENV, timeout=5)
    assert r.phase == "tls"
    chain = r.tls["chain"]
    assert [c["sha256"] for c in chain] == [pki["leaf"].sha256, stranger.sha256, pki["inter"].sha256]
    assert "not_in_path" in chain[1]["problems"]
    assert "not_in_path" not in chain[2]["problems"]


def test_insecure_mode_still_lists_the_presented_chain(pki, serve):
    port = serve(pki["leaf"], pki["inter"])
    r = check_url(f"https://localhost:{port}/", env=NOENV, verify=False, timeout=5)
    assert r.ok, r.error
    assert r.tls["verified"] is False and r.tls["chain_source"] == "presented"
    assert [c["sha256"] for c in r.tls["chain"]] == [pki["leaf"].sha256, pki["inter"].sha256]


def test_text_output_shows_the_chain_like_s_client(pki, serve, root_file):
    leaf = issue("localhost", issuer=pki["expired_inter"])
    port = serve(leaf, pki["expired_inter"])
    r = check_url(f"https://localhost:{port}/", env=NOENV, ca_file=root_file, timeout=5)
    text = render_text(r)
    assert "chain presented by the server (2 certificates)" in text
    assert " 0 s:CN=localhost,O=imdesk test" in text
    assert " 1 s:CN=imdesk Expired Intermediate CA,O=imdesk test" in text
    fingerprint = ":".join(f"{b:02X}" for b in bytes.fromhex(pki["expired_inter"].sha256))
    assert fingerprint in text
    lines = text.splitlines()
    failed_line = next(i for i, line in enumerate(lines) if "verification failed here" in line)
    owner = max(i for i, line in enumerate(lines[:failed_line]) if line.lstrip().startswith(("0 s:", "1 s:")))
    assert lines[owner].lstrip().startswith("1 s:")
    zh = render_text(r, lang="zh")
    assert "服务器提供的证书链" in zh and "验证在此失败" in zh


def test_tls12_failure_still_reports_version_and_cipher(pki, tmp_path):
    """TLS 1.2 forgets the negotiated version on a failed handshake; it is looked up again."""
    s = TLSServer(tmp_path, [pki["leaf"], pki["inter"]])
    s.ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        r = check_url(f"https://localhost:{s.port}/", env=NOENV, timeout=5)
    finally:
        s.close()
    assert r.phase == "tls" and r.kind == "cert_untrusted"
    assert r.tls["version"] == "TLSv1.2" and r.tls["cipher"]
    assert [c["sha256"] for c in r.tls["chain"]] == [pki["leaf"].sha256, pki["inter"].sha256]


def test_standard_library_decoder_gives_the_same_names(pki, tmp_path):
    """Without the optional `cryptography` package the certificate is decoded by the standard
    library; subject and issuer read the same."""
    from imdesk.diag.netcheck import _from_peercert, decode_der

    for cert in (pki["leaf"], pki["inter"]):
        path = tmp_path / "c.pem"
        path.write_bytes(cert.pem)
        stdlib = _from_peercert(ssl._ssl._test_decode_cert(str(path)))
        full = decode_der(cert.der)
        for key in ("subject", "issuer", "subject_dn", "issuer_dn", "not_after", "self_signed"):
            assert stdlib[key] == full[key], key


def test_chain_through_a_proxy_tunnel_comes_from_the_same_handshake(pki, serve):
    """Behind HTTPS_PROXY no second, direct connection is made: the chain is the one presented
    inside the CONNECT tunnel (the proxy sees exactly one tunnel)."""
    from tests.diag.test_netcheck import _connect_proxy

    port = serve(pki["leaf"], pki["inter"])
    seen: list[str] = []
    proxy = _connect_proxy(seen)
    try:
        env = {"HTTPS_PROXY": f"http://127.0.0.1:{proxy.getsockname()[1]}"}
        r = check_url(f"https://localhost:{port}/", env=env, timeout=5)
    finally:
        proxy.close()
    assert r.phase == "tls" and r.kind == "cert_untrusted" and r.proxy["tunnel"] is True
    assert seen == [f"localhost:{port}"]
    assert [c["sha256"] for c in r.tls["chain"]] == [pki["leaf"].sha256, pki["inter"].sha256]
    assert r.tls["verify_error"]["index"] == 1


def test_untrusted_root_sent_by_the_server_is_named(pki, serve):
    port = serve(pki["leaf"], pki["inter"], pki["root"])
    r = check_url(f"https://localhost:{port}/", env=NOENV, timeout=5)
    assert r.phase == "tls" and r.kind == "cert_self_signed"
    chain = r.tls["chain"]
    assert [c["subject"] for c in chain] == ["localhost", "imdesk Test Intermediate CA", "imdesk Test Root CA"]
    assert _failed(chain) == [2] and r.tls["verify_error"]["code"] == 19
    assert "untrusted_root" in chain[2]["problems"] and chain[2]["self_signed"] is True
    assert "self_signed" not in chain[2]["problems"]  # a self-signed root is normal; its trust is not
