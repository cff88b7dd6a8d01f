"""The compiled clustering step (imdesk.diag._fastmine) against the miner's Python methods: the same
records give the same clusters, tokens and template ids, whatever the settings."""

import os

import pytest

from imdesk.diag import mining
from imdesk.diag.mining import TemplateMiner

compiled = pytest.mark.skipif(mining._CompiledEngine is None, reason="imdesk.diag._fastmine is not built here")


def test_the_compiled_engine_is_built_where_required():
    # CI sets IMDESK_REQUIRE_COMPILED=1: a build that silently fell back to Python fails there
    if os.environ.get("IMDESK_REQUIRE_COMPILED") and mining._CompiledEngine is None:
        pytest.fail("imdesk.diag._fastmine is required (IMDESK_REQUIRE_COMPILED=1) but not built")
    if mining._CompiledEngine is not None:
        assert TemplateMiner().engine == "compiled"


def test_the_environment_can_ask_for_python(monkeypatch):
    monkeypatch.setenv("IMDESK_MINING_ENGINE", "python")
    assert TemplateMiner().engine == "python"


def test_unknown_engines_are_bad_input(monkeypatch):
    from imdesk.core.errors import BadInput

    with pytest.raises(BadInput):
        TemplateMiner(engine="fortran")
    monkeypatch.setenv("IMDESK_MINING_ENGINE", "pyhton")  # a typo is an error, not silently the default
    with pytest.raises(BadInput, match="IMDESK_MINING_ENGINE"):
        TemplateMiner()


def test_a_cli_run_with_a_bad_engine_setting_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    from imdesk.cli import main

    (tmp_path / "a.log").write_text("2026-11-24 10:00:01.123 ERROR [gateway] ERR_IM_1002 token expired uid=7\n")
    monkeypatch.setenv("IMDESK_MINING_ENGINE", "pyhton")
    with pytest.raises(SystemExit) as exc:
        main(["diag", "templates", str(tmp_path / "a.log"), "--json"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "IMDESK_MINING_ENGINE" in err and len(err.strip().splitlines()) == 1


def _run(engine, lines, **settings):
    m = TemplateMiner(engine=engine, **{k: v for k, v in settings.items() if k in ("max_clusters", "max_keys", "sim_threshold")})
    for k in ("index_from", "fallback_scan", "tail_constants"):
        if k in settings:
            setattr(m, k, settings[k])
    half = len(lines) // 2
    keys = m.add_batch(lines[:half]) + [m.add(x) for x in lines[half:]]
    return m, keys


def _same(lines, **settings):
    a, ka = _run("python", lines, **settings)
    b, kb = _run("compiled", lines, **settings)
    assert [a.template_id(k) for k in ka] == [b.template_id(k) for k in kb]
    assert [a.template(k) for k in ka] == [b.template(k) for k in kb]
    b._sync()
    assert [(c.id, c.tokens, c.count) for c in a.clusters] == [(c.id, c.tokens, c.count) for c in b.clusters]
    return a, b


_WORDS = ["open", "close", "user", "conn", "Failed", "from", "port", "ok", "ERROR:", "(x)", "<*>", "a", "b", "c"]


@compiled
def test_both_engines_cluster_alike():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    value = st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(["root", "admin", "10.0.0.1", "/var/a/b", "'q'", ""]))
    token = st.one_of(
        st.sampled_from(_WORDS), value,
        st.tuples(st.sampled_from(["uid", "rhost", "user"]), value).map(lambda kv: f"{kv[0]}={kv[1]}"),
    )
    # lines of a few lengths made of few words, so that many agree on some positions
    line = st.lists(st.one_of(st.sampled_from(_WORDS[:5]), token), min_size=2, max_size=6).map(" ".join)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(line, min_size=1, max_size=120), st.integers(1, 40), st.integers(1, 30), st.integers(0, 4),
           st.sampled_from([0.3, 0.5, 0.7, 1.0]))
    def check(lines, index_from, fallback_scan, tail_constants, sim):
        _same(lines, index_from=index_from, fallback_scan=fallback_scan, tail_constants=tail_constants, sim_threshold=sim)

    check()


@compiled
def test_both_engines_alike_on_many_shapes_of_one_length():
    # crowded lengths take the position index, the fallback window and the tail rule
    import random

    rnd = random.Random(11)
    words = ["".join(rnd.choice("abcdefgh") for _ in range(rnd.randint(2, 4))) for _ in range(30)]
    lines = []
    for i in range(3000):
        n = rnd.randint(4, 7)
        toks = [rnd.choice(words) if rnd.random() < 0.7 else f"v{i % 97}" for _ in range(n)]
        if i % 13 == 0:
            toks.insert(rnd.randrange(n), f"k{rnd.randint(1, 3)}=x{i}")
        lines.append(" ".join(toks))
    for index_from in (1, 32, 10**9):
        a, _ = _same(lines, index_from=index_from, fallback_scan=50)
        assert len(a.clusters) > 50


