from __future__ import annotations

from datetime import timedelta

import pytest

from imdesk.desk import services
from tests.factories import auth, make_org, make_token, make_user


@pytest.fixture
def people(session):
    org = make_org(session, "ACME 测试")
    customer = make_user(session, "customer", org_id=org, password=None)
    agent = make_user(session, "agent", password=None)
    session.commit()
    return {"org": org, "customer": customer, "agent": agent,
            "ct": make_token(session, customer), "at": make_token(session, agent)}


def test_create_ticket_contract(client, session, people):
    r = client.post("/api/v1/tickets", json={"title": "iOS 收不到离线推送 ERR_IM_3001",
                                             "description": "APNs certificate seems expired"},
                    headers=auth(people["ct"]))
    assert r.status_code == 201, r.text
    t = r.json()
    assert {"id", "number", "status", "priority", "group", "sla"} <= set(t)
    assert t["group"] == "push"
    assert t["priority"] in ("P0", "P1", "P2", "P3")
    assert t["status"] == "assigned"  # the only agent is in working hours (Tue 10:00 Shanghai)
    assert set(t["sla"]) >= {"first_response_due", "resolution_due"}
    assert "classification" not in t  # customers do not see the signals
    got = client.get(f"/api/v1/tickets/{t['id']}", headers=auth(people["at"])).json()
    kinds = [e["kind"] for e in got["timeline"]]
    assert kinds[:2] == ["created", "status"] and "classified" in kinds and "assigned" in kinds
    cust = client.get(f"/api/v1/tickets/{t['id']}", headers=auth(people["ct"])).json()
    assert "classified" not in [e["kind"] for e in cust["timeline"]]


@pytest.mark.parametrize("body", [
    {"title": ""}, {"title": "   "}, {"title": "x" * 1_000_000}, {"title": None},
    {"title": "ok", "priority": "P7"}, {"title": "ok", "channel": "pigeon"}, {"title": 12},
    {"title": "ok", "description": "y" * 200_001},
])
def test_bad_ticket_input_is_422_problem(client, session, people, body):
    r = client.post("/api/v1/tickets", json=body, headers=auth(people["ct"]))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] in ("desk.invalid_ticket", "validation_failed")
    listed = client.get("/api/v1/tickets", headers=auth(people["ct"])).json()
    assert listed["items"] == []


def test_full_solution_flow_and_rating(client, session, people, clock):
    t = client.post("/api/v1/tickets", json={"title": "<script>alert(1)</script> 群聊撤回失败",
                                             "description": "部分用户撤回消息失败"}, headers=auth(people["ct"])).json()
    tid = t["id"]
    assert t["title"] == "<script>alert(1)</script> 群聊撤回失败"  # stored as text; escaped when rendered
    r = client.post(f"/api/v1/tickets/{tid}/rating", json={"score": 5}, headers=auth(people["ct"]))
    assert r.status_code == 409  # not resolved yet
    r = client.post(f"/api/v1/tickets/{tid}/replies", json={"body": "请提供日志", "wait_for_customer": True},
                    headers=auth(people["at"]))
    assert r.status_code == 201 and r.json()["ticket"]["status"] == "waiting_customer"
    assert r.json()["ticket"]["sla"]["paused"] is True
    clock.advance(timedelta(hours=1))
    r = client.post(f"/api/v1/tickets/{tid}/replies", json={"body": "日志见附件"}, headers=auth(people["ct"]))
    assert r.json()["ticket"]["status"] == "in_progress"
    r = client.post(f"/api/v1/tickets/{tid}/solution", json={"body": "升级到 4.2.1 即可"}, headers=auth(people["at"]))
    assert r.status_code == 201 and r.json()["status"] == "solution_proposed"
    # the customer cannot propose; the agent cannot accept
    assert client.post(f"/api/v1/tickets/{tid}/solution", json={"body": "x"},
                       headers=auth(people["ct"])).status_code == 403
    assert client.post(f"/api/v1/tickets/{tid}/solution/decision", json={"accept": True},
                       headers=auth(people["at"])).status_code == 403
    r = client.post(f"/api/v1/tickets/{tid}/solution/decision", json={"accept": True}, headers=auth(people["ct"]))
    assert r.json()["status"] == "resolved"
    for bad in (0, 6, "five", 3.5, None):
        assert client.post(f"/api/v1/tickets/{tid}/rating", json={"score": bad},
                           headers=auth(people["ct"])).status_code == 422
    r = client.post(f"/api/v1/tickets/{tid}/rating", json={"score": 4, "comment": "很快 <b>"}, headers=auth(people["ct"]))
    assert r.status_code == 201
    assert client.post(f"/api/v1/tickets/{tid}/rating", json={"score": 1},
                       headers=auth(people["ct"])).status_code == 409
    csat = client.get("/api/v1/csat", headers=auth(people["at"])).json()
    assert csat["overall"]["count"] == 1 and csat["overall"]["average"] == 4
    from imdesk.channels.outbox import messages_for

    mails = messages_for(session, f"ticket:{t['number']}")
    assert [m.ref.rsplit(":", 1)[1] for m in mails] == ["solution", "rating"]


