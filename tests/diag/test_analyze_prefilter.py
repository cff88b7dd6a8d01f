"""The fast path of the analyser finds what the full path finds (issue 5).

The fast path parses only the records that can matter; a rule's raw message logged at INFO or DEBUG
must still be one of them, found through the literals derived from the rules' regexes and codes.
"""

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imdesk.diag.analyze import AnalyzeOptions, Analyzer, _byte_forms, analyze
from imdesk.diag.rules import build_rules
from imdesk.profiles import load_profile

NOISE = [
    "message delivered msg_id=5f3a from=u10231 to=u99812 size=120 dur_ms=4",
    "request handled method=GET route=/v2/messages status=200 dur_ms=12",
    "client connected uid=u10022 device=ios ip=10.2.3.4",
    "query ok table=messages rows=3 dur_ms=2",
    "push sent provider=apns device_token=ab12cd34 dur_ms=80",
]

RAW = {  # a message each rule must find, whatever the level it is logged at
    "RAW-CONNECTION-REFUSED": "redis ping failed: dial tcp 10.0.1.21:6379: connect: connection refused",
    "RAW-IO-TIMEOUT": "gossip probe: read tcp 10.0.0.11:50122->10.0.0.12:7946: i/o timeout",
    "IM-1102-TOO-MANY-OPEN-FILES": "accept tcp [::]:8443: accept4: too many open files; retrying in 5ms",
    "IM-5201-FILE-STORE-FULL": "thumbnail cache write /data/im/thumbs/a.jpg: no space left on device",
    "RAW-X509-EXPIRED": "push provider tls: x509: certificate has expired or is not yet valid",
    "RAW-X509-UNKNOWN-AUTHORITY": "ldap sync: x509: certificate signed by unknown authority",
    "RAW-OOM-KILLED": "previous run: Memory cgroup out of memory: Killed process 2231 (im_server)",
    "RAW-DEADLINE": "presence fan-out gave up: context deadline exceeded",
    "RAW-DNS": "resolver: dial tcp: lookup mq.internal on 10.0.0.2:53: no such host",
    "RAW-BROKEN-PIPE": "write tcp 10.0.0.11:8443->10.9.1.2:51000: write: broken pipe",
    "IM-9001-INTERNAL": "recovered: fatal error: concurrent map writes",
}


def text_line(i, level, msg, module="storage", code="-"):
    return f"2026-03-15 10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d} {level} [{module}] {code} {msg}"


def json_line(i, level, msg, module="storage", code="-"):
    ts = f"2026-03-15T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}+08:00"
    return json.dumps({"ts": ts, "level": level, "module": module, "code": code, "msg": msg, "trace_id": f"t{i}"})


