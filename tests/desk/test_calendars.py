from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imdesk.core.errors import BadInput
from imdesk.desk.calendars import BusinessCalendar

SH = ZoneInfo("Asia/Shanghai")


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_statutory_holidays_and_makeup_days():
    cal = BusinessCalendar.china()
    assert cal.is_workday(date(2026, 9, 30))
    assert not cal.is_workday(date(2026, 10, 1))  # National Day
    assert not cal.is_workday(date(2026, 10, 7))
    assert cal.is_workday(date(2026, 10, 10))  # Saturday make-up working day
    assert not cal.is_workday(date(2026, 10, 11))  # ordinary Sunday
    assert cal.day_source(date(2026, 10, 10)) == "statutory"


def test_override_wins_over_statutory():
    cal = BusinessCalendar.china({date(2026, 10, 10): False, date(2026, 10, 1): True})
    assert not cal.is_workday(date(2026, 10, 10))
    assert cal.is_workday(date(2026, 10, 1))
    assert cal.day_source(date(2026, 10, 1)) == "override"


def test_unknown_year_falls_back_to_weekdays_with_warning():
    cal = BusinessCalendar.china()
    assert cal.coverage_warning() is None
    assert cal.is_workday(date(2031, 1, 1))  # a Wednesday; New Year unknown for 2031
    assert not cal.is_workday(date(2031, 1, 4))  # Saturday
    assert cal.fallback_years == {2031}
    warning = cal.coverage_warning()
    assert warning and "2031" in warning
    assert "2032" in (cal.coverage_warning([2032]) or "")


def test_override_for_unknown_year():
    cal = BusinessCalendar.china({date(2031, 1, 1): False})
    assert not cal.is_workday(date(2031, 1, 1))


def test_add_minutes_across_national_day():
    cal = BusinessCalendar.china()
    assert cal.add_business_minutes(sh(2026, 9, 30, 17, 30), 30) == sh(2026, 9, 30, 18, 0)
    assert cal.add_business_minutes(sh(2026, 9, 30, 17, 30), 240) == sh(2026, 10, 8, 12, 30)
    # 30 + 540 + 540 + 510: the make-up Saturday counts
    assert cal.add_business_minutes(sh(2026, 9, 30, 17, 30), 1620) == sh(2026, 10, 10, 17, 30)


def test_start_outside_hours_rolls_to_next_opening():
    cal = BusinessCalendar.china()
    assert cal.add_business_minutes(sh(2026, 10, 12, 20, 0), 60) == sh(2026, 10, 13, 10, 0)
    assert cal.add_business_minutes(sh(2026, 10, 12, 7, 0), 60) == sh(2026, 10, 12, 10, 0)
    assert cal.add_business_minutes(sh(2026, 10, 17, 12, 0), 1) == sh(2026, 10, 19, 9, 1)  # weekend


def test_naive_and_negative_are_bad_input():
    cal = BusinessCalendar.china()
    with pytest.raises(BadInput):
        cal.add_business_minutes(datetime(2026, 1, 5, 10), 5)
    with pytest.raises(BadInput):
        cal.add_business_minutes(sh(2026, 1, 5, 10), -1)
    with pytest.raises(BadInput):
        BusinessCalendar(name="x", timezone="Mars/Base")
    with pytest.raises(BadInput):
        BusinessCalendar.from_config("x", {"start": "18:00", "end": "18:00"})


def test_around_the_clock():
    cal = BusinessCalendar.always()
    start = sh(2026, 10, 1, 23, 50)
    assert cal.add_business_minutes(start, 15) == start + timedelta(minutes=15)
    assert cal.business_minutes_between(start, start + timedelta(hours=4)) == 240


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2026, 12, 1), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(start=instants, minutes=st.integers(min_value=0, max_value=6000))
def test_add_then_measure_roundtrip(start, minutes):
    cal = BusinessCalendar.china()
    due = cal.add_business_minutes(start, minutes)
    assert due >= start
    assert cal.business_minutes_between(start, due) == pytest.approx(minutes, abs=1e-6)
    if minutes:
        assert cal.is_business_time(due - timedelta(seconds=1))
        local = due.astimezone(SH)
        assert cal.is_workday(local.date())
        assert local.timetz().replace(tzinfo=None) >= datetime.min.time().replace(hour=9)


