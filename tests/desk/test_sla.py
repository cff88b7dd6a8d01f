from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imdesk.core.errors import BadInput
from imdesk.desk import sla
from imdesk.desk.calendars import BusinessCalendar

SH = ZoneInfo("Asia/Shanghai")


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture(scope="module")
def default():
    return sla.load_policies()["default"]


def test_default_policy_is_the_issue_s(default):
    t = default.targets
    assert (t["P0"].first_response, t["P0"].resolution, t["P0"].around_the_clock) == (15, 240, True)
    assert (t["P1"].first_response, t["P1"].resolution, t["P1"].around_the_clock) == (60, 1440, True)
    assert (t["P2"].first_response, t["P2"].resolution, t["P2"].around_the_clock) == (240, 1620, False)
    assert (t["P3"].first_response, t["P3"].resolution, t["P3"].around_the_clock) == (540, 5400, False)


def test_preview_contract_example(default):
    cal = BusinessCalendar.china()
    out = sla.preview(default, cal, "P2", sh(2026, 9, 30, 17, 30))
    assert out == {"first_response_due": "2026-10-08T12:30:00+08:00", "resolution_due": "2026-10-10T17:30:00+08:00"}


def test_p0_runs_through_holidays(default):
    cal = BusinessCalendar.china()
    start = sh(2026, 10, 1, 3, 0)
    assert sla.due_at(default.target("P0", "first_response"), cal, start) == start + timedelta(minutes=15)
    assert sla.due_at(default.target("P1", "resolution"), cal, start) == start + timedelta(hours=24)


def test_pause_pushes_due_back(default):
    cal = BusinessCalendar.china()
    target = default.target("P2", "first_response")  # 240 business minutes
    start = sh(2026, 10, 12, 9, 0)
    assert sla.due_at(target, cal, start) == sh(2026, 10, 12, 13, 0)
    pauses = [(sh(2026, 10, 12, 10, 0), sh(2026, 10, 12, 11, 30))]
    assert sla.due_at(target, cal, start, pauses) == sh(2026, 10, 12, 14, 30)
    # a pause overnight only costs its business minutes (17:00-18:00 and 09:00-09:30)
    pauses = [(sh(2026, 10, 12, 17, 0), sh(2026, 10, 13, 9, 30))]
    assert sla.due_at(target, cal, start, pauses) == sh(2026, 10, 12, 13, 0)  # began after due: no effect
    target3 = default.target("P3", "first_response")  # 540
    assert sla.due_at(target3, cal, start, pauses) == sh(2026, 10, 13, 10, 30)
    # still paused: no due time
    assert sla.due_at(target3, cal, start, [(sh(2026, 10, 12, 10, 0), None)]) is None


def test_state_and_elapsed(default):
    cal = BusinessCalendar.china()
    t = default.target("P2", "first_response")
    start = sh(2026, 10, 12, 9, 0)
    assert sla.sla_state(t, cal, start, sh(2026, 10, 12, 10, 0)) == "ok"
    assert sla.sla_state(t, cal, start, sh(2026, 10, 12, 12, 12)) == "warning"  # 192/240 = 80 %
    assert sla.sla_state(t, cal, start, sh(2026, 10, 12, 13, 0)) == "breached"
    assert sla.sla_state(t, cal, start, sh(2026, 10, 12, 13, 0), [(sh(2026, 10, 12, 10, 0), None)]) == "paused"
    pauses = [(sh(2026, 10, 12, 10, 0), sh(2026, 10, 12, 11, 0))]
    assert sla.elapsed_minutes(t, cal, start, sh(2026, 10, 12, 12, 0), pauses) == 120


def test_bad_policies():
    with pytest.raises(BadInput):
        sla.parse_policy({"name": "x", "targets": {}})
    good = {p: {"first_response": 10, "next_response": 10, "resolution": 20} for p in sla.PRIORITIES}
    assert sla.parse_policy({"name": "x", "targets": good}).target("P3", "resolution").minutes == 20
    bad = dict(good, P1={"first_response": 30, "next_response": 10, "resolution": 20})
    with pytest.raises(BadInput):
        sla.parse_policy({"name": "x", "targets": bad})
    with pytest.raises(BadInput):
        sla.parse_policy({"name": "x", "targets": dict(good, P5=good["P0"])})
    with pytest.raises(BadInput):
        sla.parse_policy({"name": "x", "targets": good}).target("P7", "resolution")


pause_strategy = st.lists(
    st.tuples(st.integers(0, 20_000), st.integers(1, 5_000)), max_size=4
)


@settings(max_examples=120, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 11, 1), timezones=st.just(UTC)),
    prio=st.sampled_from(sla.PRIORITIES),
    raw_pauses=pause_strategy,
)
def test_due_means_exactly_target_minutes_of_running_clock(start, prio, raw_pauses):
    """At the due time the clock (minus pauses) has run exactly the target, across holidays,
    make-up workdays, 24x7 targets and any pauses that began before it."""
    policy = sla.load_policies()["default"]
    cal = BusinessCalendar.china()
    target = policy.target(prio, "resolution")
    pauses = []
    cursor = start
    for gap, length in raw_pauses:
        p0 = cursor + timedelta(minutes=gap)
        p1 = p0 + timedelta(minutes=length)
        pauses.append((p0, p1))
        cursor = p1
    due = sla.due_at(target, cal, start, pauses)
    assert due is not None and due >= start
    relevant = [(a, b) for a, b in pauses if a < due]
    ran = sla.elapsed_minutes(target, cal, start, due, relevant)
    assert ran == pytest.approx(target.minutes, abs=1e-6)
    assert due >= sla.due_at(target, cal, start)


def test_cli_preview_json():
    out = subprocess.run(
        [sys.executable, "-m", "imdesk.cli", "sla", "preview", "--priority", "P2",
         "--start", "2026-09-30T17:30:00+08:00", "--json"],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "first_response_due": "2026-10-08T12:30:00+08:00", "resolution_due": "2026-10-10T17:30:00+08:00"}


@pytest.mark.parametrize("args", [
    ["--priority", "P9", "--start", "2026-09-30T17:30:00+08:00"],
    ["--priority", "P1", "--start", "yesterday-ish"],
    ["--priority", "P1", "--start", "2026-09-30T17:30:00+08:00", "--policy", "nope"],
])
def test_cli_preview_bad_input_is_one_line_exit_2(args):
    out = subprocess.run([sys.executable, "-m", "imdesk.cli", "sla", "preview", *args, "--json"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("imdesk: error:")