def write_log(path: Path, lines: list[str]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def findings(report):
    return [(f["rule_id"], f["severity"], f["count"], f["first_seen"], f["last_seen"], f["evidence"], f["targets"])
            for f in report["findings"]]


def both(path, **kw):
    fast = analyze([path], AnalyzeOptions(**kw))
    slow = analyze([path], AnalyzeOptions(fast_path=False))
    assert fast["stats"]["fast_path_files"] == 1 and slow["stats"]["fast_path_files"] == 0
    return fast, slow


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
@pytest.mark.parametrize("rule_id", sorted(RAW))
def test_a_rules_raw_message_at_info_is_found(tmp_path, fmt, level, rule_id):
    make = text_line if fmt == "text" else json_line
    lines = [make(i, "INFO", NOISE[i % len(NOISE)]) for i in range(40)]
    lines.insert(25, make(25, level, RAW[rule_id]))
    fast, slow = both(write_log(tmp_path / "logs" / "node.log", lines))
    assert rule_id in {f["rule_id"] for f in fast["findings"]}
    assert findings(fast) == findings(slow)
    assert fast["stats"]["records"] == slow["stats"]["records"] == 41
    assert fast["stats"]["levels"] == slow["stats"]["levels"]


def test_a_literal_in_a_quiet_records_trace_selects_the_record(tmp_path):
    lines = [text_line(i, "INFO", NOISE[i % len(NOISE)]) for i in range(30)]
    lines[10:10] = ["2026-03-15 10:00:10.010 INFO [storage] - retrying the flush",
                    "    caused by: write /data/im/files/x.bin: NO SPACE LEFT ON DEVICE",
                    "",
                    "    at flush (store.go:88)"]
    fast, slow = both(write_log(tmp_path / "logs" / "node.log", lines))
    got = {f["rule_id"]: f for f in fast["findings"]}
    assert [e.rsplit("/", 1)[-1] for e in got["IM-5201-FILE-STORE-FULL"]["evidence"]] == ["node.log:11"]
    assert findings(fast) == findings(slow)


def test_a_record_split_between_two_blocks_is_read_whole(tmp_path):
    lines = [text_line(i, "INFO", NOISE[i % len(NOISE)]) for i in range(200)]
    lines[100:100] = ["2026-03-15 10:01:40.100 INFO [gateway] - listener restarted"] + [
        f"    frame {k} (gateway/listen.go:{k})" for k in range(30)] + ["    accept4: too many open files"]
    path = write_log(tmp_path / "logs" / "node.log", lines)
    for size in (512, 1500, 4000):  # blocks end inside the trace
        fast, slow = both(path, block_bytes=size)
        assert "IM-1102-TOO-MANY-OPEN-FILES" in {f["rule_id"] for f in fast["findings"]}
        assert findings(fast) == findings(slow)
        assert fast["stats"]["records"] == slow["stats"]["records"]


def test_json_escapes_do_not_hide_a_literal(tmp_path):
    lines = [json_line(i, "INFO", NOISE[i % len(NOISE)]) for i in range(30)]
    lines.append(json_line(30, "INFO", "read tcp 10.0.0.1:1->10.0.0.2:2: i/o timeout").replace("i/o", "i\\/o"))
    lines.append(json_line(31, "INFO", "dial tcp 10.0.0.3:5432: connect: connection refused")
                 .replace("connection", "\\u0063onnection"))
    fast, slow = both(write_log(tmp_path / "logs" / "node.log", lines))
    assert {"RAW-IO-TIMEOUT", "RAW-CONNECTION-REFUSED"} <= {f["rule_id"] for f in fast["findings"]}
    assert findings(fast) == findings(slow)


def test_a_rule_without_literals_makes_every_file_take_the_full_path(tmp_path):
    profile = load_profile("im_server")
    data = json.loads(json.dumps(profile.data("rules")))
    data["rules"].append({"id": "X-NINETY", "regex": "\\b9\\d%", "severity": "error", "title": "Disk nearly full"})
    lines = [text_line(i, "INFO", NOISE[i % len(NOISE)]) for i in range(30)] + [text_line(31, "INFO", "disk at 97%")]
    path = write_log(tmp_path / "logs" / "node.log", lines)
    an = Analyzer(AnalyzeOptions())
    an.rules = build_rules(data, profile.data("error_codes"))
    report = an.run([path])
    assert report["stats"]["fast_path_files"] == 0
    assert "X-NINETY" in {f["rule_id"] for f in report["findings"]}


def test_one_pass_finds_every_literal_even_where_matches_overlap():
    an = Analyzer(AnalyzeOptions())
    lines = [b"2026-03-15 09:00:00.000 INFO [gw] - ok",
             b"2026-03-15 09:00:00.001 INFO [gw] - dial tcp: Connection Refused",  # ASCII case folded
             b"2026-03-15 09:00:00.002 INFO [gw] - nothing here",
             b"2026-03-15 09:00:00.003 INFO [gw] - write: broken pipe; i/o timeout"]  # two on one line
    assert an._hits(b"\n".join(lines), "text") == {1, 3}
    assert an._hits(b"", "text") == set()


def test_byte_forms_cover_json_escapes_and_encodings():
    forms = _byte_forms(("i/o timeout", "连接被拒绝"), json_mode=True)
    assert {b"i/o timeout", b"i\\/o timeout", "连接被拒绝".encode(), "连接被拒绝".encode("gb18030"), b"\\u"} <= forms


# -- property: random logs built from rule-matching fragments and noise --------------------------
FRAGMENTS = [
    *RAW.values(),
    "Connection Refused", "CONNECT: connection refused", "connection refuse", "I/O TIMEOUT", "i/o time out",
    "EMFILE", "ENOSPC", "disk quota exceeded", "OOMKilled", "invoked oom-killer", "java.lang.OutOfMemoryError",
    "deadline", "context deadline exceeded", "could not resolve host", "temporary failure in name resolution",
    "EPIPE", "connection reset by peer", "broken pipes", "self-signed certificate", "certificate expired",
    "panic: nil map", "goroutine 7 [running]:", "fatal error: ", "ERR_IM_5001", "ERR_IM_2101", "err_im_9001",
    "conns=49000", "connections=12", "memory", "certificate", "超时 connection refused 连接", "lookup db: no such host",
]
WORDS = ["sync", "ok", "uid=u1", "retry", "dial", "tcp", "10.0.0.1:80", "write:", "read", "lookup", "on", "1.1.1.1:53",
         "x509:", "status=200", "连接", "超时", "at", "..."]

msg_st = st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(FRAGMENTS)), min_size=1, max_size=6).map(" ".join)
level_st = st.sampled_from(["DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR", "FATAL"])
code_st = st.sampled_from(["-", "-", "-", "ERR_IM_5001", "ERR_IM_3003", "ERR_IM_1102"])


@st.composite
def log_lines(draw, fmt):
    lines = []
    for i in range(draw(st.integers(20, 60))):
        kind = draw(st.sampled_from(["rec"] * 8 + ["cont", "blank", "raw"]))
        if kind == "rec" or i < 20:
            msg = draw(msg_st)
            line = (text_line if fmt == "text" else json_line)(i, draw(level_st), msg, code=draw(code_st))
            if fmt == "json" and draw(st.booleans()):
                line = line.replace("/", "\\/")  # escaped slashes are valid JSON
            lines.append(line)
        elif kind == "cont":
            lead = draw(st.sampled_from(["    ", "\t", "at ", "Caused by: "]))
            lines.append(lead + draw(msg_st))
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", "   ", "\t"])))
        else:
            lines.append(draw(st.sampled_from(FRAGMENTS)))
    return lines


@pytest.mark.parametrize("fmt", ["text", "json"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_path_finds_what_the_full_path_finds(fmt, data):
    lines = data.draw(log_lines(fmt))
    block = data.draw(st.integers(200, 3000))
    with tempfile.TemporaryDirectory() as tmp:
        path = write_log(Path(tmp) / "logs" / "node.log", lines)
        fast = analyze([path], AnalyzeOptions(block_bytes=block))
        slow = analyze([path], AnalyzeOptions(fast_path=False))
    assert fast["stats"]["fast_path_files"] == 1
    assert findings(fast) == findings(slow)
    assert [(t["id"], t["count"]) for t in fast["templates"]] == [(t["id"], t["count"]) for t in slow["templates"]]
    assert fast["stats"]["records"] == slow["stats"]["records"]

