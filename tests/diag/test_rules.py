import copy

import pytest

from imdesk.core.errors import BadInput
from imdesk.diag.formats import Record
from imdesk.diag.rules import build_rules, load_rules
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


def test_prefilter_literals_are_lowercase_and_cover_regex_rules(rules):
    assert rules.prefilter and all(p == p.lower() for p in rules.prefilter)
    for r in rules.regex_rules:
        assert r.prefilter


def _data(profile):
    return copy.deepcopy(profile.data("rules")), profile.data("error_codes")


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda d: d["rules"].append({"id": "X", "codes": ["ERR_IM_0000"]}), "not in the error catalogue"),
        (lambda d: d["rules"].append({"id": "X", "regex": "(", "prefilter": ["x"]}), "invalid regex"),
        (lambda d: d["rules"].append({"id": "X", "regex": "boom"}), "prefilter"),
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
