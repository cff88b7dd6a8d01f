"""Editing community questions and answers: who may edit, the history staff see, the "edited"
marker everyone sees, official answers stay official, search follows the new text."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from tests.factories import auth, make_token, make_user

from imdesk.core.errors import BadInput, PermissionDenied
from imdesk.kb import community
from imdesk.kb.errors import QuestionLocked, QuestionNotFound
from imdesk.kb.search import Filters, search


def _people(session):
    return make_user(session, "customer"), make_user(session, "customer"), make_user(session, "agent")


def test_author_edits_question_history_keeps_the_old_text(session, clock):
    author, other, agent = _people(session)
    q = community.do_ask(session, author, title="群消息发不出去", body="提示消息过大", tags=["msg"], clock=clock)
    created = q.created_at
    clock.advance(timedelta(minutes=5))
    community.do_edit_question(session, author, q.id, title="群消息发不出去 ERR_IM_2001", body="消息体 80 KB",
                               tags=["msg", "group"], note="加上错误码", clock=clock)
    assert q.title == "群消息发不出去 ERR_IM_2001" and q.tags == ["msg", "group"]
    assert q.error_codes == ["ERR_IM_2001"]  # codes follow the new text
    assert q.edited_at == clock.now() and q.edited_by == author.user_id and q.created_at == created
    [e] = community.edit_history(session, agent, q.id)
    assert (e.target_type, e.old_title, e.old_body, e.old_tags, e.note, e.by_moderator) == (
        "question", "群消息发不出去", "提示消息过大", ["msg"], "加上错误码", False)
    # an unchanged save writes no history
    community.do_edit_question(session, author, q.id, title=q.title, clock=clock)
    assert len(community.edit_history(session, agent, q.id)) == 1
    with pytest.raises(PermissionDenied):
        community.do_edit_question(session, other, q.id, body="not mine")
    with pytest.raises(PermissionDenied):
        community.edit_history(session, author, q.id)
    with pytest.raises(BadInput):
        community.do_edit_question(session, author, q.id, title="   ")
    with pytest.raises(BadInput):
        community.do_edit_question(session, author, q.id, body="x" * (community.MAX_BODY + 1))


def test_answer_edit_keeps_official_and_moderators_edit_locked_questions(session, clock):
    author, other, agent = _people(session)
    q = community.do_ask(session, other, title="登录失败", body="一直转圈", clock=clock)
    a = community.do_answer(session, author, q.id, "检查 UserSig", clock=clock)
    community.do_mark_official(session, agent, q.id, a.id, clock=clock)
    clock.advance(timedelta(hours=1))
    community.do_edit_answer(session, author, a.id, "检查 UserSig 是否过期，并同步 NTP", clock=clock)
    assert q.official_answer_id == a.id and a.edited_at == clock.now()
    assert community.answers_of(session, other, q)[0].id == a.id
    with pytest.raises(PermissionDenied):
        community.do_edit_answer(session, other, a.id, "hijack")
    with pytest.raises(BadInput):
        community.do_edit_answer(session, author, a.id, "  ")
    community.do_moderate(session, agent, q.id, locked=True, clock=clock)
    with pytest.raises(QuestionLocked):
        community.do_edit_answer(session, author, a.id, "again")
    with pytest.raises(QuestionLocked):
        community.do_edit_question(session, other, q.id, body="again")
    assert not community.may_edit(author, q, a) and community.may_edit(agent, q, a)
    community.do_edit_answer(session, agent, a.id, "检查 UserSig 是否过期（版主整理）", note="整理格式", clock=clock)
    edits = community.edit_history(session, agent, q.id)
    assert [(e.target_id, e.by_moderator) for e in edits] == [(a.id, False), (a.id, True)]
    assert edits[1].old_body == "检查 UserSig 是否过期，并同步 NTP"
    assert q.official_answer_id == a.id
    # a hidden answer is not there for its author any more
    community.do_moderate(session, agent, q.id, answer_id=a.id, hidden=True, clock=clock)
    with pytest.raises(QuestionNotFound):
        community.do_edit_answer(session, author, a.id, "still mine?")


def test_search_follows_the_edit(session, clock):
    author, _, _ = _people(session)
    q = community.do_ask(session, author, title="文件上传很慢", body="大文件", clock=clock)
    a = community.do_answer(session, author, q.id, "换个网络", clock=clock)
    session.flush()
    community.do_edit_question(session, author, q.id, title="集群脑裂以后怎么恢复", body="两个主节点", clock=clock)
    community.do_edit_answer(session, author, a.id, "先隔离少数派节点", clock=clock)
    session.flush()
    hits = search(session, "脑裂 少数派", filters=Filters(doc_type="question")).hits
    assert [h.slug for h in hits] == [str(q.id)]
    assert search(session, "文件上传很慢", filters=Filters(doc_type="question")).hits == []


def _login(session, role="customer"):
    actor = make_user(session, role)
    return actor, auth(make_token(session, actor))


def test_edit_api_and_history_visibility(client, session):
    _, h = _login(session)
    _, other = _login(session)
    _, staff = _login(session, "agent")
    session.commit()
    qid = client.post("/api/v1/kb/questions", json={"title": "推送收不到", "body": "iOS"}, headers=h).json()["id"]
    aid = client.post(f"/api/v1/kb/questions/{qid}/answers", json={"body": "检查证书"}, headers=other).json()["id"]
    client.post(f"/api/v1/kb/questions/{qid}/official", json={"answer_id": aid}, headers=staff)
    r = client.patch(f"/api/v1/kb/questions/{qid}", json={"body": "iOS 17 收不到离线推送"}, headers=h)
    assert r.status_code == 200 and r.json()["edited"] and r.json()["title"] == "推送收不到"
    r = client.patch(f"/api/v1/kb/answers/{aid}", json={"body": "检查 APNs 证书是否过期"}, headers=other)
    assert r.status_code == 200 and r.json()["official"] and r.json()["edited"]
    assert client.patch(f"/api/v1/kb/answers/{aid}", json={"body": "x"}, headers=h).status_code == 403
    d = client.get(f"/api/v1/kb/questions/{qid}", headers=h).json()
    assert d["edited"] and d["answers"][0]["edited"] and d["official_answer_id"] == aid
    assert client.get(f"/api/v1/kb/questions/{qid}/history", headers=h).status_code == 403
    edits = client.get(f"/api/v1/kb/questions/{qid}/history", headers=staff).json()["edits"]
    assert [(e["target_type"], e["old_body"]) for e in edits] == [("question", "iOS"), ("answer", "检查证书")]
    # bad input is problem+json
    r = client.patch(f"/api/v1/kb/questions/{qid}", json={"title": ""}, headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    r = client.patch(f"/api/v1/kb/questions/{qid}", json={"colour": "red"}, headers=h)
    assert r.status_code == 422
    assert client.patch("/api/v1/kb/answers/999999", json={"body": "x"}, headers=h).status_code == 404


def test_edit_pages_marker_and_history_in_both_languages(client, session):
    author, h = _login(session)
    _, other = _login(session)
    _, staff = _login(session, "agent")
    session.commit()
    qurl = client.post("/kb/questions", data={"title": "群消息发不出去", "body": "提示消息过大"}, headers=h,
                       follow_redirects=False).headers["location"]
    qid = int(qurl.rsplit("/", 1)[1])
    client.post(f"{qurl}/answers", data={"body": "改为发送文件"}, headers=other)
    aid = client.get(f"/api/v1/kb/questions/{qid}", headers=h).json()["answers"][0]["id"]
    page = client.get(qurl, headers={**h, "Accept-Language": "zh-CN"}).text
    assert f'hx-get="/kb/questions/{qid}/edit"' in page and f"/kb/answers/{aid}/edit" not in page
    assert "已编辑" not in page
    # the form: an HTMX partial in place, or a page of its own
    part = client.get(f"{qurl}/edit", headers={**h, "HX-Request": "true"})
    assert part.status_code == 200 and "<html" not in part.text and 'value="群消息发不出去"' in part.text
    full = client.get(f"{qurl}/edit", headers={**h, "Accept-Language": "zh-CN"}).text
    assert "<html" in full and "编辑问题" in full
    assert client.get(f"{qurl}/edit", headers=other).status_code == 403
    r = client.post(f"{qurl}/edit", data={"title": "群消息发送失败", "body": "消息 80 KB", "tags": "msg, group"},
                    headers=h, follow_redirects=False)
    assert r.status_code == 303
    assert client.post(f"/kb/answers/{aid}/edit", data={"body": "hijack"}, headers=h).status_code == 403
    r = client.post(f"/kb/answers/{aid}/edit", data={"body": "改为发送文件，或调大 message.max_size_kb"}, headers=staff,
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith(f"#answer-{aid}")
    zh = client.get(qurl, headers={**h, "Accept-Language": "zh-CN"}).text
    assert zh.count("已编辑") == 2 and "群消息发送失败" in zh and "编辑历史" not in zh
    en = client.get(qurl, headers={**other, "Accept-Language": "en"}).text
    assert en.count(">edited<") == 2 and "Edit history" not in en
    hist = client.get(qurl, headers={**staff, "Accept-Language": "zh-CN"}).text
    assert "编辑历史" in hist and "版主" in hist
    rows = re.findall(r"<summary>([^<]*)</summary>", hist)
    assert rows == ["群消息发不出去", "原文"]
    hist_en = client.get(qurl, headers={**staff, "Accept-Language": "en"}).text
    assert "Edit history" in hist_en and "Before the edit" in hist_en
