import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imdesk.core.errors import BadInput
from imdesk.diag.formats import LineParser, compile_header_template, parse_kv
from imdesk.profiles import load_profile


@pytest.fixture(scope="module")
def parser():
    return LineParser.for_profile(load_profile("im_server"))


def recs(parser, lines):
    return list(parser.records(((i, ln.encode()) for i, ln in enumerate(lines, 1)), source="f.log", node="n1"))


def test_text_line_fields_and_zone(parser):
    (r,) = recs(parser, ['2026-03-15 10:23:45.123 ERROR [push] ERR_IM_3001 apns rejected token provider=apns '
                         'status=403 reason="Invalid Token" trace_id=7f3a9c'])
    assert (r.level, r.module, r.code, r.line, r.node) == ("ERROR", "push", "ERR_IM_3001", 1, "n1")
    assert r.ts == pytest.approx(1773541425.123)  # 02:23:45.123 UTC: the profile's zone is UTC+8
    assert r.fields == {"provider": "apns", "status": "403", "reason": "Invalid Token", "trace_id": "7f3a9c"}
    assert r.evidence == "f.log:1"


def test_dash_code_is_none_and_stack_traces_fold(parser):
    rs = recs(parser, [
        "2026-03-15 10:00:00.000 ERROR [api] ERR_IM_9001 internal error",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in f',
        "\tat com.im.Router.dispatch(Router.java:212)",
        "Caused by: java.io.IOException: boom",
        "2026-03-15 10:00:01.000 INFO [msg] - ok",
    ])
    assert len(rs) == 2
    assert len(rs[0].extra) == 4 and "Caused by" in rs[0].text
    assert rs[1].code is None and rs[1].line == 6


def test_json_lines(parser):
    line = json.dumps({"ts": "2026-03-15T10:23:45.123+08:00", "level": "WARNING", "module": "msg", "code": "ERR_IM_2005",
                       "msg": "message expired", "age": "24h", "peer": "u 1"})
    (r,) = recs(parser, [line])
    assert (r.level, r.module, r.code) == ("WARN", "msg", "ERR_IM_2005")
    assert r.ts == pytest.approx(1773541425.123)
    assert r.fields == {"age": "24h", "peer": "u 1"}
    assert r.content.startswith("message expired")


def test_unknown_lines_become_records_without_header(parser):
    (r,) = recs(parser, ["Out of memory: Killed process 2231 (im_server)"])
    assert r.level is None and r.content.startswith("Out of memory")


@pytest.mark.parametrize(
    "fmt,line,content,extra",
    [
        ("<Date> <Time> <Pid> <Level> <Component>: <Content>",
         "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_1 terminating",
         "PacketResponder 1 for block blk_1 terminating", {"Pid": "148", "Level": "INFO"}),
        ("<Date> <Time> - <Level>  \\[<Node>:<Component>@<Id>\\] - <Content>",
         "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
         "Notification time out: 3200", {"Id": "774"}),
        ("<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>",
         "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown",
         "check pass; user unknown", {"PID": "19939"}),
        ("<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>",
         "Jun 15 04:06:18 combo su(pam_unix): session opened for user cyrus by (uid=0)",
         "session opened for user cyrus by (uid=0)", {"PID": None}),
    ],
)
def test_loghub_header_templates(fmt, line, content, extra):
    regex, headers = compile_header_template(fmt)
    m = regex.match(line)
    assert m and m.group("Content") == content
    for k, v in extra.items():
        assert m.group(k) == v
    p = LineParser.from_template(fmt)
    assert p.parse_line(line, "x", "", 1).content == content


def test_whitespace_runs_match_as_loghub_does():
    regex, _ = compile_header_template("<Level> <Content>")
    assert regex.match("INFO    spaced   out").group("Content") == "spaced   out"


@pytest.mark.parametrize("bad", ["<Date> <Time>", "<Date> <Date> <Content>", "<Bad-Name> <Content>", "([ <Content>"])
def test_bad_templates_are_bad_input(bad):
    with pytest.raises(BadInput):
        compile_header_template(bad)


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
                       st.text(alphabet=st.characters(blacklist_characters='"\\\n\r', blacklist_categories=("Cs", "Zs", "Cc")),
                               max_size=12),
                       max_size=5))
def test_kv_roundtrip(d):
    text = "msg " + " ".join(f'{k}="{v}"' if (" " in v or not v) else f"{k}={v}" for k, v in d.items())
    parsed = parse_kv(text)
    for k, v in d.items():
        assert parsed[k] == v
