"""Realistic im_server support bundles for tests and benchmarks.

    >>> root = make_bundle(tmp_path / "b", "db_unreachable", seed=7)   # a folder, one sub-folder per node
    >>> tgz = make_tarball(root, tmp_path / "b.tar.gz")

Every bundle has healthy background noise: INFO/DEBUG traffic of all modules with key=value fields,
connection stats, informational codes in the thousands (ERR_IM_2101, 3003, 4001, some of them logged
at WARN or ERROR), the odd expired token, rate limit, broken pipe or i/o timeout, and one isolated
internal error with a stack trace. A scenario adds the real problem on top -- often with its
symptoms (pool timeouts after a database outage, ...) -- and, where the cause is in the config,
the matching ``im_config.yaml`` difference. ``EXPECTED`` names the rule that must rank first.
"""

from __future__ import annotations

import gzip
import random
import tarfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

START = datetime(2026, 3, 15, 9, 0, 0)
MODULES = ("gateway", "auth", "msg", "push", "group", "org", "file", "api", "storage", "mq", "cluster", "admin")

EXPECTED = {
    "healthy": None,
    "db_unreachable": "IM-5001-DB-UNREACHABLE",
    "redis_unreachable": "IM-5002-REDIS-UNREACHABLE",
    "pool_too_small": "CFG-POOL-BELOW-WORKERS",
    "max_concurrent": "CFG-MAX-CONCURRENT-REACHED",
    "too_many_open_files": "IM-1102-TOO-MANY-OPEN-FILES",
    "jwt_differs": "CFG-JWT-SECRET-DIFFERS",
    "ttl_below_retry": "CFG-TTL-BELOW-RETRY",
    "consumer_group": "CFG-CONSUMER-GROUP-DIFFERS",
    "election_timeout": "CFG-ELECTION-TIMEOUT",
    "network_partition": "IM-6001-HEARTBEAT-TIMEOUT",
    "mq_broker_down": "IM-5102-MQ-BROKER-UNREACHABLE",
    "disk_full": "IM-5201-FILE-STORE-FULL",
    "push_cert_expired": "RAW-X509-EXPIRED",
    "push_auth": "IM-3001-PUSH-AUTH",
    "push_throttled": "IM-3002-PUSH-THROTTLED",
    "tls_cert_expired": "RAW-X509-EXPIRED",
    "oom": "RAW-OOM-KILLED",
    "dns": "RAW-DNS",
    "rate_limited": "IM-1401-RATE-LIMITED",
    "token_expired": "IM-1001-TOKEN-EXPIRED",
    "permission_denied": "IM-1002-PERMISSION-DENIED",
    "api_version": "IM-1301-API-VERSION",
    "msg_too_large": "IM-2001-MESSAGE-TOO-LARGE",
    "org_sync": "IM-4101-ORG-SYNC",
    "internal_error": "IM-9001-INTERNAL",
}

SECRET_A = "Zq8r0Vt3mKx91LwP4sJd7hYb2nGf6cEa"
SECRET_B = "Hn4Tb7Qw2Ls9Xk1Vr5Mz8Pc3Jd6Yf0Ga"


def config_text(node: str, **over: object) -> str:
    v = {
        "workers": 16, "pool_size": 32, "max_concurrent": 50000, "message_ttl": "7d", "retry": "72h",
        "heartbeat": "1s", "election": "5s", "group": "im_server", "secret": SECRET_A,
    }
    v.update(over)
    return f"""# im_server {node}
server:
  node_id: {node}
  listen: 0.0.0.0:8443
  workers: {v['workers']}
  max_concurrent: {v['max_concurrent']}
  request_timeout: 30s
tls:
  enabled: true
  cert_file: /etc/im_server/tls/server.crt
  key_file: /etc/im_server/tls/server.key
  min_version: "1.2"
message:
  message_ttl: {v['message_ttl']}
  max_size_kb: 64
push:
  providers: [apns, fcm, huawei]
  offline_retry_window: {v['retry']}
  batch_size: 500
storage:
  database:
    dsn: mysql://im:Passw0rd-{node}@db.internal:3306/im
    pool_size: {v['pool_size']}
    pool_timeout: 5s
  redis:
    addrs: [10.0.1.21:6379, 10.0.1.22:6379]
mq:
  type: kafka
  brokers: [10.0.2.11:9092, 10.0.2.12:9092]
  consumer_group: {v['group']}
auth:
  jwt_secret: "{v['secret']}"
  token_ttl: 24h
cluster:
  nodes: [10.0.0.11:7946, 10.0.0.12:7946]
  heartbeat_interval: {v['heartbeat']}
  election_timeout: {v['election']}
log:
  level: INFO
  format: text
"""


