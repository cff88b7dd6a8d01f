from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from imdesk.desk.routing import Candidate, choose_agent

SH = ZoneInfo("Asia/Shanghai")
WORKTIME = datetime(2026, 10, 12, 10, 0, tzinfo=SH)  # Monday 10:00
NIGHT = datetime(2026, 10, 12, 23, 0, tzinfo=SH)


def test_least_loaded_wins():
    cands = [Candidate(1, open_load=3), Candidate(2, open_load=1), Candidate(3, open_load=2)]
    assert choose_agent(cands, WORKTIME, priority="P2").user_id == 2


def test_round_robin_on_ties():
    t = datetime(2026, 10, 12, 1, 0, tzinfo=UTC)
    cands = [Candidate(1, 1, last_assigned_at=t), Candidate(2, 1, last_assigned_at=t - timedelta(hours=1)),
             Candidate(3, 1, last_assigned_at=t + timedelta(minutes=5))]
    d = choose_agent(cands, WORKTIME, priority="P3")
    assert d.user_id == 2 and "round-robin" in d.reason
    never = [*cands, Candidate(4, 1, last_assigned_at=None)]
    assert choose_agent(never, WORKTIME, priority="P3").user_id == 4


def test_absence_and_working_hours():
    away = ((WORKTIME - timedelta(days=1), WORKTIME + timedelta(days=1)),)
    cands = [Candidate(1, 0, absences=away), Candidate(2, 5)]
    assert choose_agent(cands, WORKTIME, priority="P2").user_id == 2
    assert choose_agent([Candidate(1, 0, absences=away)], WORKTIME, priority="P2").user_id is None
    # outside working hours a P2 waits in the queue, a P0 goes to whoever is on call
    assert choose_agent(cands, NIGHT, priority="P2").user_id is None
    assert choose_agent(cands, NIGHT, priority="P0").user_id == 2  # 1 is still absent
    assert choose_agent([Candidate(1, 0), Candidate(2, 5)], NIGHT, priority="P0").user_id == 1
    # holidays count as outside working hours
    holiday = datetime(2026, 10, 2, 10, 0, tzinfo=SH)
    assert choose_agent(cands, holiday, priority="P3").user_id is None


def test_seniors_for_urgent_and_verified():
    cands = [Candidate(1, 0), Candidate(2, 4, senior=True)]
    assert choose_agent(cands, WORKTIME, priority="P2").user_id == 1
    assert choose_agent(cands, WORKTIME, priority="P1").user_id == 2
    assert choose_agent(cands, WORKTIME, priority="P3", verified_org=True).user_id == 2
    # no senior available: the others take it
    assert choose_agent([Candidate(1, 0)], WORKTIME, priority="P0").user_id == 1
