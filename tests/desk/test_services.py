from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from imdesk.accounts.services import SYSTEM
from imdesk.core.errors import BadInput
from imdesk.desk import lifecycle, queries, services, store
from imdesk.desk.errors import AttachmentRefused, AttachmentTooLarge, InvalidTransition, NotAllowed
from imdesk.desk.models import Ticket
from tests.desk.factories import make_ticket
from tests.factories import make_org, make_user


@pytest.fixture
def org(session):
    return make_org(session, "华信测试", verified=False)


@pytest.fixture
def customer(session, org):
    return make_user(session, "customer", org_id=org, password=None)


def _events(session, actor, t):
    return [e["kind"] for e in queries.timeline(session, actor, t)]


def test_lifecycle_table():
    assert lifecycle.transition("new", "triage") == "triaged"
    assert lifecycle.transition("waiting_customer", "customer_replied") == "in_progress"
    assert lifecycle.transition("resolved", "reopen") == "in_progress"
    for status, action in [("new", "close"), ("closed", "reopen"), ("triaged", "accept_solution"),
                           ("resolved", "propose_solution")]:
        with pytest.raises(InvalidTransition):
            lifecycle.transition(status, action)
    with pytest.raises(InvalidTransition):
        lifecycle.transition("new", "teleport")


def test_routing_in_group_least_loaded_and_round_robin(session, customer, clock):
    a1 = make_user(session, "agent", password=None)
    a2 = make_user(session, "agent", password=None)
    services.do_add_group_member(session, SYSTEM, "messaging", a1.user_id)
    services.do_add_group_member(session, SYSTEM, "messaging", a2.user_id)
    outsider = make_user(session, "agent", password=None)  # not in the group
    got = []
    for i in range(4):
        clock.advance(timedelta(minutes=1))
        t = make_ticket(session, customer, clock=clock, title=f"群聊消息撤回失败 {i}", description="部分用户")
        got.append(t.assignee_id)
    assert set(got) == {a1.user_id, a2.user_id}
    assert got.count(a1.user_id) == 2 and outsider.user_id not in got
    assert got[0] != got[1]  # ties go round-robin


def test_absent_agent_is_skipped(session, customer, clock):
    a1 = make_user(session, "agent", password=None)
    a2 = make_user(session, "agent", password=None)
    for a in (a1, a2):
        services.do_add_group_member(session, SYSTEM, "push", a.user_id)
    services.do_set_absence(session, SYSTEM, a1.user_id, clock.now() - timedelta(hours=1), clock.now() + timedelta(days=2))
    for i in range(3):
        assert make_ticket(session, customer, clock=clock, title=f"推送失败 {i}").assignee_id == a2.user_id
    with pytest.raises(BadInput):
        services.do_set_absence(session, SYSTEM, a1.user_id, clock.now(), clock.now() - timedelta(hours=1))


def test_senior_gets_p0_and_account_manager_notified(session, clock):
    from imdesk.accounts.services import do_create_org
    from imdesk.channels.outbox import messages_for

    am = make_user(session, "account_manager", email="am@imdesk.example", password=None)
    org = do_create_org(session, SYSTEM, name="VIP Corp", verified=True, account_manager_email="am@imdesk.example").id
    cust = make_user(session, "customer", org_id=org, password=None)
    make_user(session, "agent", password=None)
    senior = make_user(session, "senior_engineer", password=None)
    t = make_ticket(session, cust, clock=clock, title="全员无法登录", description="所有用户都无法登录，系统不可用")
    assert t.priority == "P0" and t.assignee_id == senior.user_id
    mails = messages_for(session, f"ticket:{t.number}:am")
    assert [m.to_address for m in mails] == [am.email]
    assert "notified" in _events(session, SYSTEM, t)


def test_outside_hours_p3_waits_unassigned(session, customer, clock):
    make_user(session, "agent", password=None)
    clock.set(clock.now().replace(hour=14))  # 22:00 Shanghai
    t = make_ticket(session, customer, clock=clock, title="请问如何配置 LDAP", description="咨询")
    assert t.priority == "P3" and t.assignee_id is None and t.status == "triaged"
    assert "unassigned" in _events(session, SYSTEM, t)


