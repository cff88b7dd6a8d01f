import copy
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imdesk.core.errors import BadInput
from imdesk.diag.formats import Record
from imdesk.diag.rules import MIN_LITERAL, build_rules, load_rules, required_literals
from imdesk.profiles import load_profile


@pytest.fixture(scope="module")
def profile():
    return load_profile("im_server")


@pytest.fixture(scope="module")
def rules(profile):
    return load_rules(profile)


def rec(content, code=None, level="ERROR", module="storage"):
    return Record(None, level, module, code, content, "f.log", "", 1)


def test_every_catalogue_code_has_a_rule(profile, rules):
    codes = {c["code"] for c in profile.data("error_codes")["codes"]}
    assert len(codes) == 25
    assert codes <= set(rules.by_code)


def test_catalogue_entries_are_complete_and_bilingual(profile):
    for c in profile.data("error_codes")["codes"]:
        assert c["severity"] in ("critical", "error", "warning", "info")
        assert c["informational"] == (c["severity"] == "info")
        for k in ("title", "meaning", "fix"):
            assert c[k]["en"] and c[k]["zh"], (c["code"], k)
        assert c["causes"]["en"] and c["causes"]["zh"]


@pytest.mark.parametrize(
    "text,rule_id,target",
    [
        ("dial tcp 10.0.3.5:3306: connect: connection refused", "RAW-CONNECTION-REFUSED", "10.0.3.5:3306"),
        ("read tcp 10.0.0.11:50122->10.0.1.21:6379: i/o timeout", "RAW-IO-TIMEOUT", "10.0.1.21:6379"),
        ("accept tcp [::]:8443: accept4: too many open files", "IM-1102-TOO-MANY-OPEN-FILES", None),
        ("write /data/f.bin: no space left on device", "IM-5201-FILE-STORE-FULL", None),
        ("x509: certificate has expired or is not yet valid", "RAW-X509-EXPIRED", None),
        ("x509: certificate signed by unknown authority", "RAW-X509-UNKNOWN-AUTHORITY", None),
        ("Out of memory: Killed process 2231 (im_server) total-vm:1kB", "RAW-OOM-KILLED", None),
        ("Memory cgroup out of memory: Killed process 1 (im_server)", "RAW-OOM-KILLED", None),
        ("store failed: context deadline exceeded", "RAW-DEADLINE", None),
        ("dial tcp: lookup db.internal on 10.0.0.2:53: no such host", "RAW-DNS", "db.internal"),
        ("write tcp 1.2.3.4:8443->5.6.7.8:5000: write: broken pipe", "RAW-BROKEN-PIPE", None),
        ("Connection Refused by peer", "RAW-CONNECTION-REFUSED", None),
    ],
)
def test_raw_messages_without_a_code(rules, text, rule_id, target):
    hits = {r.id: t for r, t in rules.match(rec(text))}
    assert rule_id in hits
    assert hits[rule_id] == target


def test_code_rules_match_at_any_level(rules):
    hits = [r.id for r, _ in rules.match(rec("database unreachable", code="ERR_IM_5001", level="INFO"))]
    assert hits == ["IM-5001-DB-UNREACHABLE"]
    assert rules.by_id["IM-5001-DB-UNREACHABLE"].severity == "critical"
    assert rules.by_id["IM-2101-DUPLICATE"].severity == "info"


def test_every_regex_rule_has_derived_literals(rules):
    assert not rules.unfiltered
    assert rules.prefilter and all(p == p.lower() for p in rules.prefilter)
    for r in rules.regex_rules:
        assert r.prefilter and all(len(p) >= MIN_LITERAL for p in r.prefilter), r.id
    by = {r.id: set(r.prefilter) for r in rules.regex_rules}
    assert by["RAW-CONNECTION-REFUSED"] == {"connection refused"}  # the optional "dial tcp ..." adds nothing
    assert by["IM-9001-INTERNAL"] == {"panic:", "goroutine ", "fatal error: "}
    assert {"no such host", "could not resolve host"} <= by["RAW-DNS"]
    # codes are literals too: a code rule matches when the record's code is one of its codes
    assert "err_im_5001" in rules.line_literals() and "connection refused" in rules.line_literals()


