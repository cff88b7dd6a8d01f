import json

import pytest

from imdesk.core.errors import BadInput
from imdesk.diag.mining import TemplateMiner, mask_tokens


@pytest.fixture(autouse=True, params=["auto", "python"])
def engine(request, monkeypatch):
    """Every test runs with the compiled clustering step (where built) and with the Python one."""
    if request.param == "python":
        monkeypatch.setenv("IMDESK_MINING_ENGINE", "python")
    else:
        monkeypatch.delenv("IMDESK_MINING_ENGINE", raising=False)
    return request.param


def test_masking_of_common_variables():
    toks = mask_tokens('open /var/lib/im/x.db from 10.0.0.7:3306 id=550e8400-e29b-41d4-a716-446655440000 '
                       'addr=0x7ffd hash=deadbeef01 user="Zhang San" mail=a.b@corp.cn at Mon Jan 5 took 35ms')
    assert toks == ("open", "<*>", "from", "<*>", "id=", "<*>", "addr=", "<*>", "hash=", "<*>", "user=", "<*>",
                    "mail=", "<*>", "at", "<*>", "took", "<*>")  # "Mon Jan 5": adjacent variables, one


def test_a_value_of_variable_length_is_one_variable():
    # a number and its unit, a parenthesised size, "<1 sec" next to "00:12": one variable each
    a = mask_tokens("10.0.0.7:80 close, 6014 bytes (5.87 KB) sent, 733 bytes received, lifetime <1 sec")
    b = mask_tokens("h1.example.net:80 close, 403 bytes sent, 0 bytes received, lifetime 00:12")
    assert a == b == ("<*>", "close,", "<*>", "sent,", "<*>", "received,", "lifetime", "<*>")
    assert mask_tokens("size 93.0 B, free 317.1 KB)") == mask_tokens("size 5.2 KB, free 5.2 KB)") == ("size", "<*>", "free", "<*>")
    # a list of ids of any length
    assert mask_tokens("delete blk_1 blk_-2 blk_3 done") == mask_tokens("delete blk_7 done") == ("delete", "<*>", "done")
    # a unit word elsewhere stays a word
    assert mask_tokens("min and max") == ("min", "and", "max")
    m, ids = group_ids(["ask 10.0.0.1:50010 to delete blk_1 blk_2", "ask 10.0.0.2:50010 to delete blk_3",
                        "ask 10.0.0.3:50010 to delete blk_4 blk_5 blk_6 blk_7"])
    assert len(set(ids)) == 1 and m.template(0) == "ask <*> to delete <*>"


def test_fields_stay_apart_when_collapsing():
    # a bracketed value, or one ending a comma-separated field, is not merged with its neighbours
    assert mask_tokens("for ns.example.com [10.0.0.1] failed") == ("for", "ns.example.com", "[<*>]", "failed")
    assert mask_tokens("for 10-0-0-1.example.com [10.0.0.1] failed") == ("for", "<*>", "[<*>]", "failed")
    assert mask_tokens("a:1.0, b:2, c:3") == ("a:<*>,", "b:<*>,", "c:<*>")


def test_a_name_value_token_keeps_its_name():
    # as "uid=1000" keeps "uid=": a name of letters and underscores before the first colon
    assert mask_tokens("onExtend:1514038673000 1 0 4") == ("onExtend:<*>", "<*>")
    assert mask_tokens("user_id:42 port:[8080]") == ("user_id:<*>", "port:[<*>]")
    # a host with dots or digits, a time, an IPv6 address or a MAC address is a value, whole
    assert mask_tokens("db.example.com:5432 node-1:80 12:30:45 fe80::1 00:1a:2b:3c:4d:5e") == ("<*>",)
    m, ids = group_ids(["onExtend:1514038673000 1 0 4", "onExtend:1514038674000 2 0 4", "tryToReload1514044800223|3786|0|0"])
    assert ids[0] == ids[1] != ids[2]
    # an empty group is an absent value
    assert mask_tokens("connection from 10.0.0.1 () at") == mask_tokens("connection from 10.0.0.1 (h1.net) at")
    m, ids = group_ids([f"reverse mapping for {h} [10.0.0.{i}] failed" for i, h in enumerate(["h1.x.net", "ns.a.com", "h2.y.net"])])
    assert len(set(ids)) == 1