def test_sla_job_warns_then_breaches_and_escalates(session, customer, clock):
    from imdesk.channels.outbox import messages_for

    agent = make_user(session, "agent", password=None)
    senior = make_user(session, "senior_engineer", password=None)
    lead = make_user(session, "agent", email="lead@imdesk.example", password=None)
    services.do_set_group_lead(session, SYSTEM, "messaging", lead.user_id)
    services.do_add_group_member(session, SYSTEM, "messaging", agent.user_id)
    t = make_ticket(session, customer, clock=clock, title="消息延迟", description="部分用户消息延迟")
    assert t.priority == "P2" and t.assignee_id == agent.user_id
    assert t.first_response_due - t.created_at == timedelta(minutes=240)  # same working day
    assert services.run_sla_check(session, clock=clock).warnings == 0
    clock.advance(timedelta(minutes=193))
    run = services.run_sla_check(session, clock=clock)
    assert run.warnings == 1 and run.breaches == 0
    assert services.run_sla_check(session, clock=clock).warnings == 0  # only once
    clock.advance(timedelta(minutes=50))
    run = services.run_sla_check(session, clock=clock)
    assert run.breaches == 1 and run.escalated == 1
    session.refresh(t)
    assert t.assignee_id == senior.user_id
    kinds = _events(session, SYSTEM, t)
    assert "sla_warning" in kinds and "sla_breach" in kinds
    assert "sla_warning" not in _events(session, customer, t)
    recipients = {m.to_address for m in messages_for(session, f"ticket:{t.number}:sla")}
    assert lead.email in recipients and agent.email in recipients


def test_pause_while_waiting_for_customer(session, customer, clock):
    agent = make_user(session, "agent", password=None)
    t = make_ticket(session, customer, clock=clock, title="历史消息丢失", description="部分用户")
    due0 = t.resolution_due
    services.do_add_reply(session, agent, t.id, "请提供日志", wait_for_customer=True, clock=clock)
    assert t.status == "waiting_customer" and t.paused_since == clock.now()
    clock.advance(timedelta(hours=2))  # 10:00 -> 12:00 Shanghai: 120 business minutes paused
    assert services.run_sla_check(session, clock=clock).breaches == 0
    services.do_add_reply(session, customer, t.id, "日志已上传", clock=clock)
    assert t.status == "in_progress" and t.paused_since is None
    cal = store.desk_config(session).calendar('china')
    assert t.resolution_due == cal.add_business_minutes(due0, 120)
    cust_kinds = _events(session, customer, t)
    assert "sla_paused" in cust_kinds and "sla_resumed" in cust_kinds


def test_auto_close_after_seven_days(session, customer, clock, settings):
    agent = make_user(session, "agent", password=None)
    t = make_ticket(session, customer, clock=clock, title="SDK 问题")
    services.do_propose_solution(session, agent, t.id, "升级 SDK", settings=settings, clock=clock)
    clock.advance(timedelta(days=6))
    assert services.run_auto_close(session, clock=clock) == 0
    clock.advance(timedelta(days=1, minutes=1))
    assert services.run_auto_close(session, clock=clock, settings=settings) == 1
    assert t.status == "closed"


def test_customer_reply_reopens_resolved(session, customer, clock, settings):
    agent = make_user(session, "agent", password=None)
    t = make_ticket(session, customer, clock=clock)
    services.do_change_status(session, agent, t.id, "resolve", reason="fixed", clock=clock)
    services.do_add_reply(session, customer, t.id, "又出现了", clock=clock)
    assert t.status == "in_progress" and t.reopen_count == 1
    with pytest.raises(NotAllowed):
        services.do_change_status(session, customer, t.id, "resolve", clock=clock)
    with pytest.raises(BadInput):
        services.do_change_status(session, agent, t.id, "explode", clock=clock)


def test_priority_and_group_override(session, customer, clock):
    agent = make_user(session, "agent", password=None)
    t = make_ticket(session, customer, clock=clock)
    old_due = t.resolution_due
    services.do_set_priority(session, agent, t.id, "P0", reason="整个公司受影响", clock=clock)
    assert t.priority == "P0" and t.resolution_due < old_due
    with pytest.raises(BadInput):
        services.do_set_priority(session, agent, t.id, "P9", reason="x", clock=clock)
    with pytest.raises(BadInput):
        services.do_set_priority(session, agent, t.id, "P1", reason="", clock=clock)
    services.do_set_group(session, agent, t.id, "infrastructure", reason="其实是数据库", clock=clock)
    assert t.group_overridden
    with pytest.raises(BadInput):
        services.do_set_group(session, agent, t.id, "nope", clock=clock)


