"""Tokenisation, synonyms and typo tolerance of the knowledge-base search (pure)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from imdesk.kb.text import (
    Synonyms,
    TypoCorrector,
    code_token,
    edit_distance,
    extract_codes,
    extract_numbers,
    index_text,
    query_terms,
    tokenize,
)

TOKEN = re.compile(r"^(?:[0-9a-z]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)$")


def test_chinese_is_segmented_in_search_mode():
    toks = tokenize("推送证书过期导致收不到消息")
    assert "推送" in toks and "证书" in toks and "过期" in toks and "消息" in toks
    # search mode also yields the sub-words of long words
    assert {"错误", "错误码"} <= set(tokenize("错误码"))


def test_codes_are_one_token_plus_parts():
    toks = tokenize("日志里有 ERR_IM_1002 和 err_sdk_not_initialized")
    assert "errim1002" in toks and "1002" in toks
    assert "errsdknotinitialized" in toks
    assert code_token("ERR_IM_1002") == code_token("err_im_1002") == "errim1002"


def test_full_width_and_case_are_normalised():
    assert tokenize("ＡＰＮｓ　证书") == tokenize("apns 证书")


def test_query_terms_drop_stop_words():
    terms = query_terms("错误码 10007 是什么意思")
    assert "10007" in terms and "什么" not in terms and "是" not in terms
    assert query_terms("how do I fix the token") == ["fix", "token"]


def test_extract_codes_and_numbers():
    assert extract_codes("see ERR_IM_1002, err_im_5003.") == ["ERR_IM_1002", "ERR_IM_5003"]
    assert extract_numbers("错误码 6013 或者 10007，版本 4.2.1") == ["6013", "10007"]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_tokens_are_safe_for_fts_and_tsvector(text):
    for tok in tokenize(text):
        assert TOKEN.match(tok), tok
    # the index text round-trips through a whitespace split
    assert index_text(text).split() == tokenize(text)


def test_synonym_expansion_single_and_phrase():
    syn = Synonyms.from_groups([["签名", "UserSig", "token"], ["上限", "超过限制", "limit"], ["too many open files", "ulimit"]])
    exp = dict(syn.expand(tokenize("usersig 超过限制")))
    assert ("签名",) in exp["usersig"] and ("token",) in exp["usersig"]
    assert ("limit",) in exp["超过限制"]
    exp2 = dict(syn.expand(tokenize("too many open files")))
    assert exp2["too many open files"] == [("ulimit",)]


def test_synonyms_from_data_rejects_bad_shape():
    import pytest

    with pytest.raises(ValueError):
        Synonyms.from_data({"groups": "nope"})
    with pytest.raises(ValueError):
        Synonyms.from_data({"groups": [[{"a": 1}]]})


def test_profile_synonyms_load():
    from imdesk.profiles import load_profile

    syn = Synonyms.from_data(load_profile("im_server").data("synonyms"))
    alts = dict(syn.expand(tokenize("掉线")))["掉线"]
    assert ("disconnect",) in alts


def test_edit_distance_basics():
    assert edit_distance("certificate", "certifcate") == 1
    assert edit_distance("redis", "rdeis") == 1  # transposition
    assert edit_distance("abc", "xyzxyz", limit=2) == 3


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcdefgh", max_size=10), st.text(alphabet="abcdefgh", max_size=10))
def test_edit_distance_is_symmetric_and_bounded(a, b):
    d = edit_distance(a, b, limit=20)
    assert d == edit_distance(b, a, limit=20)
    assert d <= max(len(a), len(b))
    assert (d == 0) == (a == b)


def test_typo_corrector():
    tc = TypoCorrector({"certificate": 5, "connection": 3, "redis": 9, "disconnect": 2})
    assert tc.correct("certifcate") == ["certificate"]
    assert tc.correct("conection") == ["connection"]
    assert tc.correct("redis") == ["redis"]
    assert tc.correct("abc") == []  # short words are never "corrected"
    assert tc.correct("zzzzzzzz") == []


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["certificate", "connection", "heartbeat", "backlog", "handshake"]), st.data())
def test_one_typo_is_always_corrected(word, data):
    i = data.draw(st.integers(min_value=0, max_value=len(word) - 1))
    op = data.draw(st.sampled_from(["delete", "replace", "insert"]))
    if op == "delete":
        typo = word[:i] + word[i + 1 :]
    elif op == "replace":
        typo = word[:i] + ("x" if word[i] != "x" else "y") + word[i + 1 :]
    else:
        typo = word[:i] + "q" + word[i:]
    tc = TypoCorrector(["certificate", "connection", "heartbeat", "backlog", "handshake"])
    assert word in tc.correct(typo)
