from __future__ import annotations

from datetime import timedelta

import pytest

from imdesk.channels.links import sign_rating_link
from imdesk.desk import queries, services
from tests.conftest import TEST_SECRET
from tests.factories import auth, make_org, make_token, make_user

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def world(session):
    org = make_org(session, "视图测试")
    customer = make_user(session, "customer", org_id=org, locale="zh_CN", password=None)
    agent = make_user(session, "agent", locale="en", password=None)
    session.commit()
    return {"org": org, "customer": customer, "agent": agent, "ct": make_token(session, customer),
            "at": make_token(session, agent)}


def test_ticket_page_escapes_everything(client, session, world, clock):
    t = services.create_ticket(session, world["customer"], clock=clock, title=XSS + " 推送失败", description=XSS)
    services.do_add_reply(session, world["customer"], t.id, XSS, clock=clock)
    session.commit()
    for tok in (world["ct"], world["at"]):
        r = client.get(f"/tickets/{t.id}", headers=auth(tok))
        assert r.status_code == 200
        assert "<script>alert" not in r.text and "<img src=x" not in r.text
        assert "&lt;script&gt;alert" in r.text
    q = client.get("/desk?queue=all", headers=auth(world["at"]))
    assert q.status_code == 200 and "<script>alert" not in q.text and t.number in q.text


def test_queue_partial_and_filters(client, session, world, clock):
    services.create_ticket(session, world["customer"], clock=clock, title="全员无法登录", description="所有用户")
    session.commit()
    r = client.get("/desk?queue=mine&priority=P0", headers={**auth(world["at"]), "HX-Request": "true"})
    assert r.status_code == 200 and r.text.lstrip().startswith("<table") and "P0" in r.text
    full = client.get("/desk?queue=mine", headers=auth(world["at"]))
    assert "<html" in full.text and 'class="countdown"' in full.text
    assert client.get("/desk", headers=auth(world["ct"])).status_code == 403
    assert client.get("/desk?queue=nope", headers=auth(world["at"])).status_code == 422


def test_customer_submits_form_with_kb_hook_and_errors(client, session, world):
    page = client.get("/tickets/new", headers=auth(world["ct"]))
    assert page.status_code == 200
    assert 'id="ticket-form"' in page.text and 'id="kb-suggestions"' in page.text
    assert 'hx-get="/kb/suggest"' in page.text and 'name="title"' in page.text and 'name="description"' in page.text
    bad = client.post("/tickets/new", data={"title": "  ", "description": "x", "kb_shown": "a,b"},
                      headers=auth(world["ct"]), follow_redirects=False)
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    ok = client.post("/tickets/new", data={"title": "iOS 收不到推送", "description": "APNs", "kb_opened": "x"},
                     files={"attachments": ("log.txt", b"ERR_IM_3001 apns rejected", "text/plain")},
                     headers=auth(world["ct"]), follow_redirects=False)
    assert ok.status_code == 303
    tid = int(ok.headers["location"].rsplit("/", 1)[1])
    detail = client.get(f"/api/v1/tickets/{tid}", headers=auth(world["ct"])).json()
    assert detail["group"] == "push" and detail["attachments"][0]["filename"] == "log.txt"


def test_htmx_reply_and_refused_transition(client, session, world, clock):
    t = services.create_ticket(session, world["customer"], clock=clock, title="消息丢失")
    session.commit()
    r = client.post(f"/tickets/{t.id}/reply", data={"body": "we are on it", "kind": "reply"},
                    headers={**auth(world["at"]), "HX-Request": "true"})
    assert r.status_code == 200 and "we are on it" in r.text and "<html" not in r.text
    r = client.post(f"/tickets/{t.id}/status", data={"action": "close"}, headers={**auth(world["at"]), "HX-Request": "true"})
    assert r.status_code == 200 and 'id="form-error"' in r.text
    assert client.get(f"/api/v1/tickets/{t.id}", headers=auth(world["at"])).json()["status"] == "in_progress"


def test_zh_and_en_labels(client, session, world, clock):
    t = services.create_ticket(session, world["customer"], clock=clock, title="登录失败")
    session.commit()
    zh = client.get(f"/tickets/{t.id}", headers={**auth(world["ct"]), "Accept-Language": "zh-CN"})
    assert "时间线" in zh.text and "回复" in zh.text
    en = client.get(f"/tickets/{t.id}", headers={**auth(world["at"]), "Accept-Language": "en"})
    assert "Timeline" in en.text