class _Log:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: list[tuple[datetime, str]] = []

    def add(self, t: datetime, level: str, module: str, code: str, msg: str, extra: list[str] | None = None) -> None:
        ts = t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"
        self.lines.append((t, f"{ts} {level} [{module}] {code} {msg}"))
        for e in extra or ():
            self.lines.append((t, e))


def _noise_line(rng: random.Random) -> tuple[str, str, str, str]:
    r = rng.random()
    uid = f"u{rng.randint(10000, 99999)}"
    tid = f"{rng.getrandbits(48):012x}"
    if r < 0.30:
        return ("INFO", "msg", "-", f"message delivered msg_id={rng.getrandbits(40):x} from={uid} to=u{rng.randint(10000, 99999)} "
                f"size={rng.randint(20, 4000)} dur_ms={rng.randint(1, 80)} trace_id={tid}")
    if r < 0.45:
        route = rng.choice(["/v2/messages", "/v2/users/profile", "/v1/groups/members", "/v2/conversations", "/healthz"])
        return ("INFO", "api", "-", f"request handled method={rng.choice(['GET', 'POST'])} route={route} status=200 "
                f"dur_ms={rng.randint(1, 300)} app_key=ak_{rng.randint(100, 999)} trace_id={tid}")
    if r < 0.55:
        return ("INFO", "gateway", "-", f"client connected uid={uid} device={rng.choice(['ios', 'android', 'web', 'pc'])} "
                f"ip=10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)} conn_id={tid}")
    if r < 0.62:
        return ("INFO", "gateway", "-", f"client disconnected uid={uid} reason={rng.choice(['closed', 'idle', 'network'])} conn_id={tid}")
    if r < 0.70:
        return ("DEBUG", "storage", "-", f"query ok table={rng.choice(['messages', 'users', 'groups'])} rows={rng.randint(0, 50)} "
                f"dur_ms={rng.randint(0, 40)}")
    if r < 0.76:
        return ("INFO", "push", "-", f"push sent provider={rng.choice(['apns', 'fcm', 'huawei', 'xiaomi'])} "
                f"device_token={rng.getrandbits(64):016x} dur_ms={rng.randint(20, 400)}")
    if r < 0.80:
        return ("INFO", "group", "-", f"group member added group_id=g{rng.randint(1000, 9999)} uid={uid} by=admin")
    if r < 0.83:
        return ("INFO", "mq", "-", f"batch consumed topic=im.messages partition={rng.randint(0, 11)} "
                f"offset={rng.randint(10**6, 10**8)} count={rng.randint(1, 500)}")
    if r < 0.86:
        return ("INFO", "file", "-", f'file uploaded name="{rng.choice(["报告 Q1.pdf", "photo.jpg", "notes.txt"])}" '
                f"size_kb={rng.randint(1, 9000)} uid={uid}")
    if r < 0.88:
        return ("INFO", "auth", "-", f"login ok uid={uid} method={rng.choice(['password', 'sso', 'token'])} trace_id={tid}")
    if r < 0.90:
        return ("INFO", "org", "-", f"org sync done users={rng.randint(100, 5000)} depts={rng.randint(5, 80)} dur_ms={rng.randint(100, 9000)}")
    if r < 0.93:  # informational codes (red herrings), sometimes logged loud
        code, mod, msg = rng.choice([
            ("ERR_IM_2101", "msg", f"duplicate message dropped msg_id={rng.getrandbits(40):x} from={uid}"),
            ("ERR_IM_3003", "push", f"device token invalid provider=apns device_token={rng.getrandbits(64):016x}"),
            ("ERR_IM_4001", "group", f"group not found group_id=g{rng.randint(1000, 9999)} uid={uid}"),
        ])
        return (rng.choice(["INFO", "INFO", "WARN", "ERROR"]), mod, code, msg)
    if r < 0.935:
        return ("WARN", "auth", "ERR_IM_1001", f"token expired uid={uid} skew_s={rng.randint(1, 30)}")
    if r < 0.94:
        return ("WARN", "api", "-", f"slow request route=/v2/conversations dur_ms={rng.randint(1000, 3000)} trace_id={tid}")
    if r < 0.9405:
        return ("WARN", "gateway", "-", f"write to client failed: write tcp 10.0.0.11:8443->10.9.{rng.randint(0, 255)}.{rng.randint(1, 254)}:"
                f"{rng.randint(1024, 65535)}: write: broken pipe")
    return ("INFO", "admin", "-", f"config reloaded by=ops changed={rng.randint(0, 3)}")


