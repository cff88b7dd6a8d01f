"""The monthly SLA report's next-response attainment (met / breached / rate, per priority and per
group) on the business calendar, over statutory holidays, with admin overrides, and around the
clock for P0; its CSV/JSON export and API."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from imdesk.core.clock import FixedClock
from imdesk.desk import report, services, store
from imdesk.desk.models import ResponseCycle
from tests.factories import auth, make_org, make_token, make_user

SH = ZoneInfo("Asia/Shanghai")


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def people(session):
    org = make_org(session, "后续响应测试")
    return {"customer": make_user(session, "customer", org_id=org, password=None),
            "agent": make_user(session, "agent", password=None),
            "admin": make_user(session, "admin", password=None)}


def _answered_ticket(session, people, priority: str, created: datetime, *, title: str = "部分用户消息发送失败"):
    """A ticket of ``priority`` whose first response is done (so customer messages start next-response clocks)."""
    clock = FixedClock(created)
    t = services.create_ticket(session, people["customer"], clock=clock, title=title, description="some users")
    services.do_set_priority(session, people["agent"], t.id, priority, reason="test setup", clock=clock)
    services.do_add_reply(session, people["agent"], t.id, "first answer", clock=clock)
    return t


def _say(session, actor, ticket, at: datetime, text: str = "more details"):
    services.do_add_reply(session, actor, ticket.id, text, clock=FixedClock(at))


def _cycles(session, ticket):
    return list(session.scalars(select(ResponseCycle).where(ResponseCycle.ticket_id == ticket.id)
                                .order_by(ResponseCycle.id)))


def _prio(data, p):
    return next(row for row in data["per_priority"] if row["priority"] == p)


def test_business_calendar_over_national_day_met_and_breached(session, people):
    """P2 next response = 480 business minutes: a message at 17:30 on 30 September is due at 16:30 on
    8 October (30 minutes that evening, the Golden Week off, 450 minutes on the 8th)."""
    met = _answered_ticket(session, people, "P2", sh(2026, 9, 29, 10, 0))
    late = _answered_ticket(session, people, "P2", sh(2026, 9, 29, 10, 5))
    for t in (met, late):
        _say(session, people["customer"], t, sh(2026, 9, 30, 17, 30))
        assert t.next_response_due == sh(2026, 10, 8, 16, 30)
        assert _cycles(session, t)[0].due_at == sh(2026, 10, 8, 16, 30)
    _say(session, people["agent"], met, sh(2026, 10, 8, 16, 30), "answer exactly on time")
    _say(session, people["agent"], late, sh(2026, 10, 8, 16, 31), "answer a minute late")
    assert met.next_response_due is None
    data = report.monthly(session, "2026-09", now=sh(2026, 10, 20, 12, 0))
    p2 = _prio(data, "P2")
    assert (p2["next_response_met"], p2["next_response_breached"], p2["next_response_pct"]) == (1, 1, 50.0)
    assert data["next_response_rate_pct"] == 50.0
    # clocks count in the month the customer's message came in, not the month of the answer
    assert _prio(report.monthly(session, "2026-10", now=sh(2026, 10, 20)), "P2")["next_response_measured"] == 0


def test_p0_runs_around_the_clock_on_a_holiday_night(session, people):
    on_time = _answered_ticket(session, people, "P0", sh(2026, 10, 1, 2, 0), title="全员无法登录")
    unanswered = _answered_ticket(session, people, "P0", sh(2026, 10, 1, 2, 5), title="全员无法登录 2")
    pending = _answered_ticket(session, people, "P0", sh(2026, 10, 1, 2, 10), title="全员无法登录 3")
    _say(session, people["customer"], on_time, sh(2026, 10, 1, 3, 0))
    assert on_time.next_response_due == sh(2026, 10, 1, 3, 30)  # 30 min, National Day, 3 a.m.
    _say(session, people["agent"], on_time, sh(2026, 10, 1, 3, 29))
    _say(session, people["customer"], unanswered, sh(2026, 10, 1, 3, 0))
    _say(session, people["customer"], pending, sh(2026, 10, 1, 3, 50))
    p0 = _prio(report.monthly(session, "2026-10", now=sh(2026, 10, 1, 4, 0)), "P0")
    # met: answered at 3:29; breached: still unanswered at 4:00; the 3:50 message is not due yet
    assert (p0["next_response_met"], p0["next_response_breached"], p0["next_response_measured"]) == (1, 1, 2)
    assert p0["next_response_clocks"] == 3 and p0["next_response_pct"] == 50.0
    later = _prio(report.monthly(session, "2026-10", now=sh(2026, 10, 1, 4, 30)), "P0")
    assert later["next_response_breached"] == 2


def test_admin_holiday_override_moves_the_due_time(session, people):
    """P3 next response = 1080 business minutes. From Thursday 19 November 17:00 it is due Monday
    17:00; with Friday 20 November declared a day off by the admin, Tuesday 17:00."""
    plain = _answered_ticket(session, people, "P3", sh(2026, 11, 19, 9, 0), title="如何配置消息已读回执")
    _say(session, people["customer"], plain, sh(2026, 11, 19, 17, 0))
    assert plain.next_response_due == sh(2026, 11, 23, 17, 0)
    services.do_set_calendar_override(session, people["admin"], "2026-11-20", False, "company day off")
    store.desk_config(session)  # the override is read by the next computation
    moved = _answered_ticket(session, people, "P3", sh(2026, 11, 19, 9, 5), title="如何配置消息已读回执 2")
    _say(session, people["customer"], moved, sh(2026, 11, 19, 17, 0))
    assert moved.next_response_due == sh(2026, 11, 24, 17, 0)
    _say(session, people["agent"], plain, sh(2026, 11, 23, 17, 30))  # late on the plain calendar
    _say(session, people["agent"], moved, sh(2026, 11, 23, 17, 30))  # in time thanks to the day off
    p3 = _prio(report.monthly(session, "2026-11", now=sh(2026, 11, 30)), "P3")
    assert (p3["next_response_met"], p3["next_response_breached"]) == (1, 1)


def test_second_message_does_not_restart_the_clock_and_pauses_extend_it(session, people):
    t = _answered_ticket(session, people, "P0", sh(2026, 11, 24, 10, 0), title="全员无法登录")
    _say(session, people["customer"], t, sh(2026, 11, 24, 10, 0))
    _say(session, people["customer"], t, sh(2026, 11, 24, 10, 20), "still broken")
    assert t.next_response_due == sh(2026, 11, 24, 10, 30) and len(_cycles(session, t)) == 1
    # the agent sets "waiting for the customer" without a reply: the clock stands still 10:20-10:50
    services.do_change_status(session, people["agent"], t.id, "wait_customer", clock=FixedClock(sh(2026, 11, 24, 10, 20)))
    _say(session, people["customer"], t, sh(2026, 11, 24, 10, 50), "here is the log")
    assert t.next_response_due == sh(2026, 11, 24, 11, 0) and len(_cycles(session, t)) == 1
    _say(session, people["agent"], t, sh(2026, 11, 24, 10, 55))
    c = _cycles(session, t)[0]
    assert c.responded and c.ended_at == sh(2026, 11, 24, 10, 55)
    assert _prio(report.monthly(session, "2026-11", now=sh(2026, 11, 30)), "P0")["next_response_met"] == 1


def test_internal_notes_do_not_answer_and_resolving_without_reply(session, people):
    noted = _answered_ticket(session, people, "P1", sh(2026, 11, 24, 10, 0), title="大量用户消息延迟严重")
    quick = _answered_ticket(session, people, "P1", sh(2026, 11, 24, 10, 1), title="大量用户消息延迟严重 2")
    _say(session, people["customer"], noted, sh(2026, 11, 24, 11, 0))
    services.do_add_reply(session, people["agent"], noted.id, "internal only", internal=True,
                          clock=FixedClock(sh(2026, 11, 24, 11, 30)))
    assert noted.next_response_due == sh(2026, 11, 24, 13, 0)  # P1: 120 minutes around the clock
    services.do_change_status(session, people["agent"], noted.id, "resolve", clock=FixedClock(sh(2026, 11, 24, 14, 0)))
    _say(session, people["customer"], quick, sh(2026, 11, 24, 11, 0))
    services.do_change_status(session, people["agent"], quick.id, "resolve", clock=FixedClock(sh(2026, 11, 24, 11, 5)))
    p1 = _prio(report.monthly(session, "2026-11", now=sh(2026, 11, 30)), "P1")
    # resolved after the due time without a reply: breached; resolved before it: not measured
    assert (p1["next_response_met"], p1["next_response_breached"], p1["next_response_clocks"]) == (0, 1, 2)


def test_priority_change_retimes_the_running_clock(session, people):
    t = _answered_ticket(session, people, "P2", sh(2026, 11, 24, 10, 0))
    _say(session, people["customer"], t, sh(2026, 11, 24, 11, 0))
    assert t.next_response_due == sh(2026, 11, 25, 10, 0)  # 480 business minutes
    services.do_set_priority(session, people["agent"], t.id, "P0", reason="whole org down now",
                             clock=FixedClock(sh(2026, 11, 24, 11, 10)))
    assert t.next_response_due == sh(2026, 11, 24, 11, 30)


def test_per_group_and_exports(client, session, people):
    clock = FixedClock(sh(2026, 11, 24, 10, 0))
    t = _answered_ticket(session, people, "P2", sh(2026, 11, 24, 9, 30), title="部分用户消息发送失败")
    _say(session, people["customer"], t, sh(2026, 11, 24, 9, 40))
    session.commit()
    data = report.monthly(session, "2026-11", now=clock.now())
    group = store.desk_config(session).group_keys[t.group_id]
    row = next(g for g in data["per_group"] if g["group"] == group)
    assert row["tickets"] == 1 and row["next_response_clocks"] == 1 and row["next_response_measured"] == 0
    _say(session, people["agent"], t, sh(2026, 11, 24, 9, 50))
    session.commit()
    tok = make_token(session, people["agent"])
    ctok = make_token(session, people["customer"])
    session.commit()
    page = client.get("/desk/report?month=2026-11", headers=auth(tok))
    assert page.status_code == 200 and 'id="per-group"' in page.text and 'id="next-response-rate"' in page.text
    assert 'id="next-response-rate">100.0%' in page.text and 'href="/desk/report.json?month=2026-11"' in page.text
    csv = client.get("/desk/report.csv?month=2026-11", headers=auth(tok)).text
    assert "priority,2026-11,P2,1,1,1,100.0,0,0,,1,0,1,100.0,0,0" in csv
    assert f"group,2026-11,{group},1,1,1,100.0" in csv
    exported = client.get("/desk/report.json?month=2026-11", headers=auth(tok))
    assert exported.headers["content-type"].startswith("application/json")
    api = client.get("/api/v1/desk/report?month=2026-11", headers=auth(tok))
    assert api.status_code == 200 and api.json() == json.loads(exported.text)
    assert api.json()["next_response_rate_pct"] == 100.0
    bad = client.get("/api/v1/desk/report?month=2026-13", headers=auth(tok))
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/desk/report", headers=auth(ctok)).status_code == 403
    assert client.get("/desk/report.json", headers=auth(ctok)).status_code == 403
