"""Network check of an IM server endpoint (``imdesk net check URL``), phase by phase.

Sockets and ``ssl`` are driven directly so every phase is timed like ``curl -w``:

    dns      getaddrinfo: every address, the time it took
    connect  TCP connect (to the proxy when one applies; then ``CONNECT host:port`` for TLS)
    tls      handshake: version, cipher, certificate chain, expiry, hostname match
    ttfb     request sent → first byte of the answer
    total    everything, up to the end of the (capped) body

then the HTTP status and headers, an optional Bearer-token validation and, for ``ws://`` /
``wss://``, the WebSocket upgrade. On failure the result names the phase that failed and the
likely causes in plain words (English and Chinese). The proxy environment (``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) is honoured.

A URL without a scheme or with an unsupported one is bad input (:class:`BadInput`).
"""

from __future__ import annotations

import base64
import concurrent.futures
import errno
import hashlib
import ipaddress
import json
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from imdesk import __version__
from imdesk.core.errors import BadInput

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
TLS_SCHEMES = {"https", "wss"}
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_BODY = 64 * 1024

# Likely causes per failure kind, in plain words.
CAUSES: dict[str, tuple[list[str], list[str]]] = {
    "dns_nxdomain": (
        ["The name does not exist: check the spelling of the host.",
         "An internal name queried from outside the company network or VPN.",
         "Wrong DNS server in /etc/resolv.conf."],
        ["域名不存在：检查主机名拼写。", "在公司内网或 VPN 之外解析内部域名。", "/etc/resolv.conf 中的 DNS 服务器配置错误。"],
    ),
    "dns_temporary": (
        ["The DNS server did not answer: DNS down or unreachable.", "No network connection on this machine."],
        ["DNS 服务器无响应：DNS 故障或不可达。", "本机没有网络连接。"],
    ),
    "dns_timeout": (
        ["Name resolution took too long: slow or unreachable DNS server."],
        ["域名解析超时：DNS 服务器慢或不可达。"],
    ),
    "refused": (
        ["Nothing listens on that port: the service is stopped or listens on another port.",
         "A firewall actively rejects the connection.", "Wrong port in the URL (e.g. 443 vs 8443)."],
        ["该端口没有服务在监听：服务未启动或监听在其他端口。", "防火墙主动拒绝了连接。", "URL 中的端口错误（例如 443 与 8443）。"],
    ),
    "connect_timeout": (
        ["A firewall silently drops the packets (security group, iptables DROP).",
         "Wrong IP address or no route to the host.", "The host is down."],
        ["防火墙静默丢弃数据包（安全组、iptables DROP）。", "IP 地址错误或没有到主机的路由。", "主机已宕机。"],
    ),
    "unreachable": (
        ["No route to the host or network: routing, VPN or firewall problem."],
        ["没有到该主机或网络的路由：路由、VPN 或防火墙问题。"],
    ),
    "proxy_refused": (
        ["The proxy refused the tunnel (CONNECT): the target is not allowed by the proxy, or proxy authentication is needed.",
         "Set NO_PROXY for internal hosts that must be reached directly."],
        ["代理拒绝建立隧道（CONNECT）：代理不允许访问目标，或需要代理认证。", "对需要直连的内网主机设置 NO_PROXY。"],
    ),
    "cert_expired": (
        ["A certificate the server presents has expired (the chain shows which one): renew it, install the renewed "
         "chain and restart the server (ERR_IM_1201)."],
        ["服务器提供的证书已过期（证书链中标出了是哪一个）：续期证书，安装新的证书链并重启服务（ERR_IM_1201）。"],
    ),
    "cert_not_yet_valid": (
        ["The certificate is not valid yet: the clock of this machine or of the server is wrong (check NTP)."],
        ["证书尚未生效：本机或服务器的时钟错误（检查 NTP）。"],
    ),
    "cert_self_signed": (
        ["The certificate is self-signed or signed by a private CA this machine does not trust.",
         "Install the company CA on the clients, or use a certificate from a public CA."],
        ["证书为自签名，或由本机不信任的私有 CA 签发。", "在客户端安装企业 CA 证书，或使用公共 CA 签发的证书。"],
    ),
    "cert_untrusted": (
        ["The certificate chain is incomplete or its CA is not trusted: serve the intermediate certificates too."],
        ["证书链不完整或 CA 不受信任：服务器需同时提供中间证书。"],
    ),
    "hostname_mismatch": (
        ["The certificate is for another name: the host in the URL is not in its subjectAltName.",
         "Connect with the name the certificate was issued for, or reissue it with this name."],
        ["证书签发给了其他域名：URL 中的主机名不在证书的 subjectAltName 中。", "使用证书对应的域名访问，或用该域名重新签发证书。"],
    ),
    "tls_not_tls": (
        ["The port speaks plain HTTP, not TLS: use http:// or the TLS port."],
        ["该端口是明文 HTTP 而非 TLS：改用 http:// 或 TLS 端口。"],
    ),
    "tls_protocol": (
        ["Client and server share no TLS version or cipher: check tls.min_version and old clients."],
        ["客户端与服务器没有共同的 TLS 版本或加密套件：检查 tls.min_version 与旧客户端。"],
    ),
    "tls_timeout": (
        ["The handshake did not complete: the port may not speak TLS, or a middlebox blocks it."],
        ["TLS 握手未完成：该端口可能不是 TLS，或被中间设备拦截。"],
    ),
    "tls_failed": (
        ["The TLS handshake failed: see the error; compare with `openssl s_client -connect host:port`."],
        ["TLS 握手失败：查看错误信息，并用 `openssl s_client -connect host:port` 对比。"],
    ),
    "ttfb_timeout": (
        ["The server accepted the connection but never answered: overloaded, hung, or a wrong protocol (TLS port hit with http://).",
         "A load balancer or proxy holds the connection without a backend."],
        ["服务器接受了连接但始终不响应：过载、卡死，或协议不符（用 http:// 访问 TLS 端口）。", "负载均衡或代理持有连接但没有可用后端。"],
    ),
    "connection_closed": (
        ["The server closed the connection without an answer: crash, wrong protocol, or a proxy reset."],
        ["服务器未响应就关闭了连接：进程崩溃、协议不符或被代理重置。"],
    ),
    "not_http": (
        ["The answer is not HTTP: another service listens on this port."],
        ["响应不是 HTTP：该端口上运行的是其他服务。"],
    ),
    "server_error": (
        ["The server (or a load balancer in front of it) answered with a 5xx error: backend down or overloaded; check the server log."],
        ["服务器（或其前端的负载均衡）返回 5xx 错误：后端故障或过载；请查看服务器日志。"],
    ),
    "token_rejected": (
        ["The token was rejected: expired (ERR_IM_1001), signed with another auth.jwt_secret (ERR_IM_1003), or lacking the scope (ERR_IM_1002)."],
        ["令牌被拒绝：已过期（ERR_IM_1001）、由不同的 auth.jwt_secret 签名（ERR_IM_1003），或缺少权限（ERR_IM_1002）。"],
    ),
    "ws_not_upgraded": (
        ["The WebSocket upgrade was refused: a proxy or load balancer does not forward `Upgrade`/`Connection` headers, or the path is wrong (/v2/ws)."],
        ["WebSocket 升级被拒绝：代理或负载均衡未转发 `Upgrade`/`Connection` 头，或路径错误（/v2/ws）。"],
    ),
    "io_error": (
        ["The connection broke during the exchange: network reset or the server crashed."],
        ["交互过程中连接中断：网络重置或服务器崩溃。"],
    ),
}


