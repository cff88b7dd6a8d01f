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
        ["The server certificate has expired: renew it and restart the server (ERR_IM_1201)."],
        ["服务器证书已过期：续期证书并重启服务（ERR_IM_1201）。"],
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
        return {
            "subject": cn(cert.subject),
            "issuer": cn(cert.issuer),
            "san": sans,
            "not_before": cert.not_valid_before_utc,
            "not_after": cert.not_valid_after_utc,
            "self_signed": cert.subject == cert.issuer,
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

    subject, issuer = cn(info.get("subject")), cn(info.get("issuer"))
    return {
        "subject": subject,
        "issuer": issuer,
        "san": [tuple(x) for x in info.get("subjectAltName", ())],
        "not_before": when(info.get("notBefore")),
        "not_after": when(info.get("notAfter")),
        "self_signed": info.get("subject") == info.get("issuer"),
    }


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
        "san": [f"{k}:{v}" for k, v in info.get("san", [])],
        "not_before": not_before.isoformat() if not_before else None,
        "not_after": not_after.isoformat() if not_after else None,
        "days_left": (not_after - now).days if not_after else None,
        "expired": bool(not_after and not_after < now),
        "self_signed": info.get("self_signed"),
        "hostname_match": hostname_matches(host, info.get("san", []), info.get("subject")),
        "sha256": hashlib.sha256(der).hexdigest(),
    }


def _chain(conn: ssl.SSLSocket, host: str, now: datetime) -> list[dict[str, Any]]:
    """The certificate chain as verified (leaf first): the public API on Python 3.13+, the
    ``_sslobj`` methods that back it on 3.10-3.12; empty when neither exists."""
    getter = getattr(conn, "get_verified_chain", None)
    if getter is None:
        sslobj = getattr(conn, "_sslobj", None)
        getter = getattr(sslobj, "get_verified_chain", None) or getattr(sslobj, "get_unverified_chain", None)
    if getter is None:
        return []
    out = []
    try:
        for cert in getter() or []:
            der = cert if isinstance(cert, bytes) else cert.public_bytes(getattr(ssl._ssl, "ENCODING_DER", 2))  # type: ignore[attr-defined]
            out.append(_cert_summary(host, der, now))
    except (ValueError, AttributeError, TypeError, ssl.SSLError):
        return []
    return out


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
            try:
                conn = ctx.wrap_socket(sock, server_hostname=host)
            except (ssl.SSLError, OSError) as exc:
                result.timings_ms["tls"] = timer.ms()
                kind = _tls_kind(exc)
                verify_msg = getattr(exc, "verify_message", None)
                result.tls = {"verified": False, "error": verify_msg or str(exc)}
                if isinstance(exc, ssl.SSLCertVerificationError):
                    result.tls.update(_peek_certificate(host, port, result, timeout, now))
                text = "timed out" if kind == "tls_timeout" else (verify_msg or str(exc))
                return result.fail("tls", kind, f"TLS handshake with {host}:{port} failed: {text}")
            result.timings_ms["tls"] = timer.ms()
            assert isinstance(conn, ssl.SSLSocket)
            der = conn.getpeercert(binary_form=True)
            cert = _cert_summary(host, der, now)
            chain = _chain(conn, host, now)
            cipher = conn.cipher()
            result.tls = {
                "verified": verify,
                "version": conn.version(),
                "cipher": cipher[0] if cipher else None,
                "certificate": cert,
                "chain": [{"subject": c.get("subject"), "issuer": c.get("issuer"), "not_after": c.get("not_after")}
                          for c in chain] or [{"subject": cert.get("subject"), "issuer": cert.get("issuer"),
                                               "not_after": cert.get("not_after")}],
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


def _peek_certificate(host: str, port: int, result: NetResult, timeout: float, now: datetime) -> dict[str, Any]:
    """After a failed verification, fetch the certificate without verifying, to report it."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    address = result.dns.get("addresses", [host])[0] if not result.proxy else host
    try:
        with socket.create_connection((address, port), timeout=timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=host) as s:
            cipher = s.cipher()
            return {"version": s.version(), "cipher": cipher[0] if cipher else None,
                    "certificate": _cert_summary(host, s.getpeercert(binary_form=True), now)}
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