def test_rating_link_pages(client, session, world, clock, settings):
    t = services.create_ticket(session, world["customer"], clock=clock, title="发票")
    services.do_change_status(session, world["agent"], t.id, "resolve", clock=clock)
    session.commit()
    token = sign_rating_link(TEST_SECRET, ticket_id=t.id, user_id=world["customer"].user_id, now=clock.now())
    assert client.get(f"/rate/{token}").status_code == 200
    assert client.post(f"/rate/{token}", data={"score": "9"}).status_code == 422
    done = client.post(f"/rate/{token}", data={"score": "5", "comment": "好"})
    assert done.status_code == 200 and "notice" in done.text
    assert queries.rating_of(session, t.id).score == 5
    assert client.post(f"/rate/{token}", data={"score": "4"}).status_code == 409
    old = sign_rating_link(TEST_SECRET, ticket_id=t.id, user_id=world["customer"].user_id,
                           now=clock.now() - timedelta(days=40))
    assert client.get(f"/rate/{old}").status_code == 422
    r = client.post(f"/api/v1/ratings/{old}", json={"score": 5})
    assert r.status_code == 422 and r.json()["code"] == "channels.link_invalid"


def test_monthly_report_html_and_csv(client, session, world, clock):
    senior = make_user(session, "senior_engineer", password=None)
    t = services.create_ticket(session, world["customer"], clock=clock, title="=cmd|' /C calc'!A0 全员无法登录",
                               description="所有用户都无法登录")
    clock.advance(timedelta(minutes=20))
    services.run_sla_check(session, clock=clock)  # P0 first response (15 min) breached
    services.do_add_reply(session, world["agent"], t.id, "looking", clock=clock)
    t2 = services.create_ticket(session, world["customer"], clock=clock, title="全员无法登录 again", description="所有用户")
    services.do_add_reply(session, world["agent"], t2.id, "on it", clock=clock)
    session.commit()
    assert senior.user_id
    r = client.get("/desk/report?month=2026-11", headers=auth(world["at"]))
    assert r.status_code == 200 and "<svg" in r.text and 'id="headline-p0"' in r.text
    assert "50.0%" in r.text  # one of two P0 first responses within 15 minutes
    csv = client.get("/desk/report.csv?month=2026-11", headers=auth(world["at"]))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "priority,2026-11,P0,2,1,2,50.0" in csv.text
    assert ",'=cmd" in csv.text  # formula neutralised
    assert client.get("/desk/report?month=2026-13", headers=auth(world["at"])).status_code == 422
    assert client.get("/desk/report", headers=auth(world["ct"])).status_code == 403


def test_dashboard_panels(client, session, world, clock):
    services.create_ticket(session, world["customer"], clock=clock, title="SSO 登录失败")
    session.commit()
    assert 'id="desk-panel"' in client.get("/", headers=auth(world["at"])).text
    assert "SSO 登录失败" in client.get("/", headers=auth(world["ct"])).text


