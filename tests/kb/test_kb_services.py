"""Articles, revisions, import/export, search on SQLite and PostgreSQL, deflection events."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.factories import make_user
from tests.kb.factories import make_article, make_corpus

from imdesk.accounts.services import SYSTEM
from imdesk.core.errors import PermissionDenied
from imdesk.kb import community, queries, services
from imdesk.kb.errors import ErrorCodeNotFound, InvalidQuery, InvalidSlug, InvalidTransition
from imdesk.kb.models import Revision
from imdesk.kb.search import Filters, search


def slugs(result) -> list[str]:
    return [h.slug for h in result.hits]


def test_chinese_search_finds_the_article(session):
    make_corpus(session)
    res = search(session, "苹果手机收不到推送")
    assert slugs(res)[0] == "push-cert-expired"
    assert "<mark>" in res.hits[0].snippet


def test_error_code_exact_match_comes_first_in_every_form(session):
    make_corpus(session)
    # another article mentions 5003 only in passing
    make_article(session, slug="pool-mention", title="数据库连接池调优指南", body="连接池参数说明。偶尔也会看到 ERR_IM_5003。")
    for q in ("ERR_IM_5003", "5003", "err_im_5003", "错误码 5003 是什么意思", "ERR_IM_50003"):
        res = search(session, q)
        assert slugs(res)[0] == "db-pool-timeout", q
        assert res.hits[0].exact


def test_synonyms_bridge_languages_and_words(session):
    make_corpus(session)
    assert "token-expired-en" in slugs(search(session, "签名过期 掉线"))
    assert slugs(search(session, "连接数超过限制"))[0] == "max-concurrent"


def test_typo_tolerance_for_latin_words(session):
    make_corpus(session)
    assert slugs(search(session, "certifcate"))[0] == "push-cert-expired"
    assert slugs(search(session, "databse pool"))[0] == "db-pool-timeout"


def test_title_boost(session):
    make_article(session, slug="body-only", title="杂项说明", body="心跳 超时 的 说明 " * 3)
    make_article(session, slug="in-title", title="集群心跳超时", body="检查网络。")
    assert slugs(search(session, "心跳超时"))[0] == "in-title"


def test_filters(session):
    make_corpus(session)
    res = search(session, "token expired pool", filters=Filters(lang="en", module="storage"))
    assert slugs(res) == ["db-pool-timeout"]
    assert all(h.category == "scenario" for h in search(session, "推送", filters=Filters(category="scenario")).hits)
    assert search(session, "推送", filters=Filters(category="module")).hits == []


def test_drafts_are_not_searchable_until_published(session, clock):
    make_article(session, slug="draft-one", title="草稿：推送配置", status="draft")
    assert "draft-one" not in slugs(search(session, "推送配置"))
    services.do_transition_article(session, SYSTEM, "draft-one", "review", clock=clock)
    services.do_transition_article(session, SYSTEM, "draft-one", "published", clock=clock)
    session.flush()
    assert "draft-one" in slugs(search(session, "推送配置"))
    with pytest.raises(InvalidTransition):
        services.do_transition_article(session, SYSTEM, "draft-one", "review", clock=clock)
    services.do_transition_article(session, SYSTEM, "draft-one", "draft", clock=clock)
    session.flush()
    assert "draft-one" not in slugs(search(session, "推送配置"))
    art = services.get_article_for_edit(session, "draft-one")
    numbers = session.scalars(select(Revision.number).where(Revision.article_id == art.id)).all()
    assert sorted(numbers) == [1, 2, 3, 4]


def test_saving_is_staff_only_and_validates(session):
    customer = make_user(session, "customer")
    with pytest.raises(PermissionDenied):
        make_article(session, actor=customer)
    with pytest.raises(InvalidSlug):
        make_article(session, slug="../etc/passwd")


def test_unsafe_markdown_is_sanitised_in_the_api_view(session):
    from imdesk.kb.render import render_markdown

    a = make_article(session, body="<script>alert(1)</script>\n\n[x](javascript:alert(1))")
    html = render_markdown(a.body)
    assert "<script" not in html and 'href="javascript' not in html


def test_import_is_idempotent_and_skips_only_bad_files(session, tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "push.md").write_text(
        "---\ntitle: 推送问题\nerror_codes: [ERR_IM_3001]\ntags: [push]\n---\n正文", encoding="utf-8")
    (tmp_path / "b.md").write_text("---\ntitle: Second\nlang: en\nslug: second-one\n---\nbody", encoding="utf-8")
    (tmp_path / "bad.md").write_text("---\ntitle: x\ncategory: nope\n---\n", encoding="utf-8")
    (tmp_path / "evil.md").write_text("---\ntitle: x\nslug: ../../x\n---\n", encoding="utf-8")
    (tmp_path / "big.md").write_text("---\ntitle: x\n---\n" + "x" * 1_100_000, encoding="utf-8")
    (tmp_path / "latin1.md").write_bytes("---\ntitle: caf\xe9\n---\n".encode("latin-1"))
    r1 = services.import_directory(session, SYSTEM, tmp_path)
    assert (r1.created, r1.updated, r1.unchanged) == (2, 0, 0)
    assert len(r1.errors) == 4
    assert any(e.startswith("bad.md:3:") for e in r1.errors)
    assert any(e.startswith("evil.md:3:") for e in r1.errors)
    assert any("big.md" in e and "larger" in e for e in r1.errors)
    assert any("latin1.md" in e and "UTF-8" in e for e in r1.errors)
    r2 = services.import_directory(session, SYSTEM, tmp_path)
    assert (r2.created, r2.updated, r2.unchanged) == (0, 0, 2)
    (tmp_path / "b.md").write_text("---\ntitle: Second v2\nlang: en\nslug: second-one\n---\nbody", encoding="utf-8")
    r3 = services.import_directory(session, SYSTEM, tmp_path)
    assert (r3.created, r3.updated, r3.unchanged) == (0, 1, 1)
    session.flush()
    assert slugs(search(session, "3001"))[0] == "push"


def test_export_then_import_round_trip(session, tmp_path: Path):
    make_corpus(session)
    n = services.export_directory(session, SYSTEM, tmp_path / "out")
    assert n == 6
    text = (tmp_path / "out" / "push-cert-expired.md").read_text(encoding="utf-8")
    assert "ERR_IM_3001" in text
    r = services.import_directory(session, SYSTEM, tmp_path / "out")
    assert r.unchanged == 6 and not r.errors


def test_error_code_lookup_and_linked_articles(session):
    make_corpus(session)
    entry = queries.lookup_error_code("err_im_3001")
    assert [a.slug for a in queries.articles_for_code(session, entry)] == ["push-cert-expired"]
    with pytest.raises(ErrorCodeNotFound) as ei:
        queries.lookup_error_code("ERR_IM_3011")
    assert "ERR_IM_3001" in ei.value.detail


def test_bad_queries_are_clear_errors(session):
    for q in ("", "   ", "x" * 501):
        with pytest.raises(InvalidQuery):
            queries.run_search(session, q)
    with pytest.raises(InvalidQuery):
        queries.run_search(session, "push", lang="fr")
    # FTS syntax in user input is just text
    queries.run_search(session, '" OR NEAR(a b) * -x AND')


def test_draft_from_ticket(session, clock):
    agent = make_user(session, "agent")
    a = services.draft_article_from_ticket(session, agent, title="Push fails after cert rotation", body="Steps...",
                                           ticket_ref="T-1042", clock=clock)
    b = services.draft_article_from_ticket(session, agent, title="Push fails after cert rotation", body="x",
                                           ticket_ref="T-1042", clock=clock)
    assert a.status == "draft" and a.source_ticket_ref == "T-1042" and a.slug != b.slug
    with pytest.raises(PermissionDenied):
        services.draft_article_from_ticket(session, make_user(session, "customer"), title="x", body="y",
                                           ticket_ref="T-1")


def test_deflection_events_and_monthly_rate(session, clock):
    make_corpus(session)
    cust = make_user(session, "customer")
    s1 = services.do_record_suggestions(session, cust, token=None, query="推送", shown=["push-cert-expired"], clock=clock)
    s1b = services.do_record_suggestions(session, cust, token=s1.token, query="推送 证书", shown=["split-brain"],
                                         clock=clock)
    assert s1b.id == s1.id and s1b.shown == ["push-cert-expired", "split-brain"]
    services.do_open_suggestion(session, cust, s1.token, "push-cert-expired", clock=clock)
    assert services.do_abandon_ticket(session, cust, s1.token, clock=clock)
    s2 = services.do_record_suggestions(session, cust, token=None, query="脑裂", shown=["split-brain"], clock=clock)
    services.do_link_ticket(session, s2.token, "T-7", clock=clock)
    clock.advance(timedelta(days=40))
    services.do_record_suggestions(session, cust, token=None, query="x", shown=["split-brain"], clock=clock)
    session.flush()
    rows = queries.deflection_by_month(session, SYSTEM)
    assert [r["month"] for r in rows] == ["2026-11", "2027-01"]
    assert rows[0]["sessions"] == 2 and rows[0]["resolved"] == 1 and rows[0]["rate"] == 0.5
    assert rows[1]["rate"] == 0.0
    # another customer cannot touch someone else's suggestion session
    other = make_user(session, "customer")
    assert not services.do_abandon_ticket(session, other, s2.token, clock=clock)
    assert queries.deflection_by_month(session, other) == []


def test_community_flow(session, clock):
    cust = make_user(session, "customer")
    agent = make_user(session, "agent")
    q = community.do_ask(session, cust, title="群消息发不出去 ERR_IM_2001", body="消息很大", tags=["msg"], clock=clock)
    a1 = community.do_answer(session, cust, q.id, "试试压缩", clock=clock)
    a2 = community.do_answer(session, agent, q.id, "调大 message.max_size_kb 或改为发送文件", clock=clock)
    assert community.do_vote(session, cust, "answer", a1.id, 1) == 1
    assert community.do_vote(session, cust, "answer", a1.id, 1) == 1  # one vote per user
    assert community.do_vote(session, agent, "answer", a1.id, 1) == 2
    community.do_mark_official(session, agent, q.id, a2.id, clock=clock)
    assert [a.id for a in community.answers_of(session, cust, q)] == [a2.id, a1.id]
    with pytest.raises(PermissionDenied):
        community.do_mark_official(session, cust, q.id, a1.id)
    session.flush()
    assert [h.slug for h in community.similar_questions(session, "群里消息发送失败")] == [str(q.id)]
    community.do_moderate(session, agent, q.id, locked=True, clock=clock)
    from imdesk.kb.errors import QuestionLocked, QuestionNotFound

    with pytest.raises(QuestionLocked):
        community.do_answer(session, cust, q.id, "more")
    community.do_moderate(session, agent, q.id, hidden=True, clock=clock)
    session.flush()
    with pytest.raises(QuestionNotFound):
        community.get_question(session, cust, q.id)
    assert community.similar_questions(session, "群里消息发送失败") == []


def test_reindex_rebuilds_every_document(session):
    from sqlalchemy import delete

    from imdesk.kb.models import SearchDoc

    make_corpus(session)
    community.do_ask(session, SYSTEM, title="脑裂以后怎么恢复", body="两个主节点")
    session.execute(delete(SearchDoc))
    session.flush()
    assert search(session, "推送证书").hits == []
    assert services.reindex_all(session) == 7
    session.flush()
    assert slugs(search(session, "推送证书"))[0] == "push-cert-expired"
    assert "question" in {h.doc_type for h in search(session, "脑裂 恢复").hits}


def test_other_products_codes_numeric_symbolic_and_mistyped(session):
    make_corpus(session)
    make_article(session, slug="sdk-not-init", title="SDK 未初始化就调用接口", body="先调用 init 再登录。",
                 error_codes=["ERR_SDK_NOT_INITIALIZED", "6013"])
    make_article(session, slug="noise", title="初始化顺序说明", body="SDK 初始化 init 登录 6013 次尝试")
    for q in ("6013", "ERR_SDK_NOT_INITIALIZED", "err_sdk_not_initialized 怎么办", "ERR_SDK_NOT_INITIALISED",
              "错误码 6013 是什么意思"):
        res = search(session, q)
        assert slugs(res)[0] == "sdk-not-init", q
        assert res.hits[0].exact
