from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imdesk.core.errors import BadInput
from imdesk.diag.timeutil import format_duration, parse_duration, parse_time, parse_window

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    "text,expected",
    [("500ms", timedelta(milliseconds=500)), ("30s", timedelta(seconds=30)), ("15m", timedelta(minutes=15)),
     ("2h", timedelta(hours=2)), ("7d", timedelta(days=7)), ("1h30m", timedelta(minutes=90)), ("2w", timedelta(weeks=2))],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "h", "2x", "-5m", "5 minutes", "1.2.3h", None])
def test_bad_durations_are_bad_input(bad):
    with pytest.raises(BadInput):
        parse_duration(bad)


def test_duration_back_from_now():
    assert parse_time("2h", now=NOW) == datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
    assert parse_time("now", now=NOW) == NOW


def test_naive_iso_is_read_in_the_profile_zone_and_offsets_are_honoured():
    assert parse_time("2026-03-15 10:23:45", tz=SH) == datetime(2026, 3, 15, 2, 23, 45, tzinfo=UTC)
    assert parse_time("2026-03-15T10:23:45+00:00", tz=SH) == datetime(2026, 3, 15, 10, 23, 45, tzinfo=UTC)
    assert parse_time("2026-03-15T10:23:45Z", tz=SH) == datetime(2026, 3, 15, 10, 23, 45, tzinfo=UTC)
    assert parse_time("2026-03-15", tz=SH) == datetime(2026, 3, 14, 16, 0, tzinfo=UTC)
    assert parse_time("today", now=NOW, tz=SH) == datetime(2026, 3, 14, 16, 0, tzinfo=UTC)


def test_bad_time_names_the_accepted_forms():
    with pytest.raises(BadInput, match="ISO 8601"):
        parse_time("yesterday-ish")


def test_window_refuses_until_before_since():
    with pytest.raises(BadInput, match="before"):
        parse_window("2026-03-15", "2026-03-14")
    assert parse_window(None, None) == (None, None)


@given(st.integers(min_value=0, max_value=10**9))
def test_format_then_parse_roundtrip(ms):
    d = timedelta(milliseconds=ms)
    assert parse_duration(format_duration(d)) == d