def test_merge_link_and_incident(session, customer, clock, settings):
    agent = make_user(session, "agent", password=None)
    a = make_ticket(session, customer, clock=clock, title="消息发不出去", channel="web")
    b = make_ticket(session, customer, clock=clock, title="消息发送失败（热线）", channel="hotline")
    c = make_ticket(session, customer, clock=clock, title="IM 群里反馈消息失败", channel="im_group")
    services.do_link(session, agent, a.id, c.id, clock=clock)
    assert [x["id"] for x in queries.links(session, agent, a)] == [c.id]
    services.do_merge(session, agent, b.id, a.id, clock=clock)
    assert b.status == "closed" and b.merged_into_id == a.id
    with pytest.raises(InvalidTransition):
        services.do_merge(session, agent, b.id, a.id, clock=clock)
    with pytest.raises(BadInput):
        services.do_merge(session, agent, a.id, a.id, clock=clock)
    inc = services.do_create_incident(session, agent, title="消息服务故障", description="MQ 积压",
                                      org_id=customer.org_id, ticket_ids=[a.id, c.id], clock=clock)
    assert inc.is_incident and a.incident_id == inc.id and c.incident_id == inc.id
    n = services.do_resolve_incident(session, agent, inc.id, "MQ 已扩容", settings=settings, clock=clock)
    assert n == 3 and a.status == "solution_proposed" and c.status == "solution_proposed"


def test_attachments_sniffed_limited_and_scoped(session, customer, clock, settings):
    t = make_ticket(session, customer, clock=clock)
    att = services.do_add_attachment(session, customer, t.id, "../../etc/passwd.png", b"%PDF-1.7 fake", settings=settings,
                                     clock=clock)
    assert att.content_type == "application/pdf" and att.filename == "passwd.png"
    assert services.attachment_bytes(session, customer, att.id)[1] == b"%PDF-1.7 fake"
    html = services.do_add_attachment(session, customer, t.id, "x.html", b"<script>alert(1)</script>",
                                      settings=settings, clock=clock)
    assert html.content_type == "text/plain"
    with pytest.raises(AttachmentRefused):
        services.do_add_attachment(session, customer, t.id, "a.exe", b"MZ\x90\x00", settings=settings, clock=clock)
    with pytest.raises(AttachmentTooLarge):
        services.do_add_attachment(session, customer, t.id, "big.log", b"x" * (services.ATTACHMENT_MAX + 1),
                                   settings=settings, clock=clock)
    stranger = make_user(session, "customer", org_id=make_org(session, "Stranger"), password=None)
    with pytest.raises(Exception) as exc:
        services.attachment_bytes(session, stranger, att.id)
    assert getattr(exc.value, "status", None) == 404


def test_resumable_upload(session, customer, clock, settings):
    t = make_ticket(session, customer, clock=clock)
    data = b"support bundle " * 1000
    up = services.do_start_upload(session, customer, ticket_id=t.id, filename="bundle.tar.gz", size=len(data),
                                  sha256=hashlib.sha256(data).hexdigest(), settings=settings, clock=clock)
    services.do_append_upload(session, customer, up.token, 0, data[:5000], settings=settings, clock=clock)
    from imdesk.desk.errors import UploadConflict

    with pytest.raises(UploadConflict):
        services.do_append_upload(session, customer, up.token, 0, data[:10], settings=settings, clock=clock)
    done = services.do_append_upload(session, customer, up.token, 5000, data[5000:], settings=settings, clock=clock)
    assert done.attachment_id is not None
    _att, got = services.attachment_bytes(session, customer, done.attachment_id)
    assert got == data


