"""Time arguments of the diagnostics commands: ``--since`` / ``--until`` and config durations.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    >>> parse_time("2h", now=datetime(2026, 3, 15, 12, tzinfo=UTC))   # two hours ago
    datetime.datetime(2026, 3, 15, 10, 0, tzinfo=datetime.timezone.utc)
    >>> parse_time("2026-03-15 10:23:45", tz=ZoneInfo("Asia/Shanghai"))  # naive: read in tz
    datetime.datetime(2026, 3, 15, 2, 23, 45, tzinfo=datetime.timezone.utc)

A time argument is either an ISO 8601 date/time (an offset is honoured; a naive value is read in
``tz``, the profile's zone) or a duration (``30m``, ``2h``, ``7d``, ``1h30m``) meaning that long
before ``now``. ``now`` and ``today`` are accepted too. Every result is timezone-aware UTC.
Bad values raise :class:`imdesk.core.errors.BadInput` with a message that shows the accepted forms.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from imdesk.core.errors import BadInput

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")

_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_DURATION_FULL = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+$", re.IGNORECASE)

TIME_FORMS = "ISO 8601 (2026-03-15, 2026-03-15T10:00, 2026-03-15 10:00:00+08:00) or a duration (30m, 2h, 7d)"


def is_duration(text: str) -> bool:
    return bool(_DURATION_FULL.match(text or ""))


def parse_duration(text: str) -> timedelta:
    """``500ms``, ``30s``, ``15m``, ``24h``, ``7d``, ``2w`` or a sum such as ``1h30m``."""
    if not isinstance(text, str) or not is_duration(text):
        raise BadInput(f"invalid duration {text!r}: expected e.g. 500ms, 30s, 15m, 2h, 7d or 1h30m")
    total = timedelta()
    for number, unit in _DURATION_PART.findall(text):
        total += float(number) * _UNITS[unit.lower()]
    return total


def _aware(dt: datetime, tz: tzinfo) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(UTC)


def parse_iso(text: str, tz: tzinfo | None = None) -> datetime:
    """An ISO 8601 date or date-time (``T`` or a space between; ``Z`` or an offset honoured)."""
    tz = tz or DEFAULT_TZ
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        if len(s) == 10:
            return _aware(datetime.combine(date.fromisoformat(s), time()), tz)
        return _aware(datetime.fromisoformat(s), tz)
    except ValueError:
        raise BadInput(f"invalid time {text!r}: expected {TIME_FORMS}") from None


def parse_time(text: str, *, now: datetime | None = None, tz: tzinfo | None = None) -> datetime:
    """A ``--since``/``--until`` value as an aware UTC datetime (see the module docstring)."""
    if not isinstance(text, str) or not text.strip():
        raise BadInput(f"invalid time {text!r}: expected {TIME_FORMS}")
    tz = tz or DEFAULT_TZ
    now = _aware(now, tz) if now is not None else datetime.now(UTC)
    s = text.strip()
    low = s.lower()
    if low == "now":
        return now
    if low == "today":
        local = now.astimezone(tz)
        return _aware(datetime.combine(local.date(), time()), tz)
    if is_duration(s):
        return now - parse_duration(s)
    return parse_iso(s, tz)


def parse_window(
    since: str | None,
    until: str | None,
    *,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> tuple[datetime | None, datetime | None]:
    """Both ends of a time window (each optional); refuses a window that ends before it starts."""
    start = parse_time(since, now=now, tz=tz) if since else None
    end = parse_time(until, now=now, tz=tz) if until else None
    if start is not None and end is not None and end < start:
        raise BadInput(f"--until ({until}) is before --since ({since})")
    return start, end


def format_duration(delta: timedelta) -> str:
    """The shortest readable form: ``90s`` -> ``1m30s``; used in reports."""
    ms = int(round(delta.total_seconds() * 1000))
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    out = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        n, ms = divmod(ms, size)
        if n:
            out.append(f"{n}{unit}")
    return sign + "".join(out)