def _healthy(log: _Log, node: str, minutes: int, per_minute: int) -> None:
    rng = log.rng
    for m in range(minutes):
        base = START + timedelta(minutes=m)
        for _ in range(per_minute):
            t = base + timedelta(milliseconds=rng.randint(0, 59_999))
            log.add(t, *_noise_line(rng))
        log.add(base + timedelta(seconds=30), "INFO", "gateway", "-",
                f"stats conns={rng.randint(8000, 12000)} qps={rng.randint(300, 900)} node={node}")
    # a wave of app reinstalls: thousands of an informational code, logged at ERROR by this server
    wave = START + timedelta(minutes=minutes // 4)
    for _ in range(25 * per_minute):
        t = wave + timedelta(milliseconds=rng.randint(0, 600_000))
        log.add(t, "ERROR", "push", "ERR_IM_3003", f"device token invalid provider=fcm device_token={rng.getrandbits(64):016x}")
    # the odd blip, at a different time on each node: one i/o timeout, one rate limit, one internal
    # error with a trace
    t = START + timedelta(minutes=rng.randint(minutes // 6, minutes // 2), seconds=rng.randint(0, 59))
    log.add(t, "WARN", "storage", "-", "redis read failed: read tcp 10.0.0.11:50122->10.0.1.21:6379: i/o timeout")
    log.add(t + timedelta(minutes=3), "WARN", "api", "ERR_IM_1401", "rate limited app_key=ak_311 qps=2011 limit=2000")
    log.add(t + timedelta(minutes=5), "ERROR", "admin", "ERR_IM_9001", "internal error: unexpected nil report handler",
            ["Traceback (most recent call last):", '  File "report.py", line 88, in render', "    AttributeError: 'NoneType' object has no attribute 'rows'"])


def _burst(log: _Log, start_min: float, minutes: float, per_minute: int, level: str, module: str, code: str,
           msg: Callable[[random.Random], str], extra: Callable[[random.Random], list[str]] | None = None) -> None:
    rng = log.rng
    n = max(1, int(minutes * per_minute))
    for _ in range(n):
        t = START + timedelta(minutes=start_min + rng.random() * minutes)
        log.add(t, level, module, code, msg(rng), extra(rng) if extra else None)


def _scenario(name: str, log: _Log, node: str, idx: int, minutes: int) -> dict[str, object]:
    """Adds the scenario's lines to one node's log; returns config overrides for this node."""
    at = minutes * 0.6
    over: dict[str, object] = {}
    if name == "db_unreachable":
        _burst(log, at, 20, 30, "ERROR", "storage", "ERR_IM_5001",
               lambda g: "database unreachable: dial tcp 10.0.3.5:3306: connect: connection refused")
        _burst(log, at + 1, 19, 60, "ERROR", "storage", "ERR_IM_5003", lambda g: f"database pool timeout waited_ms={g.randint(5000, 5100)}")
        _burst(log, at + 1, 19, 40, "ERROR", "api", "ERR_IM_9001", lambda g: f"internal error route=/v2/messages trace_id={g.getrandbits(40):x}")
        _burst(log, at + 1, 19, 20, "WARN", "msg", "-", lambda g: "store message failed: context deadline exceeded")
    elif name == "redis_unreachable":
        _burst(log, at, 15, 40, "ERROR", "storage", "ERR_IM_5002",
               lambda g: "redis unreachable addr=10.0.1.21:6379 err=\"dial tcp 10.0.1.21:6379: connect: connection refused\"")
        _burst(log, at, 15, 30, "ERROR", "api", "ERR_IM_9001", lambda g: f"internal error route=/v2/users/profile trace_id={g.getrandbits(40):x}")
    elif name == "pool_too_small":
        over = {"workers": 64, "pool_size": 10}
        _burst(log, at, 30, 25, "ERROR", "storage", "ERR_IM_5003", lambda g: f"database pool timeout waited_ms={g.randint(5000, 5100)} in_use=10")
        _burst(log, at, 30, 10, "WARN", "api", "-", lambda g: f"slow request route=/v2/messages dur_ms={g.randint(5000, 9000)}")
    elif name == "max_concurrent":
        over = {"max_concurrent": 12000}
        _burst(log, at, 10, 60, "ERROR", "gateway", "ERR_IM_1101",
               lambda g: f"connection rejected: max_concurrent reached conns=12000 ip=10.9.{g.randint(0, 255)}.{g.randint(1, 254)}")
        _burst(log, at, 10, 1, "INFO", "gateway", "-", lambda g: "stats conns=12000 qps=1200")
    elif name == "too_many_open_files":
        _burst(log, at, 10, 30, "ERROR", "gateway", "ERR_IM_1102",
               lambda g: "accept failed: accept tcp [::]:8443: accept4: too many open files")
        _burst(log, at, 10, 40, "ERROR", "storage", "-", lambda g: "dial tcp 10.0.3.5:3306: socket: too many open files")
    elif name == "jwt_differs":
        over = {"secret": SECRET_B if idx == 1 else SECRET_A}
        _burst(log, 2, minutes - 4, 6, "ERROR", "auth", "ERR_IM_1003", lambda g: f"invalid token signature uid=u{g.randint(10000, 99999)} kid=default")
    elif name == "ttl_below_retry":
        over = {"message_ttl": "24h", "retry": "72h"}
        _burst(log, 5, minutes - 10, 3, "ERROR", "msg", "ERR_IM_2005", lambda g: f"message expired before delivery msg_id={g.getrandbits(40):x} age=24h")
    elif name == "consumer_group":
        over = {"group": "im_server" if idx == 0 else "im-server"}
        _burst(log, at, 30, 2, "ERROR", "mq", "ERR_IM_5101", lambda g: f"mq backlog over threshold backlog={g.randint(100001, 900000)} threshold=100000")
    elif name == "election_timeout":
        over = {"heartbeat": "1s", "election": "2s"}
        _burst(log, at, 15, 10, "ERROR", "cluster", "ERR_IM_6001", lambda g: f"cluster heartbeat timeout peer=10.0.0.1{2 - idx}:7946 missed={g.randint(2, 4)}")
        _burst(log, at + 5, 1, 3, "FATAL", "cluster", "ERR_IM_6002", lambda g: "split brain detected leaders=2 term=88")
    elif name == "network_partition":
        _burst(log, at, 12, 12, "ERROR", "cluster", "ERR_IM_6001", lambda g: f"cluster heartbeat timeout peer=10.0.0.1{2 - idx}:7946 missed={g.randint(5, 30)}")
        _burst(log, at, 12, 30, "WARN", "cluster", "-",
               lambda g: f"gossip failed: dial tcp 10.0.0.1{2 - idx}:7946: i/o timeout")
    elif name == "mq_broker_down":
        _burst(log, at, 20, 20, "ERROR", "mq", "ERR_IM_5102",
               lambda g: "mq broker unreachable brokers=10.0.2.11:9092 err=\"dial tcp 10.0.2.11:9092: connect: connection refused\"")
        _burst(log, at + 5, 15, 1, "ERROR", "mq", "ERR_IM_5101", lambda g: f"mq backlog over threshold backlog={g.randint(100001, 900000)}")
    elif name == "disk_full":
        _burst(log, at, 20, 15, "ERROR", "file", "ERR_IM_5201",
               lambda g: "file store full: write /var/lib/im_server/files/ab/cd.bin: no space left on device")
        _burst(log, at, 20, 5, "ERROR", "api", "ERR_IM_9001", lambda g: "internal error route=/v2/files")
    elif name == "push_cert_expired":
        _burst(log, at, 30, 10, "ERROR", "push", "ERR_IM_3001",
               lambda g: "apns rejected provider=apns err=\"x509: certificate has expired or is not yet valid\"")
    elif name == "push_auth":
        _burst(log, at, 30, 10, "ERROR", "push", "ERR_IM_3001",
               lambda g: "apns rejected token provider=apns status=403 reason=InvalidProviderToken")
    elif name == "push_throttled":
        _burst(log, at, 20, 30, "WARN", "push", "ERR_IM_3002", lambda g: f"push provider throttled provider=fcm status=429 batch={g.randint(400, 500)}")
    elif name == "tls_cert_expired":
        _burst(log, at, 30, 20, "ERROR", "gateway", "ERR_IM_1201",
               lambda g: f"tls handshake failed ip=10.9.{g.randint(0, 255)}.{g.randint(1, 254)} err=\"remote error: tls: bad certificate\"")
        _burst(log, at, 1, 2, "ERROR", "gateway", "-", lambda g: "tls: server certificate check: x509: certificate has expired or is not yet valid: current time 2026-03-15T10:30:00+08:00 is after 2026-03-14T23:59:59Z")
    elif name == "oom":
        _burst(log, at + 1, 10, 20, "ERROR", "storage", "-", lambda g: "dial tcp 127.0.0.1:8443: connect: connection refused")
        _burst(log, at + 1, 5, 5, "ERROR", "cluster", "ERR_IM_6001", lambda g: "cluster heartbeat timeout peer=10.0.0.11:7946 missed=9")
    elif name == "dns":
        _burst(log, at, 20, 20, "ERROR", "storage", "ERR_IM_5001",
               lambda g: "database unreachable: dial tcp: lookup db.internal on 10.0.0.2:53: no such host")
        _burst(log, at, 20, 10, "ERROR", "mq", "ERR_IM_5102", lambda g: "mq broker unreachable: dial tcp: lookup kafka-1.internal on 10.0.0.2:53: no such host")
    elif name == "rate_limited":
        _burst(log, at, 15, 200, "WARN", "api", "ERR_IM_1401", lambda g: f"rate limited app_key=ak_311 qps={g.randint(2001, 4000)} limit=2000")
    elif name == "token_expired":
        _burst(log, at, 15, 300, "WARN", "auth", "ERR_IM_1001", lambda g: f"token expired uid=u{g.randint(10000, 99999)} skew_s={g.randint(300, 900)}")
    elif name == "permission_denied":
        _burst(log, at, 15, 40, "WARN", "auth", "ERR_IM_1002", lambda g: "permission denied app_key=ak_523 scope=org.read")
    elif name == "api_version":
        _burst(log, at, 30, 10, "ERROR", "api", "ERR_IM_1301", lambda g: "unsupported api version version=v3 sdk=android/5.0.1")
    elif name == "msg_too_large":
        _burst(log, at, 30, 10, "WARN", "msg", "ERR_IM_2001", lambda g: f"message too large size_kb={g.randint(65, 900)} limit_kb=64")
    elif name == "org_sync":
        _burst(log, at, 60, 1, "ERROR", "org", "ERR_IM_4101", lambda g: "org sync failed source=ldap err=\"LDAP Result Code 49 Invalid Credentials\"")
    elif name == "internal_error":
        _burst(log, at, 10, 6, "ERROR", "msg", "ERR_IM_9001", lambda g: "internal error: panic recovered: runtime error: index out of range [3] with length 3",
               lambda g: ["goroutine 1288 [running]:", "im_server/msg.(*Router).dispatch(0xc000a1e000)", "\t/src/msg/router.go:212 +0x1f4"])
    elif name != "healthy":
        raise ValueError(f"unknown scenario {name!r}")
    return over


def to_json_line(line: str) -> str:
    """A text-mode line as the same record in JSON mode (log.format: json); continuation lines are
    folded into the previous record by the caller."""
    import json
    import re

    date, clock, level, module, code, rest = (line.split(" ", 5) + [""] * 6)[:6]
    fields = {}
    for m in re.finditer(r'(?:(?<=\s)|^)([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|\S*)', rest):
        v = m.group(2)
        fields[m.group(1)] = v[1:-1] if len(v) >= 2 and v[0] == '"' and v[-1] == '"' else v
    msg = re.sub(r'\s+[A-Za-z_][\w.\-]*=("(?:[^"\\]|\\.)*"|\S*)', "", " " + rest).strip()
    obj = {"ts": f"{date}T{clock}+08:00", "level": level, "module": module.strip("[]"), "code": code, "msg": msg}
    obj.update(fields)
    return json.dumps(obj, ensure_ascii=False)


def _as_json(text_lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in text_lines:
        if line[:2] == "20":
            out.append(to_json_line(line))
        elif out:  # a stack trace line: into the previous record's msg
            import json

            obj = json.loads(out[-1])
            obj["msg"] += "\n" + line
            out[-1] = json.dumps(obj, ensure_ascii=False)
    return out


def make_bundle(root: Path, scenario: str = "healthy", *, nodes: int = 2, minutes: int = 120, per_minute: int = 60,
                seed: int = 1, json_logs: bool = False) -> Path:
    """A bundle folder ``root/<node>/{im_config.yaml, logs/*.log[.gz]}``; returns ``root``.
    ``json_logs`` writes the current day's logs in JSON mode (log.format: json)."""
    root = Path(root)
    rng = random.Random(seed)
    for idx in range(nodes):
        node = f"im-node-{idx + 1}"
        log = _Log(random.Random(rng.random()))
        _healthy(log, node, minutes, per_minute)
        over = _scenario(scenario, log, node, idx, minutes)
        d = root / node / "logs"
        d.mkdir(parents=True, exist_ok=True)
        (root / node / "im_config.yaml").write_text(config_text(node, **over), encoding="utf-8")
        log.lines.sort(key=lambda x: x[0])
        lines = [line for _, line in log.lines]
        text = "\n".join(_as_json(lines) if json_logs else lines) + "\n"
        (d / f"{START:%Y-%m-%d}.log").write_text(text, encoding="utf-8")
        # yesterday, rotated and compressed: quiet healthy noise
        old = _Log(random.Random(rng.random()))
        for m in range(30):
            t = START - timedelta(hours=10) + timedelta(minutes=m)
            old.add(t, *_noise_line(old.rng))
        with gzip.open(d / f"{(START - timedelta(days=1)):%Y-%m-%d}.log.gz", "wt", encoding="utf-8") as fh:
            fh.write("\n".join(line for _, line in old.lines) + "\n")
        if scenario == "oom" and idx == 0:
            t = START + timedelta(minutes=minutes * 0.6)
            (root / node / "logs" / "dmesg.log").write_text(
                f"[{t:%a %b %d %H:%M:%S %Y}] im_server invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0\n"
                f"[{t:%a %b %d %H:%M:%S %Y}] Out of memory: Killed process 2231 (im_server) total-vm:31457280kB, "
                "anon-rss:15728640kB, file-rss:0kB\n", encoding="utf-8")
    return root


def make_tarball(root: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as tf:
        tf.add(root, arcname=root.name)
    return out


def stream_lines(minutes: int, per_minute: int, seed: int = 1, node: str = "im-node-1") -> Iterator[str]:
    """Healthy noise plus a DB outage, in time order, without holding it all (for the 1 GB benchmark)."""
    rng = random.Random(seed)
    outage = (int(minutes * 0.6), int(minutes * 0.6) + 20)  # about 200 bytes a line, as in production
    for m in range(minutes):
        log = _Log(rng)
        base = START + timedelta(minutes=m)
        for _ in range(per_minute):
            log.add(base + timedelta(milliseconds=rng.randint(0, 59_999)), *_noise_line(rng))
        log.add(base + timedelta(seconds=30), "INFO", "gateway", "-", f"stats conns={rng.randint(8000, 12000)} node={node}")
        if outage[0] <= m < outage[1]:
            for _ in range(30):
                log.add(base + timedelta(milliseconds=rng.randint(0, 59_999)), "ERROR", "storage", "ERR_IM_5001",
                        "database unreachable: dial tcp 10.0.3.5:3306: connect: connection refused")
            for _ in range(60):
                log.add(base + timedelta(milliseconds=rng.randint(0, 59_999)), "ERROR", "storage", "ERR_IM_5003",
                        f"database pool timeout waited_ms={rng.randint(5000, 5100)}")
        log.lines.sort(key=lambda x: x[0])
        suffix = f" host={node} ver=4.2.1 region=cn-east-2"
        for _, line in log.lines:  # the per-request fields a production build adds to every line
            yield f"{line}{suffix} tenant=t{rng.randint(100, 999)} span_id={rng.getrandbits(32):08x}"