@compiled
def test_both_engines_bound_the_fastmine_alike():
    lines = [f"w{i} x{i % 7} y{i % 3} z" for i in range(400)]
    a, b = _same(lines, max_clusters=5, max_keys=50)
    assert len(b.clusters) <= 5 + 9


@compiled
def test_a_baseline_loads_into_the_compiled_engine(tmp_path):
    lines = [f"user u{i % 5} logged in from 10.0.0.{i}" for i in range(50)] + [f"disk {i} full" for i in range(9)]
    a, _ = _run("compiled", lines)
    a.save(tmp_path / "b.json")
    b = TemplateMiner.load(tmp_path / "b.json")
    assert b.engine == "compiled"
    keys = b.add_batch(lines + ["something else entirely 1"])
    new = [b.group_of(k).is_new for k in keys]
    assert not any(new[:-1]) and new[-1]
    assert b.template_id(keys[0]) == a.template_id(a.add_batch([lines[0]])[0])


@compiled
def test_compiled_cache_keys_equal_the_regex():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from imdesk.diag._fastmine import cache_keys0
    from imdesk.diag.mining import _DIGITS_TO_ZERO, _cache_key0

    piece = st.sampled_from(list("0a0b=\"' \t\r\x0b\x0c:/.-_(),;[]{}") + ["\u00e9", "\u3000", "\x1c", "\x1f", "\xa0", "://", "x0y"])

    @settings(max_examples=500, deadline=None)
    @given(st.lists(st.lists(piece, max_size=30).map("".join), max_size=5))
    def check(texts):
        norms = [t.encode("utf-8").translate(_DIGITS_TO_ZERO) for t in texts]
        assert cache_keys0(norms) == [_cache_key0(n) for n in norms]

    check()


@compiled
def test_compiled_masking_loop_equals_collapse():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from imdesk.diag._fastmine import masked_records
    from imdesk.diag.mining import _UNITS, WILDCARD, _collapse, _TokenMasks

    word = st.sampled_from(["a", "7", "KB", "KB)", "s,", "<*>", "x=1", "k=", "[3]", "(5", "true", "ms", "%", "bytes", "b=c"])

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.lists(word, max_size=9), max_size=6))
    def check(split):
        tok = _TokenMasks()
        want = [_collapse(tuple(t for w in parts for t in tok[w])) for parts in split]
        assert masked_records(split, _TokenMasks(), WILDCARD, _UNITS) == want

    check()


@compiled
def test_the_compiled_first_cache_gives_the_keys_of_the_python_one():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    piece = st.sampled_from(["a", "b1", "22", " ", "=", "x=9", "\u00e9", "\u3000", "\n", "://h/1", '"q 1"', "0"])

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.lists(piece, max_size=8).map("".join), min_size=1, max_size=40), st.integers(1, 50))
    def check(lines, limit):
        a = TemplateMiner(engine="python")
        b = TemplateMiner(engine="compiled")
        b._shapes.limit = limit  # clearing often changes no key
        half = len(lines) // 2
        ka = a.add_batch(lines[:half]) + a.add_batch(lines[half:])
        kb = b.add_batch(lines[:half]) + b.add_batch(lines[half:])
        assert [a.key_tokens[k] for k in ka] == [b.key_tokens[k] for k in kb]
        assert a.key_count == b.key_count

    check()


@compiled
def test_a_record_without_utf8_takes_the_bytes_way():
    m = TemplateMiner(engine="compiled")
    keys = m.add_batch(["ok 1", "bad \udcff 2", "ok 3"])
    assert keys[0] == keys[2] != keys[1]
    assert m.key_count[keys[0]] == 2


@compiled
@pytest.mark.parametrize("word", [
    "a", "Jan", "x=1", "=x", "k=", "password=s3cr3t", "-_token=abc", "a1=b", "<*>=x", "k=<*>", "k=true,", "(1)", "[a1],",
    "7;", ",", ";", "()", "isOverlap:true,", "a:b:null;", ":true", "\u0661\u0662", "x\u00b2", "\u00e9t\u00e9", "\u4e2d1",
    "ab", "a;", "a,", "[]", "\"\"", "k==v", "onExtend:15", "a_b:1,", "x.y:5", "ab:<*>", ":5", "a:", "a:b:3", "\u00e9:1",
])
def test_compiled_word_masks_equal_python(word):
    from imdesk.diag._fastmine import mask_word
    from imdesk.diag.mining import _mask_token

    assert mask_word(word) == _mask_token(word)


@compiled
def test_compiled_word_masks_equal_python_on_any_word():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from imdesk.diag._fastmine import mask_word
    from imdesk.diag.mining import _mask_token

    piece = st.sampled_from(list("aZ1=:,;()[]{}<>\"'-_.") + ["<*>", "true", "NULL", "Jan", "pwd", "token", "\u0663", "\u00b2",
                                                              "\u00e9", "\u4e2d", "\u2167"])

    @settings(max_examples=1000, deadline=None)
    @given(st.lists(piece, min_size=1, max_size=8).map("".join))
    def check(word):
        assert mask_word(word) == _mask_token(word)

    check()