def test_literals_are_values_and_http_methods_are_not():
    assert mask_tokens("down true canceled false ws=null") == ("down", "<*>", "canceled", "<*>", "ws=", "<*>")
    assert mask_tokens("updateClipping isOverlap:false, top=3") == ("updateClipping", "isOverlap:<*>,", "top=", "<*>")
    assert mask_tokens("state:RUNNING:true") == ("state:RUNNING:<*>",) and mask_tokens("a:b") == ("a:b",)
    _, ids = group_ids(["updateClipping isOverlap:true, top=3", "updateClipping isOverlap:false, top=5"])
    assert len(set(ids)) == 1
    assert mask_tokens('10.0.0.1 "GET /v2/x/servers HTTP/1.1" status: 200') == ("<*>", '"GET', "<*>", "status:", "<*>")
    assert mask_tokens('10.0.0.1 "POST /v2/x HTTP/1.1" status: 200')[1] == '"POST'
    assert mask_tokens('user="Zhang San" said "get lost"')[:2] == ("user=", "<*>")
    m, ids = group_ids([f'10.0.0.{i} "{v} /v2/a{i} HTTP/1.1" status: 200 len: {i}' for i, v in enumerate(["GET", "POST"] * 5)])
    assert len(set(ids)) == 2


def group_ids(lines):
    m = TemplateMiner()
    keys = [m.add(x) for x in lines]
    return m, [m.template_id(k) for k in keys]


def test_variables_without_digits_merge_and_templates_read_well():
    m, ids = group_ids([f"Invalid user {u} from 10.0.0.{i}" for i, u in enumerate(["admin", "oracle", "test", "guest"])])
    assert len(set(ids)) == 1
    assert m.template(0) == "Invalid user <*> from <*>"


def test_few_distinct_words_stay_separate_templates():
    lines = [f"Failed password for u{i % 7} from 10.0.0.{i} port {1000 + i} ssh2" for i in range(30)]
    lines += ["Accepted password for root from 10.0.0.9 port 2222 ssh2"]
    m, ids = group_ids(lines)
    assert len(set(ids[:30])) == 1 and ids[30] != ids[0]


def test_the_first_word_is_a_constant_unless_the_rest_is_a_long_match():
    lines = [f"{w}  (command {1900 + i})" for i, w in enumerate(["boot", "wait", "halt", "boot", "wait"])]
    _, ids = group_ids(lines)
    assert ids[0] == ids[3] and ids[1] == ids[4] and len({ids[0], ids[1], ids[2]}) == 3
    tail = ": scheduler told me to run this job; however, the start time isn't for {} seconds. Ignoring."
    m, ids = group_ids([f"com.apple.{w}{tail.format(i)}" for i, w in enumerate(["Safari.Update", "fmfd.heartbeat", "CacheDelete"])])
    assert len(set(ids)) == 1 and m.template(0).startswith("<*> scheduler told me")
    # a first word that is a variable joins whatever fits
    _, ids = group_ids(["10.0.0.1 open through proxy p:5070 HTTPS", "h.example.net:443 open through proxy p:5070 HTTPS"])
    assert len(set(ids)) == 1


def test_a_split_template_is_split_again_by_the_same_rule():
    lines = [f"task_{i} Task Transitioned from new to scheduled" for i in range(6)]
    lines += ["task_9 Task Transitioned from scheduled to running"]
    lines += [f"attempt_{i} TaskAttempt Transitioned from {a} to {b}" for i, (a, b) in
              enumerate([("new", "unassigned"), ("unassigned", "assigned"), ("assigned", "running")] * 2)]
    m, ids = group_ids(lines)
    # "Task" and "TaskAttempt" differ in one of few words; after "Task", the states took two values
    # each (constants), after "TaskAttempt" three (a variable)
    assert len(set(ids[:6])) == 1 and ids[6] != ids[0] and len(set(ids[7:])) == 1 and ids[7] not in ids[:7]
    assert m.template(m._keys[mask_tokens(lines[6])]) == "<*> Task Transitioned from scheduled to running"
    assert sum(g.count for g in m.groups()) == len(lines)


def test_enum_members_are_constants_other_words_are_not():
    states = [("NEW", "INITED"), ("INITED", "SETUP"), ("SETUP", "RUNNING"), ("RUNNING", "SUCCEEDED")]
    m, ids = group_ids([f"job_{i} Transitioned from {a} to {b}" for i, (a, b) in enumerate(states * 2)])
    assert len(set(ids)) == 4 and m.template(0) == "<*> Transitioned from NEW to INITED"
    _, ids = group_ids([f'10.0.0.{i} "{v} /v2/a{i} HTTP/1.1" status: 200' for i, v in enumerate(["GET", "POST", "DELETE"] * 2)])
    assert len(set(ids)) == 3
    # lower-case words taking as many values stay one variable (user names)
    _, ids = group_ids([f"Invalid user {u} from 10.0.0.{i}" for i, u in enumerate(["admin", "oracle", "test", "guest"] * 2)])
    assert len(set(ids)) == 1