def test_invalid_transition_is_409_and_changes_nothing(client, session, people):
    t = client.post("/api/v1/tickets", json={"title": "登录失败"}, headers=auth(people["ct"])).json()
    r = client.post(f"/api/v1/tickets/{t['id']}/status", json={"action": "close"}, headers=auth(people["at"]))
    assert r.status_code == 409
    assert r.json()["code"] == "desk.invalid_transition"
    r = client.post(f"/api/v1/tickets/{t['id']}/solution/decision", json={"accept": True}, headers=auth(people["ct"]))
    assert r.status_code == 409
    assert client.get(f"/api/v1/tickets/{t['id']}", headers=auth(people["ct"])).json()["status"] == t["status"]


def test_reject_solution_reopens(client, session, people):
    t = client.post("/api/v1/tickets", json={"title": "SDK 报错"}, headers=auth(people["ct"])).json()
    client.post(f"/api/v1/tickets/{t['id']}/solution", json={"body": "重启"}, headers=auth(people["at"]))
    r = client.post(f"/api/v1/tickets/{t['id']}/solution/decision", json={"accept": False, "reason": "还是不行"},
                    headers=auth(people["ct"]))
    assert r.json()["status"] == "in_progress"
    assert r.json()["sla"]["next_response_due"] is not None


def test_other_org_gets_404(client, session, people):
    other = make_user(session, "customer", org_id=make_org(session, "Other Co"), password=None)
    tok = make_token(session, other)
    session.commit()
    t = client.post("/api/v1/tickets", json={"title": "发票"}, headers=auth(people["ct"])).json()
    for method, path, body in [("GET", f"/api/v1/tickets/{t['id']}", None),
                               ("POST", f"/api/v1/tickets/{t['id']}/replies", {"body": "hi"}),
                               ("POST", f"/api/v1/tickets/{t['id']}/rating", {"score": 5})]:
        r = client.request(method, path, json=body, headers=auth(tok))
        assert r.status_code == 404, (path, r.text)
    assert client.get("/api/v1/tickets", headers=auth(tok)).json()["items"] == []


def test_staff_needs_org_and_queues(client, session, people):
    r = client.post("/api/v1/tickets", json={"title": "hotline call"}, headers=auth(people["at"]))
    assert r.status_code == 422
    r = client.post("/api/v1/tickets", json={"title": "hotline call: 全员无法登录", "org_id": people["org"],
                                             "channel": "hotline"}, headers=auth(people["at"]))
    assert r.status_code == 201 and r.json()["priority"] == "P0"
    mine = client.get("/api/v1/tickets?queue=mine", headers=auth(people["at"])).json()["items"]
    assert [x["id"] for x in mine] == [r.json()["id"]]
    assert client.get("/api/v1/tickets?queue=bogus", headers=auth(people["at"])).status_code == 422
    assert client.get("/api/v1/tickets?queue=breaching", headers=auth(people["at"])).status_code == 200


def test_services_directly(session, people, clock):
    t = services.create_ticket(session, people["customer"], clock=clock, title="Redis 连接失败 ERR_IM_5002")
    assert t.status == "assigned" and t.assignee_id == people["agent"].user_id


