"""HTTP: the kb API (JSON, problem+json) and pages (search, article, error code, suggest, videos, Q&A)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.factories import auth, make_token, make_user
from tests.kb.factories import make_article, make_corpus

from imdesk.accounts.services import SYSTEM
from imdesk.kb import services


def _login(session, role="customer"):
    actor = make_user(session, role)
    token = make_token(session, actor)
    return actor, auth(token)


def test_search_api_contract(client, session):
    make_corpus(session)
    _, h = _login(session)
    session.commit()
    r = client.get("/api/v1/kb/search", params={"q": "苹果收不到推送"}, headers=h)
    assert r.status_code == 200
    body = r.json()
    first = body["results"][0]
    assert {"slug", "title", "score", "snippet"} <= set(first)
    assert first["slug"] == "push-cert-expired"
    r = client.get("/api/v1/kb/search", params={"q": "1002"}, headers=h)
    assert r.json()["error_codes"][0]["code"] == "ERR_IM_1002"


def test_search_api_bad_input_is_problem_json(client, session):
    _, h = _login(session)
    session.commit()
    for params in ({"q": ""}, {"q": "x", "lang": "fr"}, {"q": "x", "limit": 0}, {"q": "x" * 600}):
        r = client.get("/api/v1/kb/search", params=params, headers=h)
        assert r.status_code == 422, params
        assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/kb/search", params={"q": "x"}).status_code == 401


def test_error_code_api_accepts_every_form(client, session):
    make_corpus(session)
    _, h = _login(session)
    session.commit()
    for form in ("ERR_IM_3001", "3001", "err_im_3001"):
        r = client.get(f"/api/v1/kb/error-codes/{form}", headers=h)
        assert r.status_code == 200, form
        d = r.json()
        assert d["code"] == "ERR_IM_3001" and d["title"]["zh"] and d["fix"]["en"]
        assert [a["slug"] for a in d["articles"]] == ["push-cert-expired"]
    r = client.get("/api/v1/kb/error-codes/ERR_IM_3011", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "kb_error_code_not_found"
    assert "ERR_IM_3001" in r.json()["suggestions"]


def test_article_api_write_flow(client, session):
    _, staff = _login(session, "agent")
    _, cust = _login(session)
    session.commit()
    body = {"slug": "new-one", "title": "新文章", "body": "<script>x</script> **ok**", "error_codes": ["err_im_1001"]}
    assert client.post("/api/v1/kb/articles", json=body, headers=cust).status_code == 403
    r = client.post("/api/v1/kb/articles", json=body, headers=staff)
    assert r.status_code == 201 and r.json()["status"] == "draft" and r.json()["error_codes"] == ["ERR_IM_1001"]
    assert "<script" not in r.json()["html"]
    assert client.get("/api/v1/kb/articles/new-one", headers=cust).status_code == 404
    r = client.post("/api/v1/kb/articles/new-one/status", json={"status": "published"}, headers=staff)
    assert r.status_code == 200
    assert client.get("/api/v1/kb/articles/new-one", headers=cust).status_code == 200
    r = client.post("/api/v1/kb/articles/new-one/status", json={"status": "review"}, headers=staff)
    assert r.status_code == 409
    r = client.post("/api/v1/kb/articles", json={**body, "slug": "../x"}, headers=staff)
    assert r.status_code == 422 and r.json()["code"] == "kb_invalid_slug"
    revs = client.get("/api/v1/kb/articles/new-one/revisions", headers=staff).json()["revisions"]
    assert [r["number"] for r in revs] == [2, 1]
    r = client.post("/api/v1/kb/articles/new-one/feedback", json={"helpful": True}, headers=cust)
    assert r.json() == {"helpful_yes": 1, "helpful_no": 0}


def test_search_page_in_chinese_with_highlight(client, session):
    make_corpus(session)
    _, h = _login(session)
    session.commit()
    r = client.get("/kb", params={"q": "推送证书过期"}, headers={**h, "Accept-Language": "zh-CN"})
    assert r.status_code == 200
    assert "知识库" in r.text and "<mark>" in r.text and "push-cert-expired" in r.text
    partial = client.get("/kb", params={"q": "推送", "lang": "zh"}, headers={**h, "HX-Request": "true"})
    assert "<html" not in partial.text and "push-cert-expired" in partial.text
    en = client.get("/kb", params={"q": "pool", "lang": "en"}, headers={**h, "Accept-Language": "en"})
    assert "Knowledge base" in en.text and "db-pool-timeout" in en.text and "push-cert-expired" not in en.text


def test_article_page_counts_views_and_takes_feedback(client, session):
    make_article(session, slug="viewed", title="浏览计数", body="# 标题\n\n<img src=x onerror=alert(1)>")
    _, h = _login(session)
    session.commit()
    for _ in range(2):
        r = client.get("/kb/articles/viewed", headers=h)
        assert r.status_code == 200 and "<img" not in r.text
    assert client.get("/api/v1/kb/articles/viewed", headers=h).json()["views"] == 2
    r = client.post("/kb/articles/viewed/feedback", data={"helpful": "no"}, headers={**h, "HX-Request": "true"})
    assert r.status_code == 200
    assert client.get("/api/v1/kb/articles/viewed", headers=h).json()["helpful_no"] == 1


def test_error_code_page(client, session):
    _, h = _login(session)
    session.commit()
    r = client.get("/kb/error-codes/err_im_1002", headers=h, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/kb/error-codes/ERR_IM_1002"
    r = client.get("/kb/error-codes/ERR_IM_1002", headers={**h, "Accept-Language": "zh-CN"})
    assert r.status_code == 200 and "权限不足" in r.text
    r = client.get("/kb/error-codes", params={"code": "1002"}, headers=h, follow_redirects=False)
    assert r.headers["location"] == "/kb/error-codes/ERR_IM_1002"
    assert client.get("/kb/error-codes/ERR_IM_7777", headers={**h, "Accept": "text/html"}).status_code == 404


def test_suggest_partial_records_shown_opened_and_abandoned(client, session):
    make_corpus(session)
    cust, h = _login(session)
    _, staff = _login(session, "agent")
    session.commit()
    r = client.get("/kb/suggest", params={"title": "iOS 收不到推送", "description": "证书好像过期了"},
                   headers={**h, "HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text
    token = re.search(r'name="kb_suggestion" value="([^"]+)"', r.text).group(1)
    link = re.search(r'href="(/kb/go/push-cert-expired\?s=[^"]+)"', r.text).group(1)
    # the form sends the token back on the next debounced call: same suggestion session
    r2 = client.get("/kb/suggest", params={"title": "iOS 收不到推送 3001", "kb_suggestion": token}, headers=h)
    assert f'value="{token}"' in r2.text
    r = client.get(link, headers=h, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/kb/articles/push-cert-expired?s=")
    page = client.get(r.headers["location"], headers=h)
    assert "kb-solved" in page.text
    r = client.post("/kb/solved", data={"s": token}, headers={**h, "HX-Request": "true"})
    assert r.status_code == 200
    months = client.get("/api/v1/kb/deflection", headers=staff).json()["months"]
    assert months[0]["sessions"] == 1 and months[0]["opened"] == 1 and months[0]["resolved"] == 1
    assert months[0]["rate"] == 1.0
    empty = client.get("/kb/suggest", params={"title": "", "description": ""}, headers=h)
    assert empty.status_code == 200 and "kb-suggest-box" not in empty.text


def test_draft_from_ticket_route(client, session):
    _, staff = _login(session, "agent")
    session.commit()
    r = client.post("/api/v1/kb/drafts-from-ticket", json={"title": "Fix for push", "body": "Renew", "ticket_ref": "T-9"},
                    headers=staff)
    assert r.status_code == 201 and r.json()["status"] == "draft"
    r = client.post("/kb/drafts-from-ticket", data={"title": "Another", "ticket_ref": "T-10"}, headers=staff,
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/edit")


def test_manage_and_edit_pages(client, session):
    make_article(session, slug="to-edit", title="待编辑")
    _, staff = _login(session, "agent")
    _, cust = _login(session)
    session.commit()
    assert client.get("/kb/manage", headers=cust).status_code == 403
    assert "待编辑" in client.get("/kb/manage", headers=staff).text
    r = client.post("/kb/articles/to-edit/edit", data={"title": "已编辑", "body": "新正文", "lang": "zh",
                                                       "category": "module", "error_codes": "ERR_IM_1001, 1002"},
                    headers=staff, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/kb/articles/to-edit/edit", headers=staff).text
    assert "已编辑" in page and "ERR_IM_1001 1002" in page


def _mp4(path: Path, size: int = 5000) -> Path:
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * (size // 256 + 1)
    path.write_bytes(data[:size])
    return path


def test_video_import_range_serving_and_progress(client, session, settings, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _mp4(src / "java-init.mp4")
    (src / "java-init.vtt").write_text(
        "WEBVTT\n\n简介\n00:00.000 --> 00:10.000\n本节介绍 Java SDK 初始化\n\n设置签名\n00:10.000 --> 00:30.000\n"
        "调用 login 时传入 UserSig\n", encoding="utf-8")
    (src / "java-init.md").write_text(
        "---\ntitle: Java SDK 初始化\ntype: video\nvideo: java-init.mp4\ntranscript: java-init.vtt\n"
        "duration: '10:00'\nseries: Java SDK\nseries_order: 1\ntopics: [sdk, java]\n---\n如何初始化 Java SDK。", encoding="utf-8")
    (src / "fake.mp4").write_text("not a video")
    (src / "fake.md").write_text("---\ntitle: Fake\ntype: video\nvideo: fake.mp4\n---\n", encoding="utf-8")
    media = Path(settings.data_dir) / "kb" / "videos"
    report = services.import_directory(session, SYSTEM, src, media_root=media)
    assert report.videos == 1 and len(report.errors) == 1 and "not an MP4" in report.errors[0]
    _, h = _login(session)
    session.commit()
    # transcripts are searchable
    res = client.get("/api/v1/kb/search", params={"q": "UserSig 初始化", "type": "video"}, headers=h).json()
    assert res["results"][0]["slug"] == "java-init" and res["results"][0]["type"] == "video"
    full = client.get("/kb/videos/java-init/file", headers=h)
    assert full.status_code == 200 and len(full.content) == 5000 and full.headers["accept-ranges"] == "bytes"
    part = client.get("/kb/videos/java-init/file", headers={**h, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.headers["content-range"] == "bytes 100-199/5000"
    assert part.content == full.content[100:200]
    tail = client.get("/kb/videos/java-init/file", headers={**h, "Range": "bytes=-10"})
    assert tail.content == full.content[-10:]
    bad = client.get("/kb/videos/java-init/file", headers={**h, "Range": "bytes=9000-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == "bytes */5000"
    r = client.put("/api/v1/kb/videos/java-init/progress", json={"position": 590}, headers=h)
    assert r.json() == {"position": 590, "completed": True}
    page = client.get("/kb/videos/java-init", headers=h).text
    assert "设置签名" in page and 'data-start="590"' in page
    assert client.put("/api/v1/kb/videos/java-init/progress", json={"position": -1}, headers=h).status_code == 422
    assert client.get("/kb/videos/nope/file", headers=h).status_code == 404
    _, staff = _login(session, "agent")
    session.commit()
    r = client.post("/kb/videos/java-init/file", files={"file": ("x.mp4", b"<html>not a video</html>", "video/mp4")},
                    headers=staff)
    assert r.status_code == 422 and r.json()["code"] == "kb_not_a_video"
    r = client.post("/kb/videos/java-init/file", files={"file": ("new.webm", b"\x1a\x45\xdf\xa3" + b"w" * 100,
                                                                 "video/webm")}, headers=staff, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/kb/videos/java-init/file", headers=h).headers["content-type"] == "video/webm"


def test_community_pages(client, session):
    cust, h = _login(session)
    _, staff = _login(session, "agent")
    session.commit()
    r = client.post("/kb/questions", data={"title": "群消息发不出去", "body": "提示消息过大", "tags": "msg"}, headers=h,
                    follow_redirects=False)
    qurl = r.headers["location"]
    qid = int(qurl.rsplit("/", 1)[1])
    client.post(f"{qurl}/answers", data={"body": "改为发送文件"}, headers=staff)
    d = client.get(f"/api/v1/kb/questions/{qid}", headers=h).json()
    aid = d["answers"][0]["id"]
    assert client.post(f"{qurl}/official", data={"answer_id": aid}, headers=h).status_code == 403
    client.post(f"{qurl}/official", data={"answer_id": aid}, headers=staff)
    page = client.get(qurl, headers={**h, "Accept-Language": "zh-CN"}).text
    assert "官方回答" in page
    sim = client.get("/kb/questions/similar", params={"title": "群里消息发送失败"}, headers=h)
    assert qurl in sim.text
    client.post(f"{qurl}/moderate", data={"action": "lock"}, headers=staff)
    r = client.post(f"/api/v1/kb/questions/{qid}/answers", json={"body": "x"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "kb_question_locked"
    r = client.post(f"{qurl}/moderate", data={"action": "explode"}, headers=staff)
    assert r.status_code == 422


def test_attachments_upload_download_and_limits(client, session, settings):
    make_article(session, slug="with-file", title="带附件")
    make_article(session, slug="draft-file", title="草稿附件", status="draft")
    _, staff = _login(session, "agent")
    _, cust = _login(session)
    session.commit()
    files = {"file": ("../../etc/诊断 脚本.sh", b"#!/bin/sh\necho ok\n", "text/x-sh")}
    assert client.post("/kb/articles/with-file/attachments", files=files, headers=cust).status_code == 403
    r = client.post("/kb/articles/with-file/attachments", files=files, headers=staff, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/kb/articles/with-file", headers=cust).text
    m = re.search(r'href="/kb/attachments/(\d+)">([^<]+)</a>', page)
    assert m and m.group(2) == "诊断 脚本.sh"
    d = client.get(f"/kb/attachments/{m.group(1)}", headers=cust)
    assert d.status_code == 200 and d.content == b"#!/bin/sh\necho ok\n"
    assert d.headers["x-content-type-options"] == "nosniff" and "attachment" in d.headers["content-disposition"]
    big = {"file": ("big.bin", b"x" * (20 * 1024 * 1024 + 1), "application/octet-stream")}
    r = client.post("/kb/articles/with-file/attachments", files=big, headers=staff)
    assert r.status_code == 413
    empty = {"file": ("empty.txt", b"", "text/plain")}
    assert client.post("/kb/articles/with-file/attachments", files=empty, headers=staff).status_code == 422
    client.post("/kb/articles/draft-file/attachments", files=files, headers=staff)
    ids = re.findall(r'/kb/attachments/(\d+)', client.get("/kb/articles/draft-file/edit", headers=staff).text)
    assert client.get(f"/kb/attachments/{ids[0]}", headers=cust).status_code == 404
