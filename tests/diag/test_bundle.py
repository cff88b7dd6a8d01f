"""bundle collect: seeded secrets never reach the bundle; time slicing; manifest; bad input."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import socket
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imdesk.core.errors import BadInput
from imdesk.diag.bundle import _ts_of_line, collect_bundle, endpoints, find_offset, read_manifest
from imdesk.diag.config_check import example_text

TZ8 = timedelta(hours=8)

SEEDED = {
    "dsn_pw": "Xk9#pL2!vQz",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MTIzIn0.c2lnbmF0dXJlLWJ5dGVz",
    "akia": "AKIAQWERTYUIOPASDFGH",
    "aws_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ltai": "LTAI5tQk3r9XYzAbCdEfGhIj",
    "bearer": "8f14e45fceea167a5a36dedd4bea2543",
    "url_pw": "hunter2-url-pass",
    "kv_pw": "kvPa55w0rd!",
    "jwt_secret": "Jw7Secret-Value-With-32-Chars-xyzw-0001",
    "redis_pw": "r3d1s-pw-42",
    "pem_body": "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
}


def line(ts: str, level: str, module: str, code: str, msg: str) -> str:
    return f"{ts} {level} [{module}] {code} {msg}\n"


@pytest.fixture
def site(tmp_path):
    """A fake im_server host: /etc/im_server and /var/log/im_server with seeded secrets."""
    etc = tmp_path / "etc"
    logs = tmp_path / "logs"
    etc.mkdir()
    logs.mkdir()
    cfg = (example_text()
           .replace('jwt_secret: "REPLACE-with-output-of-openssl-rand-hex-32"', f'jwt_secret: "{SEEDED["jwt_secret"]}"')
           .replace('password: ""', f'password: "{SEEDED["redis_pw"]}"')
           .replace("REPLACE_WITH_DB_PASSWORD", SEEDED["dsn_pw"])
           .replace("dir: /var/log/im_server", f"dir: {logs}"))
    (etc / "im_config.yaml").write_text(cfg, encoding="utf-8")
    (etc / "server.key").write_text(f"-----BEGIN PRIVATE KEY-----\n{SEEDED['pem_body']}\n-----END PRIVATE KEY-----\n")
    (etc / "notes.conf").write_text(f"# ops notes\nbackup_url=https://ops:{SEEDED['url_pw']}@backup.corp.example/\n")
    day14 = "".join([
        line("2026-03-14 08:00:00.000", "INFO", "gateway", "-", "started"),
        line("2026-03-14 22:00:00.000", "ERROR", "file", "ERR_IM_5201", f"s3 put failed key={SEEDED['akia']} "
             f"aws_secret_access_key={SEEDED['aws_secret']}"),
    ])
    (logs / "2026-03-14.log.gz").write_bytes(gzip.compress(day14.encode()))
    day15 = "".join([
        line("2026-03-15 09:00:00.000", "INFO", "gateway", "-", "before window"),
        line("2026-03-15 10:00:00.000", "ERROR", "storage", "ERR_IM_5001",
             f"database unreachable dsn=mysql://im:{SEEDED['dsn_pw']}@10.0.0.5:3306/im"),
        "    at com.im.storage.Pool.get(Pool.java:42)\n",
        line("2026-03-15 10:05:00.000", "WARN", "auth", "ERR_IM_1001", f"token expired token={SEEDED['jwt']}"),
        line("2026-03-15 10:06:00.000", "INFO", "api", "-", f"call Authorization: Bearer {SEEDED['bearer']}"),
        line("2026-03-15 10:07:00.000", "INFO", "file", "-", f"oss {SEEDED['ltai']} login password={SEEDED['kv_pw']}"),
        line("2026-03-15 10:08:00.000", "WARN", "storage", "ERR_IM_5002", f"redis AUTH {SEEDED['redis_pw']} refused"),
        line("2026-03-15 10:09:00.000", "INFO", "auth", "-", f"jwt secret is {SEEDED['jwt_secret']}"),
        f"-----BEGIN RSA PRIVATE KEY-----\n{SEEDED['pem_body']}\n-----END RSA PRIVATE KEY-----\n",
        line("2026-03-15 12:00:00.000", "INFO", "gateway", "-", "after window"),
    ])
    (logs / "2026-03-15.log").write_text(day15)
    (logs / "2026-02-01.log").write_text(line("2026-02-01 10:00:00.000", "INFO", "gateway", "-", "long ago"))
    (logs / "README.txt").write_text("not a log")
    return {"etc": etc, "logs": logs, "cfg": etc / "im_config.yaml", "root": tmp_path}


def window(since_local: str, until_local: str):
    def utc(s: str) -> datetime:
        return datetime.fromisoformat(s).replace(tzinfo=UTC) - TZ8

    return utc(since_local), utc(until_local)


def bundle_files(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def collect(site, out, **kw):
    since, until = kw.pop("win", window("2026-03-14 00:00:00", "2026-03-16 00:00:00"))
    return collect_bundle(out, since=since, until=until, log_dir=site["logs"], config=site["cfg"],
                          node_name="im-node-1", network=False, explicit_log_dir=True, explicit_config=True, **kw)


def test_no_seeded_secret_survives(site, tmp_path):
    out = tmp_path / "b.tar.gz"
    result = collect(site, out)
    raw = gzip.decompress(out.read_bytes())  # every byte of the archive, headers included
    for name, secret in SEEDED.items():
        assert secret.encode() not in raw, name
    files = bundle_files(out)
    assert "config/server.key" not in files
    assert "config/notes.conf" in files and b"[REDACTED-url-password-" in files["config/notes.conf"]
    skipped = {Path(s["path"]).name: s["reason"] for s in result.manifest["skipped"]}
    assert "never collected" in skipped["server.key"]
    applied = result.manifest["redaction"]["applied"]
    for kind in ("jwt", "aws-key", "aliyun-key", "auth-header", "url-password", "key-value", "private-key",
                 "config-secret"):
        assert applied.get(kind), kind


def test_window_is_sliced_inside_files(site, tmp_path):
    out = tmp_path / "b.tar.gz"
    collect(site, out, win=window("2026-03-15 09:30:00", "2026-03-15 11:00:00"))
    files = bundle_files(out)
    day15 = files["logs/2026-03-15.log"].decode()
    assert "before window" not in day15 and "after window" not in day15
    assert "database unreachable" in day15 and "at com.im.storage.Pool.get" in day15
    assert "logs/2026-02-01.log" not in files and "logs/README.txt" not in files
    assert "logs/2026-03-14.log" not in files


def test_rotated_gz_is_sliced(site, tmp_path):
    out = tmp_path / "b.tar.gz"
    collect(site, out, win=window("2026-03-14 12:00:00", "2026-03-14 23:00:00"))
    files = bundle_files(out)
    day14 = files["logs/2026-03-14.log"].decode()
    assert "s3 put failed" in day14 and "started" not in day14
    assert "logs/2026-03-15.log" not in files


def test_corrupt_gz_is_skipped_and_listed(site, tmp_path):
    bad = site["logs"] / "2026-03-15.log.1.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 64)
    result = collect(site, tmp_path / "b.tar.gz")
    reason = [s["reason"] for s in result.manifest["skipped"] if s["path"] == str(bad)]
    assert reason and reason[0].startswith("unreadable")


def test_manifest_lists_sizes_hashes_and_skips(site, tmp_path):
    out = tmp_path / "b.tar.gz"
    result = collect(site, out)
    m = read_manifest(out)
    assert m == json.loads(json.dumps(result.manifest))
    files = bundle_files(out)
    for entry in m["files"]:
        data = files[entry["path"]]
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert {c["name"] for c in m["collectors"]} == {"config", "version", "system", "network", "logs"}
    assert m["node_name"] == "im-node-1" and m["window"]["log_timezone"] == "Asia/Shanghai"
    reasons = " ".join(s["reason"] for s in m["skipped"])
    assert "disabled with --no-network" in reasons
    assert "system.json" in files and json.loads(files["system.json"])["cpu"]["logical"] >= 1


def test_unreadable_file_is_skipped_and_listed(site, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    bad = site["logs"] / "2026-03-15.log.1"
    bad.write_text("2026-03-15 10:00:00.000 INFO [api] - x\n")
    bad.chmod(0)
    try:
        result = collect(site, tmp_path / "b.tar.gz")
    finally:
        bad.chmod(0o644)
    assert {"path": str(bad), "reason": "permission denied"} in result.manifest["skipped"]


def test_size_cap(site, tmp_path):
    big = "".join(line(f"2026-03-15 10:{m:02d}:{s:02d}.{ms:03d}", "INFO", "msg", "-", "x" * 200)
                  for m in range(0, 59) for s in range(0, 60) for ms in (0, 500))
    (site["logs"] / "2026-03-15.log").write_text(big)
    result = collect(site, tmp_path / "b.tar.gz", max_mb=1)
    assert result.truncated and result.manifest["truncated"]
    assert result.manifest["log_bytes_collected"] <= 1 << 20
    assert any("size cap" in n for n in result.manifest["notes"])
    assert any("size cap" in s["reason"] for s in result.manifest["skipped"])


def test_obfuscation_mapping_stays_outside_the_bundle(site, tmp_path):
    out = tmp_path / "b.tar.gz"
    result = collect(site, out, obfuscate=True)
    raw = gzip.decompress(out.read_bytes())
    assert b"10.0.0.5" not in raw and b"db.example.internal" not in raw
    assert result.mapping_file is not None and result.mapping_file.exists()
    assert oct(result.mapping_file.stat().st_mode & 0o777) == "0o600"
    mapping = json.loads(result.mapping_file.read_text())["mapping"]
    assert "10.0.0.5" in mapping["ipv4"].values()
    assert not any(n.endswith("obfuscation-map.json") for n in bundle_files(out))


def test_json_log_format_is_sliced(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    cfg = tmp_path / "im_config.yaml"
    cfg.write_text(example_text().replace("format: text", "format: json"))
    (logs / "2026-03-15.log").write_text(
        '{"ts":"2026-03-15T09:00:00.000+08:00","level":"INFO","module":"api","code":"-","msg":"early"}\n'
        '{"ts":"2026-03-15T02:30:00.000Z","level":"ERROR","module":"api","code":"ERR_IM_9001","msg":"inside"}\n'
        '{"ts":"2026-03-15T12:00:00.000+08:00","level":"INFO","module":"api","code":"-","msg":"late"}\n')
    since, until = window("2026-03-15 10:00:00", "2026-03-15 11:00:00")
    out = tmp_path / "b.tar.gz"
    collect_bundle(out, since=since, until=until, log_dir=logs, config=cfg, network=False,
                   explicit_log_dir=True, explicit_config=True)
    text = bundle_files(out)["logs/2026-03-15.log"].decode()
    assert "inside" in text and "early" not in text and "late" not in text


def test_network_collector_checks_configured_endpoints(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    refused = free.getsockname()[1]
    free.close()
    port = listener.getsockname()[1]
    cfg = tmp_path / "im_config.yaml"
    cfg.write_text(example_text()
                   .replace('"redis.example.internal:6379"', f'"127.0.0.1:{port}"')
                   .replace('"kafka.example.internal:9092"', f'"127.0.0.1:{refused}"')
                   .replace("db.example.internal:5432", f"127.0.0.1:{refused}")
                   .replace('listen: "0.0.0.0:8443"', f'listen: "127.0.0.1:{refused}"')
                   .replace("  enabled: true\n  # host:port", "  enabled: false\n  # host:port"))
    out = tmp_path / "b.tar.gz"
    try:
        collect_bundle(out, config=cfg, log_dir=tmp_path, network=True, explicit_config=True, explicit_log_dir=True)
    finally:
        listener.close()
    results = {r["endpoint"]: r for r in json.loads(bundle_files(out)["network.json"])}
    assert results["redis"]["ok"] is True
    assert results["mq"]["phase"] == "connect" and results["database"]["kind"] == "refused"
    assert results["server"]["url"].startswith("https://127.0.0.1:")
    assert "metrics" not in results


def test_endpoints_from_config_values():
    eps = endpoints({"server.listen": "0.0.0.0:8443", "tls.enabled": True, "metrics.listen": "0.0.0.0:9464",
                     "storage.database.dsn": "mysql://u:p@db1/im", "storage.redis.addrs": ["r1:6379"],
                     "mq.brokers": ["k1:9092", "k2:9092"], "cluster.nodes": []})
    assert eps[0]["url"] == "https://127.0.0.1:8443/healthz"
    assert {"name": "database", "kind": "tcp", "host": "db1", "port": 3306} in eps
    assert sum(1 for e in eps if e["name"] == "mq") == 2


@pytest.mark.parametrize("kind", ["missing_log_dir", "binary_config", "missing_config", "out_is_dir", "no_out_dir"])
def test_bad_input(site, tmp_path, kind):
    kw = dict(log_dir=site["logs"], config=site["cfg"], network=False, explicit_log_dir=True, explicit_config=True)
    out = tmp_path / "b.tar.gz"
    if kind == "missing_log_dir":
        kw["log_dir"] = tmp_path / "nope"
    elif kind == "binary_config":
        (tmp_path / "bin.yaml").write_bytes(b"\x00\x01\x02ELF")
        kw["config"] = tmp_path / "bin.yaml"
    elif kind == "missing_config":
        kw["config"] = tmp_path / "none.yaml"
    elif kind == "out_is_dir":
        out = tmp_path
    else:
        out = tmp_path / "no" / "such" / "b.tar.gz"
    with pytest.raises(BadInput):
        collect_bundle(out, **kw)


def test_read_manifest_of_non_bundle(tmp_path):
    p = tmp_path / "x.tar.gz"
    p.write_bytes(b"not gzip")
    with pytest.raises(BadInput):
        read_manifest(p)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 86_399_999), min_size=0, max_size=60), st.integers(0, 86_399_999),
       st.lists(st.booleans(), min_size=60, max_size=60))
def test_find_offset_matches_a_linear_scan(times, key_ms, continuation):
    times.sort()
    buf = io.BytesIO()

    def stamp(ms: int) -> str:
        s, ms = divmod(ms, 1000)
        return f"2026-03-15 {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{ms:03d}"

    starts = []
    for i, t in enumerate(times):
        starts.append((buf.tell(), stamp(t).encode()))
        buf.write(f"{stamp(t)} INFO [api] - record {i}\n".encode())
        if continuation[i]:
            buf.write(b"    at frame\n")
    data = buf.getvalue()
    key = stamp(key_ms).encode()
    expected = next((off for off, ts in starts if ts >= key), len(data))
    assert find_offset(io.BytesIO(data), len(data), key, _ts_of_line) == expected


def test_parallel_redaction_gives_the_same_bundle_content(site, tmp_path):
    """Worker processes redact with the same salt: identical log content, counts merged."""
    seq = collect(site, tmp_path / "seq.tar.gz", salt="s", workers=1)
    par = collect(site, tmp_path / "par.tar.gz", salt="s", workers=2, parallel_min_mb=0)
    a, b = bundle_files(tmp_path / "seq.tar.gz"), bundle_files(tmp_path / "par.tar.gz")
    for name in a:
        if name.startswith("logs/"):
            assert a[name] == b[name], name
    assert seq.manifest["redaction"]["applied"] == par.manifest["redaction"]["applied"]
    raw = gzip.decompress((tmp_path / "par.tar.gz").read_bytes())
    for name, secret in SEEDED.items():
        assert secret.encode() not in raw, name


def test_parallel_gzip_writer_output_is_one_valid_gzip_stream(tmp_path):
    from imdesk.diag.bundle import ParallelGzipWriter

    pieces = [(f"line {i} " * (i % 50 + 1)).encode() + b"\n" for i in range(20000)]
    target = tmp_path / "x.gz"
    with open(target, "wb") as raw:
        w = ParallelGzipWriter(raw, level=1, workers=2, chunk=64 * 1024)
        for p in pieces:
            w.write(p)
        w.close()
    assert gzip.decompress(target.read_bytes()) == b"".join(pieces)
    with gzip.open(target) as fh:  # streaming readers see one stream across the members
        assert fh.read() == b"".join(pieces)