def test_admin_edits_groups_rules_policies_and_calendar(client, session, world):
    from imdesk.desk import store

    admin = make_user(session, "admin", password=None)
    tok = make_token(session, admin)
    store.seed(session)
    session.commit()
    h = auth(tok)
    assert client.get("/desk/admin", headers=auth(world["at"])).status_code == 403
    page = client.get("/desk/admin", headers=h)
    assert page.status_code == 200 and 'id="group-push"' in page.text
    r = client.post("/desk/admin", headers=h, data={"what": "group", "key": "push", "name_en": "Push",
                                                    "name_zh": "推送组", "lead_user_id": str(world["agent"].user_id),
                                                    "members": [str(world["agent"].user_id)], "active": "on"})
    assert r.status_code == 200 and 'id="saved"' in r.text
    r = client.post("/desk/admin", headers=h, data={"what": "classification", "data": "{not json"})
    assert r.status_code == 422
    rules = {"rules": {"push": [{"kw": "铃声", "w": 9}]}, "fallback_group": "push"}
    import json

    r = client.post("/desk/admin", headers=h, data={"what": "classification", "data": json.dumps(rules)})
    assert r.status_code == 200
    t = services.create_ticket(session, world["customer"], title="铃声不响", description="")
    assert store.desk_config(session).group_keys[t.group_id] == "push"
    bad_rules = {"rules": {"nonexistent": [{"kw": "x", "w": 1}]}}
    assert client.post("/desk/admin", headers=h, data={"what": "classification",
                                                       "data": json.dumps(bad_rules)}).status_code == 422
    policy = {"name": "gold", "plan": "enterprise", "calendar": "china",
              "targets": {p: {"first_response": 5, "next_response": 5, "resolution": 60, "around_the_clock": True}
                          for p in ("P0", "P1", "P2", "P3")}}
    assert client.post("/desk/admin", headers=h, data={"what": "policy", "data": json.dumps(policy)}).status_code == 200
    policy["targets"]["P0"]["first_response"] = -1
    assert client.post("/desk/admin", headers=h, data={"what": "policy", "data": json.dumps(policy)}).status_code == 422
    assert client.post("/desk/admin", headers=h, data={"what": "override", "day": "2031-01-01",
                                                       "kind": "off"}).status_code == 200
    assert client.post("/desk/admin", headers=h, data={"what": "override", "day": "2031-02-30",
                                                       "kind": "off"}).status_code == 422
    cal = store.desk_config(session).calendar("china")
    from datetime import date

    assert not cal.is_workday(date(2031, 1, 1))


def test_merge_link_and_incident_from_the_ticket_page(client, session, world, clock):
    a = services.create_ticket(session, world["customer"], clock=clock, title="IM 全部掉线", description="web")
    b = services.create_ticket(session, world["customer"], clock=clock, title="所有人无法登录", description="hotline")
    c = services.create_ticket(session, world["customer"], clock=clock, title="消息发不出去", description="api")
    session.commit()
    h = {**auth(world["at"]), "HX-Request": "true"}
    page = client.get(f"/tickets/{a.id}", headers=auth(world["at"]))
    assert 'id="relate-form"' in page.text
    assert client.get(f"/tickets/{a.id}", headers=auth(world["ct"])).text.count('id="relate-form"') == 0
    r = client.post(f"/tickets/{a.id}/relate", data={"relation": "new_incident"}, headers=h)
    assert r.status_code == 200 and 'id="form-error"' not in r.text
    incident_id = client.get(f"/api/v1/tickets/{a.id}", headers=auth(world["at"])).json()["incident_id"]
    incident_no = client.get(f"/api/v1/tickets/{incident_id}", headers=auth(world["at"])).json()["number"]
    r = client.post(f"/tickets/{b.id}/relate", data={"relation": "incident", "other": incident_no}, headers=h)
    assert client.get(f"/api/v1/tickets/{b.id}", headers=auth(world["at"])).json()["incident_id"] == incident_id
    r = client.post(f"/tickets/{c.id}/relate", data={"relation": "link", "other": a.number}, headers=h)
    assert any(ln["id"] == a.id for ln in client.get(f"/api/v1/tickets/{c.id}", headers=auth(world["at"])).json()["links"])
    r = client.post(f"/tickets/{c.id}/relate", data={"relation": "merge", "other": str(b.id)}, headers=h)
    detail = client.get(f"/api/v1/tickets/{c.id}", headers=auth(world["at"])).json()
    assert detail["merged_into_id"] == b.id and detail["status"] == "closed"
    # bad references are refused on the page, nothing changes
    r = client.post(f"/tickets/{a.id}/relate", data={"relation": "merge", "other": "T999999"}, headers=h)
    assert r.status_code in (200, 404)
    r = client.post(f"/tickets/{a.id}/relate", data={"relation": "link", "other": ""}, headers=h)
    assert r.status_code == 200 and 'id="form-error"' in r.text
    r = client.post(f"/tickets/{a.id}/relate", data={"relation": "explode", "other": b.number}, headers=h)
    assert r.status_code == 200 and 'id="form-error"' in r.text
    assert client.post(f"/tickets/{a.id}/relate", data={"relation": "link", "other": b.number},
                       headers={**auth(world["ct"]), "HX-Request": "true"}).status_code == 403
