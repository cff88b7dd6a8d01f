"""Query planning (codes, synonyms, typos) and highlighted snippets (pure)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from imdesk.kb.catalogue import load_catalogue
from imdesk.kb.queryplan import fts5_match, make_snippet, plain_fts5_match, plan_query, ts_terms
from imdesk.kb.text import Synonyms, TypoCorrector

SYN = Synonyms.from_groups([["推送", "push"], ["掉线", "断开", "disconnect"], ["证书", "certificate"]])
CAT = load_catalogue("im_server")


def test_catalogue_lookup_forms():
    for form in ("ERR_IM_1002", "1002", "err_im_1002", "ERR-IM-1002", " err_im_1002 "):
        assert CAT.get(form).code == "ERR_IM_1002"
    assert CAT.get("ERR_IM_0000") is None and CAT.get("") is None and CAT.get("x" * 500) is None
    assert [e.code for e in CAT.fuzzy("ERR_IM_10002")] == ["ERR_IM_1002"]
    assert len(CAT) == 25


def test_codes_in_query_become_exact_keys():
    p = plan_query("错误码 1002 是什么意思", catalogue=CAT)
    assert "ERRIM1002" in p.code_keys and p.codes[0].code == "ERR_IM_1002"
    p = plan_query("got err_im_5003 when posting", catalogue=CAT)
    assert p.code_keys[0] == "ERRIM5003"
    # the code parts (err, im) are not separate search terms
    flat = {t for g in p.groups for ph in g for t in ph}
    assert "err" not in flat and "im" not in flat and "errim5003" in flat
    # unknown symbolic names are still exact keys
    p = plan_query("ERR_SDK_NOT_INITIALIZED", catalogue=CAT)
    assert p.code_keys == ["ERRSDKNOTINITIALIZED"]


def test_code_typo_is_corrected_through_the_catalogue():
    p = plan_query("ERR_IM_10002", catalogue=CAT)
    assert "ERRIM1002" in p.code_keys


def test_synonyms_and_typos_join_the_group():
    tc = TypoCorrector(["certificate", "disconnect"])
    p = plan_query("推送 certifcate 掉线", synonyms=SYN, corrector=tc)
    groups = {g[0]: g for g in p.groups}
    assert ("push",) in groups[("推送",)]
    assert ("certificate",) in groups[("certifcate",)] and ("证书",) in groups[("certifcate",)]
    assert ("disconnect",) in groups[("掉线",)]
    m = fts5_match(p)
    assert '"push"' in m and '"certificate"' in m and " OR " in m
    assert "disconnect" in ts_terms(p)


def test_empty_and_hostile_queries():
    assert plan_query("").empty and fts5_match(plan_query("")) is None
    assert plan_query("的 了 吗 ?").empty
    p = plan_query('" OR NEAR( * ^ -- ;drop')
    m = fts5_match(p)
    assert m is None or all(part.startswith('"') for part in m.split(" OR "))
    assert plain_fts5_match("推送 掉线") == '"推送" OR "掉线"'


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_fts5_expression_is_always_quoted_terms(q):
    m = fts5_match(plan_query(q, synonyms=SYN, catalogue=CAT))
    if m is not None:
        for part in m.split(" OR "):
            assert part.startswith('"') and part.endswith('"') and part.count('"') == 2


def test_snippet_highlights_and_escapes():
    text = "开头 " * 50 + "推送证书过期后 <b>APNs</b> 拒绝请求，日志出现 ERR_IM_3001。" + " 结尾" * 50
    s = make_snippet(text, ["推送", "证书", "apns", "ERR_IM_3001"], width=80)
    assert "<mark>推送</mark>" in s and "<mark>APNs</mark>" in s and "&lt;b&gt;" in s
    assert s.startswith("…") and s.endswith("…")
    assert "<b>" not in s
    assert make_snippet("plain text", []) == "plain text"


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200), st.lists(st.text(min_size=1, max_size=5), max_size=4))
def test_snippet_never_leaks_markup(text, terms):
    s = make_snippet(text, terms)
    assert "<" not in s.replace("<mark>", "").replace("</mark>", "")