def test_unrelated_messages_of_equal_length_do_not_merge():
    _, ids = group_ids(["session opened for user root", "disk quota exceeded on volume data"[:28],
                        "connection closed by peer now"])
    assert len(set(ids)) == 3


def test_add_batch_equals_add():
    lines = [f"req {i} took {i % 13}ms route=/v2/m status={200 + i % 2}" for i in range(500)]
    lines += ["x y z"] * 3 + [f"user {u} quit" for u in ("ann", "bob", "cyd", "dan")]
    a = TemplateMiner()
    ka = [a.add(x) for x in lines]
    b = TemplateMiner()
    kb = b.add_batch(lines[:200]) + b.add_batch(lines[200:])
    assert [a.template_id(k) for k in ka] == [b.template_id(k) for k in kb]
    assert [g.count for g in a.groups()] == [g.count for g in b.groups()]


def test_baseline_is_plain_json_and_marks_new_templates(tmp_path):
    m = TemplateMiner()
    for i in range(10):
        m.add(f"user u{i} logged in from 10.0.0.{i}")
    path = tmp_path / "base.json"
    m.save(path)
    data = json.loads(path.read_text())
    assert data["format"] == "imdesk-templates" and data["templates"]
    m2 = TemplateMiner.load(path)
    old = m2.add("user u99 logged in from 10.1.1.1")
    new = m2.add("disk full on /data")
    assert m2.template_id(old) == m.template_id(0)
    assert not m2.group_of(old).is_new and m2.group_of(new).is_new


@pytest.mark.parametrize("content", ["not json", "[]", '{"format": "pickle"}',
                                     '{"format": "imdesk-templates", "version": 1, "templates": [{"id": 1}]}'])
def test_bad_baselines_are_bad_input(tmp_path, content):
    p = tmp_path / "b.json"
    p.write_text(content)
    with pytest.raises(BadInput):
        TemplateMiner.load(p)


def test_memory_is_bounded():
    m = TemplateMiner(max_clusters=5, max_keys=50)
    for i in range(300):
        m.add(" ".join(f"w{chr(97 + (i * 7 + j) % 26)}x" for j in range(i % 9 + 1)) + f" tok{chr(97 + i % 26)}")
    assert len(m.clusters) <= 5 + 9 and len(m.key_tokens) <= 50 + len(m.clusters)


_ALPHA = "abcdefghXYZ\u00e9\u4e2d"
# with characters str.split() breaks on that bytes regexes do not know as whitespace
_PUNCT = ["", ":", "/", "@", ".", "(", ")", "[", "]", "{", "}", "-", ",", ";", "'", '"', "=", "://", ":\\", "\\",
          '"GET ', " KB", " s,", "()", "\u3000", "\xa0", "\x1c", "\u2028"]


def _piece(draw, with_digit):
    from hypothesis import strategies as st

    body = draw(st.text(alphabet=_ALPHA, max_size=4))
    if with_digit:
        pos = draw(st.integers(0, len(body)))
        body = body[:pos] + draw(st.sampled_from("0123456789")) + body[pos:]
    return body


def _records():
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        parts = []
        for _ in range(draw(st.integers(1, 10))):
            parts.append(("run", draw(st.booleans())))
            parts.append(("sep", draw(st.sampled_from(_PUNCT + [" ", " ", " ", "Jan "]))))
        a = "".join(_piece(draw, d) if k == "run" else d for k, d in parts)
        b = "".join(_piece(draw, d) if k == "run" else d for k, d in parts)
        return a, b

    return build()


def test_same_cache_key_means_same_mask():
    from hypothesis import given, settings

    from imdesk.diag.mining import cache_key

    @settings(max_examples=400, deadline=None)
    @given(_records())
    def check(pair):
        a, b = pair
        ka = cache_key(a.encode())
        if ka == cache_key(b.encode()):
            assert mask_tokens(a) == mask_tokens(b), pair
        # the miner masks a new shape from its cache key: it must mask as the record does
        assert mask_tokens(ka.decode()) == mask_tokens(a), a

    check()