def test_classifier_training_reports_accuracy(session, customer, clock):
    agent = make_user(session, "agent", password=None)
    texts = {"push": "离线推送收不到 apns", "directory": "通讯录 ldap 同步失败", "account": "发票 合同 续费"}
    for i in range(20):
        for _group, text in texts.items():
            t = make_ticket(session, customer, clock=clock, title=f"{text} {i}", description="")
            services.do_change_status(session, agent, t.id, "resolve", clock=clock)
    row = services.train_classifier(session, clock=clock)
    assert row is not None and row.samples == 60 and row.accuracy > 0.9
    cfg = store.desk_config(session)
    assert cfg.model is not None and cfg.model.ready


def test_staff_only_and_bad_input(session, customer, clock):
    t = make_ticket(session, customer, clock=clock)
    with pytest.raises(NotAllowed):
        services.do_add_reply(session, customer, t.id, "secret", internal=True, clock=clock)
    with pytest.raises(BadInput):
        services.do_add_reply(session, customer, t.id, "", clock=clock)
    assert session.get(Ticket, t.id).title == t.title


def test_next_response_breach_after_customer_reply(session, customer, clock):
    agent = make_user(session, "agent", password=None)
    t = make_ticket(session, customer, clock=clock, title="消息延迟", description="部分用户")
    services.do_add_reply(session, agent, t.id, "请问影响多少人？", clock=clock)
    services.do_add_reply(session, customer, t.id, "大约 20 人", clock=clock)
    assert t.next_response_due is not None
    clock.advance(timedelta(hours=9))
    run = services.run_sla_check(session, clock=clock)
    assert run.breaches >= 1 and t.sla_flags & services.SLA_NR_BREACHED
    services.do_add_reply(session, agent, t.id, "已定位", clock=clock)
    assert t.next_response_due is None


def test_absence_api(client, session, clock):
    from tests.factories import auth, make_token

    admin = make_user(session, "admin", password=None)
    agent = make_user(session, "agent", password=None)
    tok = make_token(session, admin)
    session.commit()
    r = client.put(f"/api/v1/desk/agents/{agent.user_id}/absence",
                   json={"start": "2026-11-24T00:00:00+08:00", "end": "2026-11-30T00:00:00+08:00"}, headers=auth(tok))
    assert r.status_code == 204
    r = client.put(f"/api/v1/desk/agents/{agent.user_id}/absence", json={"start": "yesterday", "end": None},
                   headers=auth(tok))
    assert r.status_code == 422


def test_breaching_queue_follows_next_due(session, customer, clock):
    agent = make_user(session, "agent", password=None)
    urgent = make_ticket(session, customer, clock=clock, title="全员无法登录", description="所有用户都无法登录")
    calm = make_ticket(session, customer, clock=clock, title="请问如何配置", description="咨询")
    session.flush()
    assert urgent.next_due_at == urgent.first_response_due
    ids = [t["id"] for t in queries.list_tickets(session, agent, queries.TicketFilter(queue="breaching"),
                                                 now=clock.now())["items"]]
    assert urgent.id in ids and calm.id not in ids
    services.do_add_reply(session, agent, urgent.id, "请提供日志", wait_for_customer=True, clock=clock)
    session.flush()
    assert urgent.next_due_at is None  # paused: not breaching
    ids = [t["id"] for t in queries.list_tickets(session, agent, queries.TicketFilter(queue="breaching"),
                                                 now=clock.now())["items"]]
    assert urgent.id not in ids


def test_queue_merge_matches_plain_ordering(session, customer, clock):
    agent = make_user(session, "agent", password=None)
    for title in ("全员无法登录", "请问如何配置", "部分用户消息失败", "很多用户消息延迟严重", "发票"):
        clock.advance(timedelta(minutes=1))
        make_ticket(session, customer, clock=clock, title=title, description=title)
    services.do_change_status(session, agent, make_ticket(session, customer, clock=clock, title="x 消息").id,
                              "wait_customer", clock=clock)
    seen = []
    for page in (1, 2, 3, 4):
        res = queries.list_tickets(session, agent, queries.TicketFilter(queue="mine", per_page=2, page=page),
                                   now=clock.now())
        seen += [(t["priority"], t["sla"]["resolution_due"], t["id"]) for t in res["items"]]
        if not res["has_more"]:
            break
    assert len(seen) == 6 and seen == sorted(seen)
    assert [p for p, _d, _i in seen][:2] == ["P0", "P1"]