@dataclass
class NetResult:
    url: str
    ok: bool = False
    phase: str | None = None
    error: str | None = None
    kind: str | None = None
    causes: list[str] = field(default_factory=list)
    causes_zh: list[str] = field(default_factory=list)
    dns: dict[str, Any] = field(default_factory=dict)
    connect: dict[str, Any] = field(default_factory=dict)
    proxy: dict[str, Any] | None = None
    timings_ms: dict[str, float | None] = field(default_factory=dict)
    tls: dict[str, Any] | None = None
    http: dict[str, Any] | None = None
    token: dict[str, Any] | None = None
    websocket: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fail(self, phase: str, kind: str, error: str) -> NetResult:
        self.ok = False
        self.phase = phase
        self.kind = kind
        self.error = error
        en, zh = CAUSES.get(kind, ([], []))
        self.causes, self.causes_zh = list(en), list(zh)
        return self


class _Timer:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def ms(self) -> float:
        return round((time.perf_counter() - self.t0) * 1000, 2)


def parse_url(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path_and_query)``; :class:`BadInput` for unusable URLs."""
    if not isinstance(url, str) or "://" not in url:
        raise BadInput(f"URL {url!r} has no scheme: write it as https://host[:port]/path")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BadInput(f"invalid URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise BadInput(f"unsupported URL scheme {scheme!r} in {url!r}: use http, https, ws or wss")
    if not parts.hostname:
        raise BadInput(f"URL {url!r} has no host")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme], path


def proxy_for(scheme: str, host: str, port: int, env: Mapping[str, str]) -> str | None:
    """The proxy URL the environment asks for, honouring NO_PROXY (suffixes, ``*``, host:port)."""

    def get(name: str) -> str | None:
        return env.get(name.lower()) or env.get(name.upper())

    no_proxy = get("no_proxy") or ""
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return None
        ehost, _, eport = entry.partition(":") if entry.count(":") == 1 else (entry, "", "")
        if eport and eport != str(port):
            continue
        ehost = ehost.lstrip(".")
        h = host.lower()
        if h == ehost or h.endswith("." + ehost):
            return None
        try:
            if ipaddress.ip_address(h) in ipaddress.ip_network(ehost, strict=False):
                return None
        except ValueError:
            pass
    key = "https_proxy" if scheme in TLS_SCHEMES else "http_proxy"
    return get(key) or get("all_proxy") or None


def _resolve(host: str, port: int, timeout: float) -> list[tuple[Any, ...]]:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        return future.result(timeout=timeout)
    finally:
        pool.shutdown(wait=False)


def _dns_kind(exc: BaseException) -> str:
    if isinstance(exc, concurrent.futures.TimeoutError):
        return "dns_timeout"
    if isinstance(exc, socket.gaierror) and exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_FAIL", -4)):
        return "dns_temporary"
    return "dns_nxdomain"


def _connect_kind(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "connect_timeout"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreachable"
    return "refused" if isinstance(exc, ConnectionError) else "unreachable"


def decode_der(der: bytes) -> dict[str, Any]:
    """Subject, issuer, SANs and validity of a DER certificate (cryptography when installed,
    else the standard library's decoder)."""
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        cert = x509.load_der_x509_certificate(der)

        def cn(name: Any) -> str:
            attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
            return str(attrs[0].value) if attrs else name.rfc4514_string()

        try:
            ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            sans = [("DNS", n) for n in ext.get_values_for_type(x509.DNSName)]
            sans += [("IP Address", str(n)) for n in ext.get_values_for_type(x509.IPAddress)]
        except x509.ExtensionNotFound:
            sans = []
        try:
            is_ca: bool | None = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        return {
            "subject": cn(cert.subject),
            "issuer": cn(cert.issuer),
            "subject_dn": cert.subject.rfc4514_string(),
            "issuer_dn": cert.issuer.rfc4514_string(),
            "san": sans,
            "not_before": cert.not_valid_before_utc,
            "not_after": cert.not_valid_after_utc,
            "self_signed": cert.subject == cert.issuer,
            "is_ca": is_ca,
        }
    except ImportError:
        pass
    pem = ssl.DER_cert_to_PEM_cert(der)
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as fh:
        fh.write(pem)
        name = fh.name
    try:
        info = ssl._ssl._test_decode_cert(name)  # type: ignore[attr-defined]
    finally:
        os.unlink(name)
    return _from_peercert(info)


def _from_peercert(info: dict[str, Any]) -> dict[str, Any]:
    def cn(rdns: Any) -> str:
        for rdn in rdns or ():
            for k, v in rdn:
                if k == "commonName":
                    return v
        return ", ".join(f"{k}={v}" for rdn in rdns or () for k, v in rdn)

    def when(text: str | None) -> datetime | None:
        return datetime.fromtimestamp(ssl.cert_time_to_seconds(text), UTC) if text else None

    def dn(rdns: Any) -> str:
        # RFC 4514 order: the last RDN first, like cryptography's rfc4514_string()
        return ",".join("+".join(f"{_DN_SHORT.get(k, k)}={v}" for k, v in rdn) for rdn in reversed(rdns or ()))

    subject, issuer = cn(info.get("subject")), cn(info.get("issuer"))
    return {
        "subject": subject,
        "issuer": issuer,
        "subject_dn": dn(info.get("subject")),
        "issuer_dn": dn(info.get("issuer")),
        "san": [tuple(x) for x in info.get("subjectAltName", ())],
        "not_before": when(info.get("notBefore")),
        "not_after": when(info.get("notAfter")),
        "self_signed": info.get("subject") == info.get("issuer"),
        "is_ca": None,  # the standard library's decoder does not expose basicConstraints
    }


_DN_SHORT = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C",
             "localityName": "L", "stateOrProvinceName": "ST", "domainComponent": "DC", "userId": "UID",
             "streetAddress": "STREET", "emailAddress": "E"}


