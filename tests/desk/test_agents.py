"""Agents' working calendar, own hours and absence: the page and form (admins edit anyone, agents
themselves), errors next to the field with nothing stored, and routing assigning by them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from imdesk.accounts.services import SYSTEM
from imdesk.core.clock import FixedClock
from imdesk.core.errors import BadInput
from imdesk.desk import services
from imdesk.desk.errors import NotAllowed
from imdesk.desk.models import AgentState
from tests.desk.factories import make_ticket
from tests.factories import auth, make_org, make_token, make_user

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def team(session):
    org = make_org(session, "排班测试")
    people = {"customer": make_user(session, "customer", org_id=org, password=None),
              "early": make_user(session, "agent", password=None, name="Early"),
              "late": make_user(session, "agent", password=None, name="Late"),
              "admin": make_user(session, "admin", password=None)}
    for who in ("early", "late"):
        services.do_add_group_member(session, SYSTEM, "messaging", people[who].user_id)
    return people


def _route(session, team, at: datetime, title: str = "群聊消息撤回失败") -> int | None:
    return make_ticket(session, team["customer"], clock=FixedClock(at), title=title, description="部分用户").assignee_id


def test_routing_follows_own_hours_and_24x7(session, team):
    services.do_set_working_hours(session, team["admin"], team["late"].user_id, calendar="china",
                                  start="13:00", end="22:00")
    # Tuesday 10:00: only the early agent is in hours; 19:30: only the late one
    assert _route(session, team, datetime(2026, 11, 24, 10, 0, tzinfo=SH)) == team["early"].user_id
    assert _route(session, team, datetime(2026, 11, 24, 19, 30, tzinfo=SH)) == team["late"].user_id
    # Sunday night: nobody in hours, a P2 waits in the group queue ...
    assert _route(session, team, datetime(2026, 11, 29, 23, 0, tzinfo=SH)) is None
    # ... unless someone works around the clock
    services.do_set_working_hours(session, team["early"], team["early"].user_id, calendar="24x7", start="08:00",
                                  end="09:00")
    st = session.get(AgentState, team["early"].user_id)
    assert (st.calendar, st.work_start, st.work_end) == ("24x7", None, None)  # 24x7 has no own hours
    assert _route(session, team, datetime(2026, 11, 29, 23, 0, tzinfo=SH)) == team["early"].user_id


def test_a_night_shift_takes_the_night(session, team):
    services.do_set_working_hours(session, team["admin"], team["late"].user_id, calendar="china",
                                  start="22:00", end="06:00")
    st = session.get(AgentState, team["late"].user_id)
    assert (st.work_start, st.work_end) == ("22:00", "06:00")
    # Tuesday 23:00 and Wednesday 03:00 belong to Tuesday's night shift; Wednesday 10:00 to the day
    assert _route(session, team, datetime(2026, 11, 24, 23, 0, tzinfo=SH)) == team["late"].user_id
    assert _route(session, team, datetime(2026, 11, 25, 3, 0, tzinfo=SH)) == team["late"].user_id
    assert _route(session, team, datetime(2026, 11, 25, 10, 0, tzinfo=SH)) == team["early"].user_id
    # Saturday night is no working day's night: a P2 waits
    assert _route(session, team, datetime(2026, 11, 28, 23, 0, tzinfo=SH)) is None
    with pytest.raises(BadInput):
        services.do_set_working_hours(session, team["admin"], team["late"].user_id, calendar="china",
                                      start="06:00", end="06:00")


def test_only_admins_edit_other_people(session, team):
    with pytest.raises(NotAllowed):
        services.do_set_working_hours(session, team["early"], team["late"].user_id, calendar="china")
    with pytest.raises(NotAllowed):
        services.do_set_absence(session, team["customer"], team["customer"].user_id, None, None)


def test_page_form_and_errors(client, session, team, clock):
    tok = {k: make_token(session, team[k]) for k in ("admin", "early", "customer")}
    session.commit()
    page = client.get("/desk/agents", headers=auth(tok["admin"]))
    late = team["late"].user_id
    assert page.status_code == 200 and f'id="agent-{late}"' in page.text and 'name="work_start"' in page.text
    assert client.get("/desk/agents", headers=auth(tok["customer"])).status_code == 403
    # an agent sees everyone but can only edit themselves
    own = client.get("/desk/agents", headers=auth(tok["early"])).text
    assert own.count('name="work_start"') == 1
    assert client.post(f"/desk/agents/{late}", data={"calendar": "china"}, headers=auth(tok["early"])).status_code == 403

    hx = {**auth(tok["admin"]), "HX-Request": "true"}
    bad = {"calendar": "china", "work_start": "13:00", "work_end": "", "absent_from": "2026-11-24T09:00",
           "absent_until": "2026-11-26T18:00"}
    r = client.post(f"/desk/agents/{late}", data=bad, headers=hx)
    assert r.status_code == 200 and "<html" not in r.text and 'data-field="work_end"' in r.text
    assert 'value="2026-11-26T18:00"' in r.text and 'value="13:00"' in r.text  # what was typed stays
    session.expire_all()
    assert session.get(AgentState, late) is None  # nothing stored
    r = client.post(f"/desk/agents/{late}", data=dict(bad, absent_until="2026-11-23T09:00", work_end="22:00"),
                    headers=auth(tok["admin"]))
    assert r.status_code == 422 and 'data-field="absent_until"' in r.text and "<html" in r.text
    r = client.post(f"/desk/agents/{late}", data=dict(bad, calendar="mars", work_end="22:00"), headers=hx)
    assert 'data-field="calendar"' in r.text
    r = client.post(f"/desk/agents/{late}", data=dict(bad, work_end="22:00"),
                    headers={**hx, "Accept-Language": "zh-CN"})
    assert r.status_code == 200 and 'class="notice agent-saved"' in r.text and "当前请假中" in r.text
    session.expire_all()
    st = session.get(AgentState, late)
    assert (st.work_start, st.work_end) == ("13:00", "22:00")
    assert st.absent_from == datetime(2026, 11, 24, 9, 0, tzinfo=SH) and st.absent_until == datetime(2026, 11, 26, 18, 0, tzinfo=SH)
    # absent now (Tue 10:00): routing skips them
    assert _route(session, team, datetime(2026, 11, 24, 10, 0, tzinfo=SH)) == team["early"].user_id
    r = client.post(f"/desk/agents/{late}", data=dict(bad, work_end="22:00", action="clear_absence"), headers=hx)
    session.expire_all()
    assert session.get(AgentState, late).absent_from is None