def test_resumable_upload_protocol(client, session, people):
    import hashlib

    t = client.post("/api/v1/tickets", json={"title": "诊断包"}, headers=auth(people["ct"])).json()
    data = b"\x1f\x8b" + b"bundle-bytes " * 500
    r = client.post("/api/v1/uploads", json={"filename": "bundle.tar.gz", "size": len(data),
                                             "sha256": hashlib.sha256(data).hexdigest(), "ticket": t["id"]},
                    headers=auth(people["ct"]))
    assert r.status_code == 201 and r.json()["offset"] == 0
    uid = r.json()["id"]
    h = {**auth(people["ct"]), "Content-Type": "application/offset+octet-stream"}
    r = client.patch(f"/api/v1/uploads/{uid}", content=data[:1000], headers={**h, "Upload-Offset": "0"})
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "1000"
    assert client.head(f"/api/v1/uploads/{uid}", headers=auth(people["ct"])).headers["Upload-Offset"] == "1000"
    r = client.patch(f"/api/v1/uploads/{uid}", content=data[:10], headers={**h, "Upload-Offset": "0"})
    assert r.status_code == 409
    r = client.patch(f"/api/v1/uploads/{uid}", content=data[1000:], headers={**h, "Upload-Offset": "1000"})
    assert r.status_code == 204 and r.headers["Upload-Offset"] == str(len(data))
    detail = client.get(f"/api/v1/tickets/{t['id']}", headers=auth(people["ct"])).json()
    assert detail["attachments"][0]["content_type"] == "application/gzip"
    got = client.get(f"/api/v1/attachments/{detail['attachments'][0]['id']}", headers=auth(people["ct"]))
    assert got.content == data
    # wrong checksum: 409 and the upload restarts at 0
    r = client.post("/api/v1/uploads", json={"filename": "x.bin", "size": 4, "sha256": "0" * 64, "ticket": t["id"]},
                    headers=auth(people["ct"]))
    uid2 = r.json()["id"]
    r = client.patch(f"/api/v1/uploads/{uid2}", content=b"abcd", headers={**h, "Upload-Offset": "0"})
    assert r.status_code == 409
    assert client.head(f"/api/v1/uploads/{uid2}", headers=auth(people["ct"])).headers["Upload-Offset"] == "0"
    bad = client.post("/api/v1/uploads", json={"filename": "x", "size": -1, "sha256": "zz", "ticket": t["id"]},
                      headers=auth(people["ct"]))
    assert bad.status_code == 422
    assert client.patch(f"/api/v1/uploads/{uid2}", content=b"a", headers={**auth(people["ct"]),
                        "Content-Type": "text/plain", "Upload-Offset": "0"}).status_code == 422


def test_merge_link_incident_api(client, session, people):
    a = client.post("/api/v1/tickets", json={"title": "消息发送失败 A"}, headers=auth(people["ct"])).json()
    b = client.post("/api/v1/tickets", json={"title": "消息发送失败 B"}, headers=auth(people["ct"])).json()
    c = client.post("/api/v1/tickets", json={"title": "消息发送失败 C"}, headers=auth(people["ct"])).json()
    assert client.post(f"/api/v1/tickets/{b['id']}/merge", json={"into": a["id"]},
                       headers=auth(people["ct"])).status_code == 403
    r = client.post(f"/api/v1/tickets/{b['id']}/merge", json={"into": a["id"]}, headers=auth(people["at"]))
    assert r.status_code == 200
    assert client.get(f"/api/v1/tickets/{b['id']}", headers=auth(people["ct"])).json()["merged_into_id"] == a["id"]
    r = client.post(f"/api/v1/tickets/{a['id']}/links", json={"other": c["id"]}, headers=auth(people["at"]))
    assert r.status_code == 201 and r.json()["links"][0]["id"] == c["id"]
    r = client.post("/api/v1/incidents", json={"title": "消息服务故障", "org_id": people["org"],
                                               "tickets": [a["id"], c["id"]]}, headers=auth(people["at"]))
    assert r.status_code == 201 and r.json()["is_incident"]
    assert client.get(f"/api/v1/tickets/{c['id']}", headers=auth(people["ct"])).json()["incident_id"] == r.json()["id"]