def hostname_matches(host: str, sans: list[tuple[str, str]], subject_cn: str | None = None) -> bool:
    host = host.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    names = [v for k, v in sans if k == "DNS"] or ([subject_cn] if subject_cn and not sans else [])
    if ip is not None:
        return any(k == "IP Address" and ipaddress.ip_address(v.strip()) == ip for k, v in sans)
    for name in names:
        name = name.lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _cert_summary(host: str, der: bytes | None, now: datetime) -> dict[str, Any]:
    if not der:
        return {}
    info = decode_der(der)
    not_after = info.get("not_after")
    not_before = info.get("not_before")
    return {
        "subject": info.get("subject"),
        "issuer": info.get("issuer"),
        "subject_dn": info.get("subject_dn"),
        "issuer_dn": info.get("issuer_dn"),
        "san": [f"{k}:{v}" for k, v in info.get("san", [])],
        "not_before": not_before.isoformat() if not_before else None,
        "not_after": not_after.isoformat() if not_after else None,
        "days_left": (not_after - now).days if not_after else None,
        "expired": bool(not_after and not_after < now),
        "not_yet_valid": bool(not_before and not_before > now),
        "self_signed": info.get("self_signed"),
        "is_ca": info.get("is_ca"),
        "hostname_match": hostname_matches(host, info.get("san", []), info.get("subject")),
        "sha256": hashlib.sha256(der).hexdigest(),
    }


