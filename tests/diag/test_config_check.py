"""config check: YAML problems, schema, unknown keys and every semantic fault class of SPEC §3."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imdesk.core.errors import BadInput
from imdesk.diag.config_check import (
    Facts,
    check_file,
    check_text,
    example_text,
    parse_duration,
    parse_hostport,
    to_sarif,
)

FACTS = Facts({"cpu_count": 8, "open_file_limit": 65_536})
EXAMPLE = example_text()


def check(text: str, facts: Facts = FACTS):
    return check_text(text, facts=facts)


def replaced(*pairs: tuple[str, str]) -> str:
    text = EXAMPLE
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def ids(report) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in report.findings:
        out.setdefault(f.rule_id, []).append(f.key)
    return out


@pytest.mark.parametrize(
    "facts",
    [FACTS, Facts({"cpu_count": 1, "open_file_limit": 1024}, {"open_file_limit"}), Facts()],
)
def test_official_example_has_nothing_of_warning_or_worse(facts):
    report = check(EXAMPLE, facts)
    worse = [f for f in report.findings if f.severity in ("critical", "error", "warning")]
    assert worse == []
    assert report.exit_code() == 0


# Every fault class of SPEC §3 on the right key.
FAULTS = [
    ("pool_size < workers", [("  # workers: 8", "  workers: 32"), ("pool_size: 20", "pool_size: 10")],
     "IMCFG-PERF-001", "storage.database.pool_size", "error"),
    ("workers > 2 x cores", [("  # workers: 8", "  workers: 17")], "IMCFG-PERF-002", "server.workers", "warning"),
    ("max_concurrent vs open files", [("max_concurrent: 50000", "max_concurrent: 200000")],
     "IMCFG-PERF-003", "server.max_concurrent", "error"),
    ("election < 3 x heartbeat", [("election_timeout: 5s", "election_timeout: 2s")],
     "IMCFG-PERF-004", "cluster.election_timeout", "error"),
    ("DEBUG logs", [("level: INFO", "level: DEBUG")], "IMCFG-PERF-005", "log.level", "warning"),
    ("TLS off", [("  enabled: true\n  # REQUIRED when", "  enabled: false\n  # REQUIRED when")],
     "IMCFG-SEC-001", "tls.enabled", "critical"),
    ("old TLS", [('min_version: "1.2"', 'min_version: "1.1"')], "IMCFG-SEC-002", "tls.min_version", "error"),
    ("default jwt secret", [('jwt_secret: "REPLACE-with-output-of-openssl-rand-hex-32"', "jwt_secret: changeme")],
     "IMCFG-SEC-003", "auth.jwt_secret", "critical"),
    ("short jwt secret", [('jwt_secret: "REPLACE-with-output-of-openssl-rand-hex-32"', "jwt_secret: 'Xy7#kq2'")],
     "IMCFG-SEC-003", "auth.jwt_secret", "critical"),
    ("CORS *", [("cors_origins: []", 'cors_origins: ["*"]')], "IMCFG-SEC-004", "api.cors_origins", "error"),
    ("long token ttl", [("token_ttl: 24h", "token_ttl: 30d")], "IMCFG-SEC-005", "auth.token_ttl", "warning"),
    ("weak db password", [("REPLACE_WITH_DB_PASSWORD", "123456")], "IMCFG-SEC-006", "storage.database.dsn", "error"),
    ("ttl < retry window", [("message_ttl: 7d", "message_ttl: 24h")],
     "IMCFG-DATA-001", "message.message_ttl", "error"),
    ("storage growth", [("message_ttl: 7d", "message_ttl: 180d")], "IMCFG-DATA-002", "message.message_ttl", "warning"),
    ("pool wait >= request timeout", [("pool_timeout: 5s", "pool_timeout: 30s")],
     "IMCFG-PERF-006", "storage.database.pool_timeout", "warning"),
    ("default redis password", [('password: ""', "password: foobared")], "IMCFG-SEC-007", "storage.redis.password",
     "warning"),
    ("push without providers", [("providers: [apns, fcm]", "providers: []")], "IMCFG-DATA-004", "push.providers",
     "warning"),
    ("short log retention", [("retention_days: 30", "retention_days: 3")], "IMCFG-DATA-005", "log.retention_days",
     "warning"),
]


@pytest.mark.parametrize("name,pairs,rule_id,key,severity", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_class_reported_on_the_right_key(name, pairs, rule_id, key, severity):
    text = replaced(*pairs)
    report = check(text)
    hits = [f for f in report.findings if f.rule_id == rule_id]
    assert hits, f"{rule_id} not reported: {ids(report)}"
    f = hits[0]
    assert f.key == key
    assert f.severity == severity
    lines = text.splitlines()
    assert f.line is not None and lines[f.line - 1].strip().startswith(key.rpartition(".")[2] + ":")
    assert f.message and f.fix and f.message_zh and f.fix_zh
    assert report.exit_code() == 1


def test_open_file_limit_from_the_shell_is_only_info():
    text = replaced(("max_concurrent: 50000", "max_concurrent: 200000"))
    report = check(text, Facts({"cpu_count": 8, "open_file_limit": 4096}, {"open_file_limit"}))
    hit = [f for f in report.findings if f.rule_id == "IMCFG-PERF-003"][0]
    assert hit.severity == "info" and "shell" in hit.message


def test_workers_default_is_cpu_count_for_pool_rule():
    text = replaced(("pool_size: 20", "pool_size: 4"))
    assert "IMCFG-PERF-001" in ids(check(text, Facts({"cpu_count": 8})))
    assert "IMCFG-PERF-001" not in ids(check(text, Facts({"cpu_count": 2})))


def test_misspelt_key_did_you_mean():
    text = replaced(("max_concurrent: 50000", "max_concurent: 50000"))
    f = [f for f in check(text).findings if f.rule_id == "IMCFG-UNKNOWN-KEY"][0]
    assert f.key == "server.max_concurent" and f.severity == "warning"
    assert "server.max_concurrent" in f.message and "server.max_concurrent" in f.fix
    assert f.line == 19


def test_key_in_wrong_section_after_bad_indentation():
    text = EXAMPLE + "pool_size: 40\n"
    f = [f for f in check(text).findings if f.rule_id == "IMCFG-UNKNOWN-KEY"][0]
    assert f.key == "pool_size" and "storage." in f.message


def test_tabs_are_reported_with_line_and_column():
    text = replaced(("  listen: \"0.0.0.0:8443\"", "\tlisten: \"0.0.0.0:8443\""))
    f = [f for f in check(text).findings if f.rule_id == "IMCFG-YAML-TAB"][0]
    assert f.line == 14 and f.column == 1 and f.key == "listen"


def test_duplicate_keys():
    text = replaced(("    pool_size: 50\n", "    pool_size: 50\n    pool_size: 60\n"))
    f = [f for f in check(text).findings if f.rule_id == "IMCFG-YAML-DUPKEY"][0]
    assert f.key == "storage.redis.pool_size" and "line 64" in f.message and f.line == 65


def test_bad_indentation():
    text = "server:\n  node_id: a\n   listen: 1.2.3.4:80\n"
    f = check(text).findings[0]
    assert f.rule_id == "IMCFG-YAML-INDENT" and f.line == 3 and f.severity == "critical"


def test_syntax_error():
    report = check("server:\n  node_id: [a, b\n")
    assert report.findings[0].rule_id in ("IMCFG-YAML-SYNTAX", "IMCFG-YAML-INDENT")
    assert report.findings[0].line is not None and report.exit_code() == 1


def test_not_a_mapping():
    assert check("- a\n- b\n").findings[0].rule_id == "IMCFG-YAML-ROOT"


@pytest.mark.parametrize(
    "pairs,rule_id,key",
    [
        ([("max_concurrent: 50000", "max_concurrent: lots")], "IMCFG-SCHEMA-TYPE", "server.max_concurrent"),
        ([("max_concurrent: 50000", "max_concurrent: 50")], "IMCFG-SCHEMA-RANGE", "server.max_concurrent"),
        ([("format: text", "format: xml")], "IMCFG-SCHEMA-ENUM", "log.format"),
        ([("request_timeout: 30s", "request_timeout: 30 seconds")], "IMCFG-SCHEMA-DURATION", "server.request_timeout"),
        ([("request_timeout: 30s", "request_timeout: 10m")], "IMCFG-SCHEMA-RANGE", "server.request_timeout"),
        ([('listen: "0.0.0.0:8443"', 'listen: "0.0.0.0:70000"')], "IMCFG-SCHEMA-HOSTPORT", "server.listen"),
        ([('"redis.example.internal:6379"', '"redis.example.internal"')], "IMCFG-SCHEMA-HOSTPORT", "storage.redis.addrs"),
        ([("postgres://im_server", "mongodb://im_server")], "IMCFG-SCHEMA-DSN", "storage.database.dsn"),
        ([('brokers: ["kafka.example.internal:9092"]', "brokers: []")], "IMCFG-SCHEMA-LIST", "mq.brokers"),
        ([("node_id: im-node-1", "node_id: IM_Node_1")], "IMCFG-SCHEMA-PATTERN", "server.node_id"),
        ([("node_id: im-node-1\n", "")], "IMCFG-SCHEMA-REQUIRED", "server.node_id"),
        ([("  cert_file: /etc/im_server/tls/server.crt\n", "")], "IMCFG-SCHEMA-REQUIRED", "tls.cert_file"),
        ([("providers: [apns, fcm]", "providers: [apns, fcn]")], "IMCFG-SCHEMA-ENUM", "push.providers"),
        ([("utc: false", "utc: 'no'")], "IMCFG-SCHEMA-TYPE", "log.utc"),
    ],
)
def test_schema_findings(pairs, rule_id, key):
    report = check(replaced(*pairs))
    assert key in ids(report).get(rule_id, []), ids(report)


def test_invalid_value_does_not_fall_back_to_default_in_rules():
    # pool_size invalid: the pool rule must not compare the default instead
    text = replaced(("  # workers: 8", "  workers: 32"), ("pool_size: 20", "pool_size: many"))
    got = ids(check(text))
    assert "IMCFG-SCHEMA-TYPE" in got and "IMCFG-PERF-001" not in got


def test_secret_values_never_appear_in_messages():
    text = replaced(('jwt_secret: "REPLACE-with-output-of-openssl-rand-hex-32"', "jwt_secret: hunter2"),
                    ("REPLACE_WITH_DB_PASSWORD", "123456"))
    report = check(text)
    blob = str(report.to_dict())
    assert "hunter2" not in blob and "123456" not in blob


def test_bad_files(tmp_path):
    binary = tmp_path / "cfg.yaml"
    binary.write_bytes(b"\x7fELF\x00\x01\x02")
    with pytest.raises(BadInput, match="binary"):
        check_file(binary)
    with pytest.raises(BadInput, match="no such file"):
        check_file(tmp_path / "missing.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("server:\n  node_id: caf\xe9\n".encode("latin-1"))
    with pytest.raises(BadInput, match="UTF-8"):
        check_file(latin)
    with pytest.raises(BadInput, match="directory"):
        check_file(tmp_path)


def test_sarif_shape():
    report = check(replaced(("level: INFO", "level: DEBUG")))
    sarif = to_sarif(report)
    result = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "IMCFG-PERF-005"][0]
    assert result["level"] == "warning"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 107


def test_chinese_text():
    f = [f for f in check(replaced(("level: INFO", "level: DEBUG"))).findings if f.rule_id == "IMCFG-PERF-005"][0]
    assert "生产环境" in f.text("zh")[0]


@given(st.integers(0, 10**6), st.sampled_from(["ms", "s", "m", "h", "d"]))
def test_duration_roundtrip(n, unit):
    factor = {"ms": timedelta(milliseconds=1), "s": timedelta(seconds=1), "m": timedelta(minutes=1),
              "h": timedelta(hours=1), "d": timedelta(days=1)}[unit]
    assert parse_duration(f"{n}{unit}") == n * factor


@given(st.text(max_size=12))
def test_duration_never_crashes(s):
    d = parse_duration(s)
    assert d is None or d >= timedelta(0)


@given(st.text(max_size=30))
def test_hostport_never_crashes(s):
    hp = parse_hostport(s)
    assert hp is None or 1 <= hp[1] <= 65535