def test_fast_run_collapse_equals_the_cache_key_regex():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from imdesk.diag.mining import _RUNS0, _runs0

    chars = st.sampled_from(list("0a0b=\"' \n\t:/.-_(),;[]{}") + ["\u00e9", "\u3000", "\x1c", "\xa0"])

    @settings(max_examples=400, deadline=None)
    @given(st.lists(chars, max_size=40).map("".join))
    def check(text):
        raw = text.encode("utf-8")
        assert _runs0(raw) == _RUNS0.sub(b"0", raw)

    check()


# the whole-content masks as they were written first: one regex of all alternatives (slow: the
# lookbehinds of its first alternative are tried at every position)
_PRE_AS_WRITTEN = (
    r'(?:(?<="GET )|(?<="PUT )|(?<="POST )|(?<="HEAD )|(?<="PATCH )|(?<="DELETE )|(?<="OPTIONS ))[^"]*(?=")'
    r'|"(?!(?:GET|PUT|POST|HEAD|PATCH|DELETE|OPTIONS) )[^"]*"'
    r"|'[^'\s][^']*'"
    r"|\b[a-z][a-z0-9+.-]*://\S+"
    r"|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"
    r"|(?<![\w/])/(?:[\w.@~+-]+/)+[\w.@~+-]*"
    r"|\b[A-Za-z]:\\[^\s=\"']*"
)


@pytest.mark.parametrize("text", [
    '"abc"GET x"', 'x"GET /a/b" "post /c"', "a/b /c/d //e/f", "mail a.b+c@d.example.org.", "see http://h/x\"y",
    "C:\\Windows\\x=1 'q' '' ' x'", '"GET"', "GET /a/b", "", "/", "p:\\ @x.y ://",
])
def test_fast_whole_content_masks_equal_the_regex_as_written(text):
    import re

    from imdesk.diag.mining import WILDCARD, _pre_sub

    assert _pre_sub(text) == re.compile(_PRE_AS_WRITTEN, re.IGNORECASE).sub(WILDCARD, text)


def test_fast_whole_content_masks_equal_the_regex_as_written_on_any_text():
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from imdesk.diag.mining import WILDCARD, _pre_sub

    ref = re.compile(_PRE_AS_WRITTEN, re.IGNORECASE)
    piece = st.sampled_from(list("\"'/@\\: .+-_~aZ1=") + ['"GET ', '"get ', "POST ", '"OPTIONS ', "http", "://", "C:\\",
                                                       "x@y.cn", "/a/b", "\u00e9", "\u3000"])

    @settings(max_examples=1500, deadline=None)
    @given(st.lists(piece, max_size=24).map("".join))
    def check(text):
        assert _pre_sub(text) == ref.sub(WILDCARD, text)

    check()


def test_a_batch_of_new_shapes_masks_as_one_record_at_a_time():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    word = st.sampled_from(["a", "b=", "c=7", "'q r'", '"x"', "/v/a/b", "u@h.cn", "http://h/x", "C:\\t", "Jan",
                            "id=", "pwd=s", "0x1f", "e\u3000f", "12", "=z", "<*>", "KB", "(3.5", "KB)", "[x1],",
                            "()", "true", '"GET /a HTTP/1.1"', "7;", "on:false,", "GET"])
    line = st.lists(word, max_size=6).map(" ".join)

    @settings(max_examples=200, deadline=None)
    @given(st.lists(line, min_size=1, max_size=30))
    def check(lines):
        a = TemplateMiner()
        ka = [a.add(x) for x in lines]
        b = TemplateMiner()
        kb = b.add_batch(lines)
        assert [a.key_tokens[k] for k in ka] == [b.key_tokens[k] for k in kb]
        assert [a.template_id(k) for k in ka] == [b.template_id(k) for k in kb]

    check()


def test_unicode_whitespace_is_no_part_of_a_cache_run():
    a, b = "ab\u3000c1 x", "zz1 x"
    m = TemplateMiner()
    ka, kb = m.add_batch([b, a])
    assert m.template(ka) == "<*> x" and m.template(kb) == "ab <*> x"


def test_a_url_is_not_collapsed_by_the_cache():
    # "X://0" would become "0": the URL, whose \S+ also took the quote, no longer would
    a, b = 'X://0" "', '://0" "'
    m = TemplateMiner()
    kb, ka = m.add_batch([b, a])
    assert m._keys[mask_tokens(a)] == ka and m._keys[mask_tokens(b)] == kb