@settings(max_examples=100, deadline=None)
@given(start=instants, a=st.integers(0, 3000), b=st.integers(0, 3000))
def test_addition_is_additive_and_monotonic(start, a, b):
    cal = BusinessCalendar.china()
    assert cal.add_business_minutes(cal.add_business_minutes(start, a), b) == cal.add_business_minutes(start, a + b)
    lo, hi = sorted((a, b))
    assert cal.add_business_minutes(start, lo) <= cal.add_business_minutes(start, hi)


@settings(max_examples=100, deadline=None)
@given(day=st.dates(min_value=date(2010, 1, 1), max_value=date(2026, 12, 31)))
def test_holidays_never_count(day):
    cal = BusinessCalendar.china()
    start = datetime.combine(day, datetime.min.time(), tzinfo=SH)
    minutes = cal.business_minutes_between(start, start + timedelta(days=1))
    assert minutes == (540 if cal.is_workday(day) else 0)


# -- night shifts: an end before the start crosses midnight --------------------------------------
def night() -> BusinessCalendar:
    return BusinessCalendar.from_config("nights", {"start": "22:00", "end": "06:00", "timezone": "Asia/Shanghai"})


def test_a_night_shift_belongs_to_the_day_it_starts():
    cal = night()
    assert cal.overnight and cal.minutes_per_day == 480
    # Friday 2026-11-27 22:00 -> Saturday 06:00 is Friday's shift; Saturday night is off
    assert cal.is_business_time(sh(2026, 11, 27, 23, 0)) and cal.is_business_time(sh(2026, 11, 28, 5, 59))
    assert not cal.is_business_time(sh(2026, 11, 28, 6, 0)) and not cal.is_business_time(sh(2026, 11, 28, 23, 0))
    # Sunday night is off too; Monday morning before 06:00 belongs to Sunday's (absent) shift
    assert not cal.is_business_time(sh(2026, 11, 30, 3, 0))
    assert cal.is_business_time(sh(2026, 11, 30, 22, 0)) and not cal.is_business_time(sh(2026, 11, 30, 21, 59))
    # a working day's night: 8 hours, 2 of them before midnight
    assert cal.business_minutes_between(sh(2026, 11, 24, 0, 0), sh(2026, 11, 25, 0, 0)) == 120 + 360  # Mon's tail + Tue's head
    assert cal.business_minutes_between(sh(2026, 11, 24, 22, 0), sh(2026, 11, 25, 6, 0)) == 480
    # Friday 23:00 + 7 h ends Saturday 06:00; one more minute waits for Monday 22:00
    assert cal.add_business_minutes(sh(2026, 11, 27, 23, 0), 420) == sh(2026, 11, 28, 6, 0)
    assert cal.add_business_minutes(sh(2026, 11, 27, 23, 0), 421) == sh(2026, 11, 30, 22, 1)


def test_a_night_shift_skips_holidays_by_its_start_day():
    cal = night()
    # 2026-09-30 (a working day) 22:00 -> 10-01 06:00 counts; the National Day nights do not
    assert cal.is_business_time(sh(2026, 10, 1, 3, 0))
    assert not cal.is_business_time(sh(2026, 10, 1, 23, 0)) and not cal.is_business_time(sh(2026, 10, 3, 3, 0))


def test_hours_that_start_and_end_together_are_bad_input():
    with pytest.raises(BadInput):
        BusinessCalendar.from_config("x", {"start": "08:00", "end": "08:00"})


@settings(max_examples=150, deadline=None)
@given(start=instants, minutes=st.integers(min_value=0, max_value=6000),
       hours=st.sampled_from([("22:00", "06:00"), ("18:30", "02:15"), ("23:30", "00:30"), ("09:00", "18:00")]))
def test_night_shifts_add_and_measure_alike(start, minutes, hours):
    cal = BusinessCalendar.from_config("n", {"start": hours[0], "end": hours[1]})
    due = cal.add_business_minutes(start, minutes)
    assert due >= start
    assert cal.business_minutes_between(start, due) == pytest.approx(minutes, abs=1e-6)
    if minutes:
        assert cal.is_business_time(due - timedelta(seconds=1))
    # business time is where the minutes are counted
    probe = (start + timedelta(minutes=minutes % 1440)).replace(second=0, microsecond=0)
    counted = cal.business_minutes_between(probe, probe + timedelta(minutes=1))
    assert (counted == 1) == cal.is_business_time(probe)