@pytest.mark.parametrize(
    "pattern,expected",
    [
        ("Connection Refused", ("connection refused",)),  # ASCII-lower-cased
        ("(?:connect: )?connection refused", ("connection refused",)),
        ("self[- ]signed certificate", ("self signed certificate", "self-signed certificate")),
        ("out of memory: kill(?:ed)? process", ("out of memory: kill process", "out of memory: killed process")),
        ("broken pipe|\\bEPIPE\\b", ("broken pipe", "epipe")),
        ("lookup \\S+: (?:no such host|i/o timeout)", (": i/o timeout", ": no such host")),
        ("(?:ab|cd)+ overflow", (" overflow",)),
        ("fail(?:ed|ure)?", ("fail",)),
        ("panic: boom\\n\\s+at main", ("panic: boom",)),  # a literal never spans a line break
        ("x{3} marks", ("xxx marks",)),
        ("(?=abc)abcdef", ("abcdef",)),
        # no literal of 3+ characters every match holds: the rule is unfiltered
        ("took \\d+ms|ok", ()),
        ("a.*b", ()),
        ("(?:disk full)*", ()),
        ("[^x]+ failed|ok", ()),
        ("(a)\\1 problem|x", ()),
    ],
)
def test_required_literals(pattern, expected):
    assert required_literals(re.compile(pattern, re.IGNORECASE | re.ASCII)) == expected


def _catalogue_regexes():
    return [r.regex for r in load_rules(load_profile("im_server")).regex_rules]


@pytest.mark.parametrize("pattern", _catalogue_regexes() + [
    re.compile(p, re.IGNORECASE | re.ASCII | re.MULTILINE)
    for p in ("(?:x|y)?z{2,4}(?:q|rs)ab", "a(?:bc|de)?f(?:gh)?ij", "(?:(?:ab|c)d){2}e", "k[a-d]l+mn")
])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_match_holds_a_required_literal(pattern, data):
    """Strings drawn from the regex itself (random case, random text around) hold a literal."""
    lits = required_literals(pattern)
    text = data.draw(st.from_regex(pattern))
    m = pattern.search(text)
    assert m is not None
    if lits:
        low = m.group(0).translate({c: c + 32 for c in range(65, 91)})
        assert any(x in low for x in lits), (text, lits)


def test_regexes_ignore_ascii_case_only(rules):
    assert {r.id for r, _ in rules.match(rec("DIAL TCP 1.2.3.4:80: CONNECT: CONNECTION REFUSED"))} == {
        "RAW-CONNECTION-REFUSED"}
    # the Kelvin sign folds to "k" under Unicode rules; with re.ASCII it does not, so a line's
    # lower-cased bytes hold a rule's literal whenever the rule matches
    assert not rules.match(rec("out of memory: \u212aill process 1"))
    assert rules.match(rec("out of memory: kill process 1"))


def test_a_rule_without_literals_is_unfiltered(profile):
    data, cat = _data(profile)
    data["rules"].append({"id": "X-NINETY", "regex": "\\b9\\d%", "severity": "error"})  # "disk at 97%"
    rs = build_rules(data, cat)
    assert rs.unfiltered == ("X-NINETY",) and rs.by_id["X-NINETY"].prefilter == ()
    assert [r.id for r, _ in rs.match(rec("disk at 97%"))] == ["X-NINETY"]


def _data(profile):
    return copy.deepcopy(profile.data("rules")), profile.data("error_codes")


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda d: d["rules"].append({"id": "X", "codes": ["ERR_IM_0000"]}), "not in the error catalogue"),
        (lambda d: d["rules"].append({"id": "X", "regex": "(", "prefilter": ["x"]}), "invalid regex"),
        (lambda d: d["rules"].append({"id": "X", "regex": "boom", "prefilter": ["boom"]}), "derived from the regex"),
        (lambda d: d["rules"].append({"id": "X"}), "needs codes"),
        (lambda d: d["rules"].append(dict(d["rules"][0])), "duplicate"),
        (lambda d: d["rules"].append({"id": "X", "codes": ["ERR_IM_1001"], "severity": "bad"}), "severity"),
        (lambda d: d["rules"].append({"id": "X", "codes": ["ERR_IM_1001"], "explains": ["NOPE"]}), "unknown rule"),
        (lambda d: d["config_rules"].append({"id": "C", "check": {"kind": "nope"}}), "check.kind"),
    ],
)
def test_malformed_catalogues_are_refused_clearly(profile, mutate, message):
    data, cat = _data(profile)
    mutate(data)
    with pytest.raises(BadInput, match=message):
        build_rules(data, cat)