def test_a_windows_path_is_not_collapsed_by_the_cache():
    # ":" ends a cache run, but "X:\\0" is one Windows path: "X:0" would mask as "X:<*>"
    a, b = "X:\\0", "X:\\1 Y"
    m = TemplateMiner()
    ka, kb = m.add_batch([a, b])
    assert m._keys[mask_tokens(a)] == ka and m._keys[mask_tokens(b)] == kb
    assert m.template(ka) == "<*>"


def test_repeats_inside_a_batch_are_one_shape_and_counted():
    lines = [f"conn {i} from 10.0.0.{i % 7} closed" for i in range(50)] + ["worker started"] * 5
    m = TemplateMiner()
    keys = m.add_batch(lines)
    assert len(m.key_tokens) == 2 and keys[0] == keys[49] and keys[50] == keys[54]
    assert sorted(g.count for g in m.groups()) == [5, 50]
    assert m.template_ids(keys) == [m.template_id(k) for k in keys]


def test_an_empty_value_is_another_shape():
    lines = [f"auth failure; uid={i} tty=ssh rhost=10.0.{i}.1 user=u{i % 5}" for i in range(20)]
    lines += ["auth failure; uid=0 tty=ssh rhost= user=root"]
    m, ids = group_ids(lines)
    assert len(set(ids[:20])) == 1 and ids[20] != ids[0]
    assert m.template(m._keys[mask_tokens(lines[20])]) == "auth failure; uid=<*> tty=ssh rhost= user=<*>"


def test_secrets_never_become_template_text():
    toks = mask_tokens("login failed user=admin password=hunter token=abc Authorization=Basic")
    assert "hunter" not in toks and "abc" not in toks and "Basic" not in toks
    assert toks[:4] == ("login", "failed", "user=", "admin")


def test_boilerplate_fields_do_not_glue_messages_together():
    tail = " host=im-1 ver=4.2.1 region=cn-east-2 tenant=t{0} span_id={0:08x}"
    msgs = ["query ok table=users rows={0}", "push sent provider=apns dur_ms={0}", "login ok uid=u{0} method=sso",
            "client disconnected uid=u{0} reason=idle", "slow request route=/v2/m dur_ms={0}"]
    lines = [(m + tail).format(i) for i in range(40) for m in msgs]
    m, ids = group_ids(lines)
    assert len(set(ids)) == len(msgs)
    assert m.template(0) == "query ok table=users rows=<*> host=<*> ver=<*> region=<*> tenant=<*> span_id=<*>"


def test_position_index_finds_what_scoring_all_finds():
    import random

    rnd = random.Random(7)
    words = ["".join(rnd.choice("abcdefgh") for _ in range(rnd.randint(2, 4))) for _ in range(20)]
    shapes = [[rnd.choice(words) if rnd.random() < 0.5 else None for _ in range(rnd.randint(3, 6))] for _ in range(150)]
    lines = []
    for i in range(1500):
        shape = shapes[rnd.randrange(len(shapes))]
        lines.append(" ".join(w or (rnd.choice(words) if rnd.random() < 0.5 else f"v{i}") for w in shape)
                     + (" k=v" if i % 23 == 0 else ""))
    results = []
    for index_from in (1, 10**9):
        m = TemplateMiner()
        m.index_from = index_from
        keys = m.add_batch(lines[:1000]) + [m.add(x) for x in lines[1000:]]
        results.append(([m.template_id(k) for k in keys], [m.template(k) for k in keys]))
    assert results[0] == results[1]
    assert len(set(results[0][0])) > 20


def test_a_template_matches_every_record_it_groups():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    word = st.sampled_from(["open", "close", "user", "conn", "Failed", "from", "port", "ok", "ERROR:", "(x)"])
    value = st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(["root", "admin", "10.0.0.1", "/var/a/b", "'q'"]))
    token = st.one_of(word, value, st.tuples(st.sampled_from(["uid", "rhost", "user"]), st.one_of(value, st.just("")))
                      .map(lambda kv: f"{kv[0]}={kv[1]}"))
    line = st.lists(token, min_size=1, max_size=7).map(" ".join)

    @settings(max_examples=150, deadline=None)
    @given(st.lists(line, min_size=1, max_size=60), st.integers(1, 40))
    def check(lines, index_from):
        m = TemplateMiner()
        m.index_from = index_from
        keys = m.add_batch(lines)
        for raw, key in zip(lines, keys, strict=True):
            masked = mask_tokens(raw)
            tokens = m.group_of(key).tokens
            assert len(tokens) == len(masked), (raw, tokens)
            assert all(t in (s, "<*>") for t, s in zip(tokens, masked, strict=True)), (raw, tokens)

    check()