def _chain_der(conn: ssl.SSLSocket, which: str) -> list[bytes] | None:
    """DER certificates of ``which`` chain (``verified`` or ``unverified``, leaf first): the public
    API on Python 3.13+, the ``_sslobj`` methods that back it on 3.10-3.12. The unverified chain is
    what the server presented, and stays readable after a handshake that failed verification.
    None when this Python exposes neither."""
    name = f"get_{which}_chain"
    getter = getattr(conn, name, None)
    if getter is None:
        getter = getattr(getattr(conn, "_sslobj", None), name, None)
    if getter is None:
        return None
    try:
        certs = getter() or []
        return [c if isinstance(c, bytes) else c.public_bytes(getattr(ssl._ssl, "ENCODING_DER", 2))  # type: ignore[attr-defined]
                for c in certs]
    except (ValueError, AttributeError, TypeError, ssl.SSLError):
        return None


# OpenSSL verify codes (X509_V_ERR_*) -> which certificate of the chain they are about.
_AT_LEAF = {18, 21, 62, 64}          # depth-zero self-signed, leaf signature, host / IP mismatch
_AT_TIME = {9: "not_yet_valid", 10: "expired"}
_AT_ISSUER_MISSING = {2, 20}         # unable to get (local) issuer certificate
_AT_SELF_SIGNED = {19}               # self-signed certificate in chain

# Plain words for the per-certificate problems (en, zh).
CHAIN_PROBLEMS: dict[str, tuple[str, str]] = {
    "expired": ("expired", "已过期"),
    "not_yet_valid": ("not valid yet", "尚未生效"),
    "self_signed": ("self-signed server certificate (trusted only if this exact certificate is in the trust store)",
                    "自签名的服务器证书（只有该证书本身在信任库中时才受信任）"),
    "issuer_unknown": ("its issuer was not sent by the server and is not in the trust store (missing intermediate "
                       "or private CA)", "服务器未提供其签发者证书，且信任库中也没有（缺少中间证书或为私有 CA）"),
    "untrusted_root": ("a self-signed root that is not in the trust store", "不在信任库中的自签名根证书"),
    "hostname_mismatch": ("issued for another name than the host in the URL", "签发的域名与 URL 中的主机名不符"),
    "not_in_path": ("not part of the leaf's chain (extra or out of order)", "不属于服务器证书的签发链（多余或顺序错误）"),
}


def describe_chain(host: str, ders: list[bytes], now: datetime, *, verify_code: int | None = None,
                   verify_message: str | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Every certificate of ``ders`` (leaf first) as in ``openssl s_client -showcerts``: subject,
    issuer, validity, SHA-256 fingerprint, its problems, and which one the verification error is
    about. Returns ``(entries, failed_index)``; the index is None when the error concerns no
    presented certificate (e.g. an expired root in the local trust store)."""
    entries = []
    for i, der in enumerate(ders):
        entry = {"index": i, **_cert_summary(host, der, now)}
        if i:
            entry.pop("hostname_match", None)
        entries.append(entry)
    # the issuing path from the leaf through the presented certificates (by subject/issuer name)
    path = [0] if entries else []
    while path:
        cur = entries[path[-1]]
        if cur["self_signed"]:
            break
        nxt = next((e["index"] for e in entries if e["index"] not in path and e["subject_dn"] == cur["issuer_dn"]),
                   None)
        if nxt is None:
            break
        path.append(nxt)
    failed = _failed_index(entries, path, verify_code) if verify_code is not None else None
    for e in entries:
        problems = [p for p in ("expired", "not_yet_valid") if e.get(p)]
        if e["index"] == 0 and e["self_signed"]:
            problems.append("self_signed")
        if e["index"] == 0 and e.get("hostname_match") is False:
            problems.append("hostname_mismatch")
        if e["index"] not in path:
            problems.append("not_in_path")
        if e["index"] == failed and verify_code in _AT_ISSUER_MISSING:
            problems.append("issuer_unknown")
        if e["index"] == failed and verify_code in _AT_SELF_SIGNED:
            problems.append("untrusted_root")
        e["problems"] = problems
        e["failed"] = e["index"] == failed
        e["failure"] = verify_message if e["failed"] else None
    return entries, failed


def _failed_index(entries: list[dict[str, Any]], path: list[int], code: int) -> int | None:
    """The presented certificate OpenSSL's verify error ``code`` is about. OpenSSL builds the
    chain from the leaf up (a missing or self-signed issuer is reported at the top of the path),
    then checks validity dates from the top down (the first out-of-date certificate from the
    top is reported)."""
    if not entries:
        return None
    if code in _AT_LEAF:
        return 0
    if code in _AT_ISSUER_MISSING:
        return path[-1] if path else 0
    if code in _AT_SELF_SIGNED:
        return next((i for i in reversed(path) if entries[i]["self_signed"]), path[-1] if path else 0)
    if code in _AT_TIME:
        return next((i for i in reversed(path) if entries[i].get(_AT_TIME[code])), None)
    return None


def _tls_kind(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        msg = (getattr(exc, "verify_message", "") or str(exc)).lower()
        if code == 10 or "expired" in msg:
            return "cert_expired"
        if code == 9 or "not yet valid" in msg:
            return "cert_not_yet_valid"
        if code in (18, 19) or "self-signed" in msg or "self signed" in msg:
            return "cert_self_signed"
        if code == 62 or "hostname" in msg or "ip address mismatch" in msg:
            return "hostname_mismatch"
        return "cert_untrusted"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "tls_timeout"
    text = str(exc).upper()
    if "WRONG_VERSION_NUMBER" in text or "RECORD_LAYER_FAILURE" in text or "PACKET_LENGTH_TOO_LONG" in text:
        return "tls_not_tls"
    if "PROTOCOL_VERSION" in text or "UNSUPPORTED_PROTOCOL" in text or "NO_PROTOCOLS" in text or "HANDSHAKE_FAILURE" in text:
        return "tls_protocol"
    return "tls_failed"


def _recv_headers(sock: socket.socket, timer: _Timer, result: NetResult) -> tuple[bytes, bytes] | None:
    """Read until the end of the headers; returns (head, rest). Records ttfb."""
    buf = b""
    first = True
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(16384)
        if first:
            result.timings_ms["ttfb"] = timer.ms()
            first = False
        if not chunk:
            return (buf, b"") if buf else None
        buf += chunk
        if len(buf) > 256 * 1024:
            break
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def _parse_head(head: bytes) -> tuple[str, int, str, dict[str, str]] | None:
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            k = k.strip().lower()
            headers[k] = f"{headers[k]}, {v.strip()}" if k in headers else v.strip()
    return parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", headers


def _jwt_expiry(token: str) -> datetime | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = payload.get("exp")
        return datetime.fromtimestamp(float(exp), UTC) if exp is not None else None
    except (ValueError, TypeError, AttributeError, OverflowError, OSError):
        return None


def check_url(
    url: str,
    *,
    token: str | None = None,
    timeout: float = 5.0,
    verify: bool = True,
    ca_file: str | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> NetResult:
    """Run every phase against ``url`` and return what happened (never raises for network
    failures; :class:`BadInput` for an unusable URL)."""
    timer = _Timer()
    result = _check_url(url, token=token, timeout=timeout, verify=verify, ca_file=ca_file, env=env, now=now,
                        timer=timer)
    if result.timings_ms.get("total") is None:
        result.timings_ms["total"] = timer.ms()
    return result


def _check_url(url: str, *, token: str | None, timeout: float, verify: bool, ca_file: str | None,
               env: Mapping[str, str] | None, now: datetime | None, timer: _Timer) -> NetResult:
    scheme, host, port, path = parse_url(url)
    env = os.environ if env is None else env
    now = now or datetime.now(UTC)
    result = NetResult(url=url)
    result.timings_ms = {"dns": None, "connect": None, "tls": None, "ttfb": None, "total": None}
    proxy_url = proxy_for(scheme, host, port, env)
    target_host, target_port = host, port
    if proxy_url:
        try:
            _, phost, pport, _ = parse_url(proxy_url if "://" in proxy_url else "http://" + proxy_url)
        except BadInput:
            return result.fail("proxy", "proxy_refused", f"unusable proxy setting {proxy_url!r}")
        result.proxy = {"url": f"http://{phost}:{pport}", "for": f"{host}:{port}"}
        target_host, target_port = phost, pport

    # DNS
    try:
        infos = _resolve(target_host, target_port, timeout)
    except (OSError, concurrent.futures.TimeoutError) as exc:
        result.timings_ms["dns"] = timer.ms()
        msg = "timed out" if isinstance(exc, concurrent.futures.TimeoutError) else str(exc)
        result.dns = {"host": target_host, "addresses": [], "ms": result.timings_ms["dns"]}
        return result.fail("dns", _dns_kind(exc), f"cannot resolve {target_host}: {msg}")
    result.timings_ms["dns"] = timer.ms()
    addresses: list[str] = []
    for info in infos:
        if info[4][0] not in addresses:
            addresses.append(info[4][0])
    result.dns = {"host": target_host, "addresses": addresses, "ms": result.timings_ms["dns"]}

    # TCP connect (each address in turn)
    sock: socket.socket | None = None
    attempts = []
    last_exc: BaseException | None = None
    for family, stype, proto, _, addr in infos:
        s = socket.socket(family, stype, proto)
        s.settimeout(timeout)
        try:
            s.connect(addr)
            sock = s
            attempts.append({"address": addr[0], "ok": True})
            break
        except OSError as exc:
            s.close()
            last_exc = exc
            attempts.append({"address": addr[0], "ok": False, "error": str(exc) or type(exc).__name__})
    result.timings_ms["connect"] = timer.ms()
    result.connect = {"port": target_port, "attempts": attempts}
    if sock is None:
        assert last_exc is not None
        text = "timed out" if isinstance(last_exc, (socket.timeout, TimeoutError)) else (str(last_exc) or "failed")
        return result.fail("connect", _connect_kind(last_exc), f"cannot connect to {target_host}:{target_port}: {text}")

    try:
        return _after_connect(sock, result, timer, scheme, host, port, path, token, timeout, verify,
                              ca_file, now, proxied=bool(proxy_url))
    finally:
        sock.close()


def _after_connect(sock: socket.socket, result: NetResult, timer: _Timer, scheme: str, host: str, port: int,
                   path: str, token: str | None, timeout: float, verify: bool, ca_file: str | None,
                   now: datetime, *, proxied: bool) -> NetResult:
    host_header = host if port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if port == DEFAULT_PORTS[scheme] else f"[{host}]:{port}"
    tls = scheme in TLS_SCHEMES
    conn: socket.socket = sock
    try:
        if proxied and tls or proxied and scheme == "ws":
            conn.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            got = _recv_headers(conn, _Timer(), NetResult(url=""))
            parsed = _parse_head(got[0]) if got else None
            if not parsed or parsed[1] != 200:
                status = parsed[1] if parsed else "no answer"
                return result.fail("proxy", "proxy_refused", f"proxy answered CONNECT with {status}")
            result.proxy = (result.proxy or {}) | {"tunnel": True}
        if tls:
            ctx = ssl.create_default_context(cafile=ca_file)
            if not verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            conn = ctx.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
            assert isinstance(conn, ssl.SSLSocket)
            try:
                conn.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                result.timings_ms["tls"] = timer.ms()
                kind = _tls_kind(exc)
                verify_msg = getattr(exc, "verify_message", None)
                result.tls = {"verified": False, "error": verify_msg or str(exc)}
                if isinstance(exc, ssl.SSLCertVerificationError):
                    result.tls.update(_failed_verification(conn, exc, host, port, result, timeout, now))
                text = "timed out" if kind == "tls_timeout" else (verify_msg or str(exc))
                result.fail("tls", kind, f"TLS handshake with {host}:{port} failed: {text}")
                _name_failed_certificate(result)
                return result
            result.timings_ms["tls"] = timer.ms()
            der = conn.getpeercert(binary_form=True)
            cert = _cert_summary(host, der, now)
            source = "verified" if verify else "presented"
            ders = _chain_der(conn, "verified" if verify else "unverified") or ([der] if der else [])
            chain, _ = describe_chain(host, ders, now)
            cipher = conn.cipher()
            result.tls = {
                "verified": verify,
                "version": conn.version(),
                "cipher": cipher[0] if cipher else None,
                "certificate": cert,
                "chain_source": source,
                "chain": chain,
            }

        # HTTP request (or WebSocket upgrade)
        target = path if not (result.proxy and not tls and scheme == "http") else f"http://{host_header}{path}"
        lines = [f"GET {target} HTTP/1.1", f"Host: {host_header}", f"User-Agent: imdesk-netcheck/{__version__}",
                 "Accept: */*"]
        ws_key = None
        if scheme in ("ws", "wss"):
            ws_key = base64.b64encode(os.urandom(16)).decode()
            lines += ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
                      f"Sec-WebSocket-Key: {ws_key}"]
        else:
            lines.append("Connection: close")
        if token:
            lines.append(f"Authorization: Bearer {token}")
        conn.settimeout(timeout)
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        try:
            got = _recv_headers(conn, timer, result)
        except TimeoutError:
            result.timings_ms["total"] = timer.ms()
            return result.fail("http", "ttfb_timeout",
                               f"no answer from {host}:{port} within {timeout:g}s after the request was sent")
        if got is None:
            result.timings_ms["total"] = timer.ms()
            return result.fail("http", "connection_closed", f"{host}:{port} closed the connection without an answer")
        parsed = _parse_head(got[0])
        if parsed is None:
            result.timings_ms["total"] = timer.ms()
            return result.fail("http", "not_http", f"{host}:{port} answered something that is not HTTP: "
                                                   f"{got[0][:40]!r}")
        http_version, status, reason, headers = parsed
        body = got[1]
        if ws_key is None:
            body = _read_body(conn, body, headers)
        result.timings_ms["total"] = timer.ms()
        result.http = {"status": status, "reason": reason, "version": http_version, "headers": headers,
                       "body_bytes": len(body)}
        if token:
            exp = _jwt_expiry(token)
            result.token = {"sent": True, "accepted": status not in (401, 403),
                            "jwt_expires": exp.isoformat() if exp else None,
                            "jwt_expired": bool(exp and exp < now),
                            "www_authenticate": headers.get("www-authenticate")}
            if status in (401, 403):
                extra = " (the JWT's exp is in the past)" if result.token["jwt_expired"] else ""
                return result.fail("token", "token_rejected", f"the server answered {status} {reason} to the token{extra}")
        if ws_key is not None:
            expected = base64.b64encode(hashlib.sha1((ws_key + WS_GUID).encode()).digest()).decode()
            accept = headers.get("sec-websocket-accept")
            upgraded = status == 101 and accept == expected
            result.websocket = {"upgraded": upgraded, "status": status, "accept_valid": accept == expected}
            if not upgraded:
                why = f"status {status}" if status != 101 else "wrong Sec-WebSocket-Accept"
                return result.fail("websocket", "ws_not_upgraded", f"WebSocket upgrade refused ({why})")
        if status >= 500:
            return result.fail("http", "server_error", f"the server answered {status} {reason}")
        result.ok = True
        return result
    except (ssl.SSLError, OSError) as exc:
        result.timings_ms["total"] = timer.ms()
        return result.fail(result.phase or "http", "io_error", f"connection error: {exc}")
    finally:
        if conn is not sock:
            conn.close()


def _read_body(conn: socket.socket, body: bytes, headers: dict[str, str]) -> bytes:
    length = headers.get("content-length")
    want = int(length) if length and length.isdigit() else None
    try:
        while len(body) < MAX_BODY and (want is None or len(body) < want):
            chunk = conn.recv(16384)
            if not chunk:
                break
            body += chunk
    except (TimeoutError, OSError):
        pass
    return body[:MAX_BODY]


def _failed_verification(conn: ssl.SSLSocket, exc: ssl.SSLCertVerificationError, host: str, port: int,
                         result: NetResult, timeout: float, now: datetime) -> dict[str, Any]:
    """What the server presented in the handshake that failed verification: the whole chain (read
    from the same connection, so it is also right through a proxy tunnel), the certificate the
    error is about and why; the negotiated version and cipher when still known."""
    code = getattr(exc, "verify_code", None)
    message = getattr(exc, "verify_message", None) or str(exc)
    ders = _chain_der(conn, "unverified")
    cipher = conn.cipher()
    out: dict[str, Any] = {"version": cipher[1] if cipher else None, "cipher": cipher[0] if cipher else None}
    if not ders or not out["version"]:
        # Python without the unverified-chain accessor, or TLS 1.2 (which forgets the version on
        # a failed handshake): a second handshake without verification tells the rest.
        peek = _peek_unverified(host, port, result, timeout)
        ders = ders or peek.get("ders") or []
        out["version"] = out["version"] or peek.get("version")
        out["cipher"] = out["cipher"] or peek.get("cipher")
    chain, failed = describe_chain(host, ders, now, verify_code=code, verify_message=message)
    out.update({
        "certificate": {k: v for k, v in chain[0].items() if k not in ("index", "problems", "failed", "failure")}
        if chain else {},
        "chain_source": "presented",
        "chain": chain,
        "verify_error": {"code": code, "message": message, "index": failed},
    })
    return out


def _name_failed_certificate(result: NetResult) -> None:
    """Put the certificate the verification failed on first among the causes."""
    tls = result.tls or {}
    index = (tls.get("verify_error") or {}).get("index")
    if index is None or not tls.get("chain"):
        return
    cert = tls["chain"][index]
    role_en, role_zh = ("the server certificate", "服务器证书") if index == 0 else \
        ("an intermediate/CA certificate", "中间/CA 证书")
    message = tls["verify_error"].get("message")
    result.causes.insert(0, f"Certificate {index} of the chain the server presented ({role_en}, "
                            f"{cert.get('subject_dn') or cert.get('subject')}) fails verification: {message}.")
    result.causes_zh.insert(0, f"服务器提供的证书链中第 {index} 个证书（{role_zh}，"
                               f"{cert.get('subject_dn') or cert.get('subject')}）验证失败：{message}。")


def _peek_unverified(host: str, port: int, result: NetResult, timeout: float) -> dict[str, Any]:
    """A handshake without verification, directly to the server (not possible through a proxy
    tunnel): version, cipher and the presented chain."""
    if result.proxy:
        return {}
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    address = (result.dns.get("addresses") or [host])[0]
    try:
        with socket.create_connection((address, port), timeout=timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=host) as s:
            cipher = s.cipher()
            leaf = s.getpeercert(binary_form=True)
            return {"version": s.version(), "cipher": cipher[0] if cipher else None,
                    "ders": _chain_der(s, "unverified") or ([leaf] if leaf else [])}
    except (OSError, ssl.SSLError, ValueError):
        return {}


def check_tcp(host: str, port: int, *, timeout: float = 3.0) -> NetResult:
    """DNS + TCP connect only (databases, Redis, brokers)."""
    result = NetResult(url=f"tcp://{host}:{port}")
    result.timings_ms = {"dns": None, "connect": None, "tls": None, "ttfb": None, "total": None}
    timer = _Timer()
    try:
        infos = _resolve(host, port, timeout)
    except (OSError, concurrent.futures.TimeoutError) as exc:
        result.timings_ms["dns"] = timer.ms()
        return result.fail("dns", _dns_kind(exc), f"cannot resolve {host}: {exc or 'timed out'}")
    result.timings_ms["dns"] = timer.ms()
    result.dns = {"host": host, "addresses": list(dict.fromkeys(i[4][0] for i in infos)), "ms": result.timings_ms["dns"]}
    last: BaseException | None = None
    for family, stype, proto, _, addr in infos:
        with socket.socket(family, stype, proto) as s:
            s.settimeout(timeout)
            try:
                s.connect(addr)
                result.timings_ms["connect"] = result.timings_ms["total"] = timer.ms()
                result.ok = True
                return result
            except OSError as exc:
                last = exc
    result.timings_ms["connect"] = result.timings_ms["total"] = timer.ms()
    text = "timed out" if isinstance(last, (socket.timeout, TimeoutError)) else str(last)
    return result.fail("connect", _connect_kind(last or OSError()), f"cannot connect to {host}:{port}: {text}")


def _fingerprint(hexdigest: str | None) -> str:
    return ":".join(hexdigest[i:i + 2] for i in range(0, len(hexdigest), 2)).upper() if hexdigest else "-"


def _render_chain(tls: dict[str, Any], zh: bool) -> list[str]:
    """The chain like ``openssl s_client -showcerts``: index, s: subject, i: issuer, validity,
    SHA-256 fingerprint, problems, and the certificate the verification failed on."""
    chain = tls.get("chain") or []
    if not chain:
        return []
    n = len(chain)
    if tls.get("chain_source") == "verified":
        head = f"已验证的证书链（{n} 个证书）：" if zh else f"verified chain ({n} certificate{'s' if n != 1 else ''}):"
    else:
        head = f"服务器提供的证书链（{n} 个证书）：" if zh else \
            f"chain presented by the server ({n} certificate{'s' if n != 1 else ''}):"
    out = [f"  {head}"]
    for c in chain:
        days = c.get("days_left")
        if days is None:
            left = "-"
        elif days < 0:
            left = f"已过期 {-days} 天" if zh else f"expired {-days} days ago"
        else:
            left = f"剩余 {days} 天" if zh else f"{days} days left"
        out.append(f"   {c.get('index')} s:{c.get('subject_dn') or c.get('subject')}")
        out.append(f"     i:{c.get('issuer_dn') or c.get('issuer')}")
        out.append(f"     {'有效期' if zh else 'valid'} {c.get('not_before')} → {c.get('not_after')} ({left})")
        out.append(f"     sha256 {_fingerprint(c.get('sha256'))}")
        if c.get("problems"):
            words = [CHAIN_PROBLEMS.get(p, (p, p))[1 if zh else 0] for p in c["problems"]]
            out.append(f"     {'问题' if zh else 'problems'}: {'; '.join(words)}")
        if c.get("failed"):
            out.append(f"     ✗ {'验证在此失败' if zh else 'verification failed here'}: {c.get('failure')}")
    error = tls.get("verify_error")
    if error and error.get("index") is None:
        out.append("  " + (f"验证错误不涉及服务器提供的证书（例如本机信任库中的根证书）：{error.get('message')}" if zh else
                           f"the verification error concerns no presented certificate (e.g. a root of the local "
                           f"trust store): {error.get('message')}"))
    return out


def render_text(result: NetResult, *, lang: str = "en") -> str:
    zh = lang.startswith("zh")
    out = [f"{'URL' if not zh else '地址'}: {result.url}"]
    if result.proxy:
        out.append(f"proxy: {result.proxy.get('url')}")
    if result.dns:
        out.append(f"dns: {result.dns.get('host')} -> {', '.join(result.dns.get('addresses') or ['-'])}")
    t = result.timings_ms
    out.append("timings_ms: " + "  ".join(f"{k}={v if v is not None else '-'}" for k, v in t.items()))
    if result.tls:
        cert = result.tls.get("certificate") or {}
        out.append(f"tls: {result.tls.get('version') or '-'} {result.tls.get('cipher') or ''} "
                   f"verified={result.tls.get('verified')}")
        if cert:
            out.append(f"  certificate: {cert.get('subject')} issued by {cert.get('issuer')}, "
                       f"expires {cert.get('not_after')} ({cert.get('days_left')} days), "
                       f"hostname match: {cert.get('hostname_match')}")
        out.extend(_render_chain(result.tls, zh))
    if result.http:
        out.append(f"http: {result.http['version']} {result.http['status']} {result.http['reason']}")
        for k, v in result.http["headers"].items():
            out.append(f"  {k}: {v}")
    if result.token:
        out.append(f"token: accepted={result.token['accepted']}")
    if result.websocket:
        out.append(f"websocket: upgraded={result.websocket['upgraded']}")
    if result.ok:
        out.append("OK" if not zh else "正常")
    else:
        out.append(f"{'失败阶段' if zh else 'FAILED at'} {result.phase}: {result.error}")
        for c in (result.causes_zh if zh else result.causes):
            out.append(f"  - {c}")
    return "\n".join(out)
