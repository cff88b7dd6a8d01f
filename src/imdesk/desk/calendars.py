"""Business calendars for SLA clocks (pure: no database, no web).

A :class:`BusinessCalendar` answers two questions: is a date a working day, and where do
business minutes fall. The default calendar is China's: working hours 09:00-18:00 Asia/Shanghai
on China's working days, i.e. statutory holidays off and the official make-up working days on,
as published in the ``chinese-calendar`` package.

Precedence for one date:

1. an admin **override** (``{date: is_workday}``, stored in the ``desk_calendar_overrides`` table
   and passed in here) wins;
2. otherwise ``chinese-calendar`` when it knows the year;
3. otherwise plain weekdays (Monday-Friday) — and the calendar remembers the year in
   :attr:`BusinessCalendar.fallback_years` and logs a warning once, so the UI and the CLI can show
   a visible warning ("holidays of 2030 are not known; add overrides").

An *around-the-clock* calendar counts every minute of every day (P0/P1 targets). Working hours may
cross midnight (``22:00``-``06:00``, a night shift): such a shift belongs to the day it starts on,
which must be a working day (Friday's night runs into Saturday morning; Saturday's night is off).

    >>> cal = BusinessCalendar.china()
    >>> cal.add_business_minutes(datetime(2026, 9, 30, 9, 30, tzinfo=UTC), 31)   # 17:30 Shanghai
    datetime.datetime(2026, 10, 8, 1, 1, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from imdesk.core.errors import BadInput

log = logging.getLogger("imdesk.desk.calendars")

try:  # the package is a declared dependency; the import guard only keeps the module importable
    import chinese_calendar as _cc
except ImportError:  # pragma: no cover
    _cc = None

_MAX_DAYS = 3660  # never loop longer than ten years looking for working time


def _statutory(d: date) -> bool | None:
    """chinese-calendar's verdict for ``d``, or None when it does not know the year."""
    if _cc is None:  # pragma: no cover
        return None
    try:
        return bool(_cc.is_workday(d))
    except NotImplementedError:
        return None


@dataclass
class BusinessCalendar:
    """Working days and hours in one time zone; see the module docstring for the precedence."""

    name: str = "china"
    timezone: str = "Asia/Shanghai"
    start: time = time(9, 0)
    end: time = time(18, 0)
    use_statutory: bool = True
    around_the_clock: bool = False
    overrides: Mapping[date, bool] = field(default_factory=dict)
    fallback_years: set[int] = field(default_factory=set, compare=False)
    _cache: dict[date, bool] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.around_the_clock and self.start == self.end:
            raise BadInput(f"calendar {self.name!r}: working hours must not start and end at the same time")
        try:
            self.tz = ZoneInfo(self.timezone)
        except Exception as exc:  # ZoneInfoNotFoundError, ValueError
            raise BadInput(f"calendar {self.name!r}: unknown time zone {self.timezone!r}") from exc
        self.overrides = dict(self.overrides)

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def china(cls, overrides: Mapping[date, bool] | None = None) -> BusinessCalendar:
        return cls(name="china", overrides=overrides or {})

    @classmethod
    def always(cls) -> BusinessCalendar:
        """Around the clock: every minute counts (24x7)."""
        return cls(name="24x7", timezone="UTC", around_the_clock=True, use_statutory=False)

    @classmethod
    def from_config(cls, name: str, cfg: Mapping, overrides: Mapping[date, bool] | None = None) -> BusinessCalendar:
        """Build from a profile's ``calendars:`` entry (``timezone``, ``start``, ``end``, ``source``)."""
        try:
            start = time.fromisoformat(str(cfg.get("start", "09:00")))
            end = time.fromisoformat(str(cfg.get("end", "18:00")))
        except ValueError as exc:
            raise BadInput(f"calendar {name!r}: bad working hours: {exc}") from exc
        source = cfg.get("source", "chinese_calendar")
        if source not in ("chinese_calendar", "weekdays", "24x7"):
            raise BadInput(f"calendar {name!r}: unknown source {source!r}")
        return cls(
            name=name,
            timezone=str(cfg.get("timezone", "Asia/Shanghai")),
            start=start,
            end=end,
            use_statutory=source == "chinese_calendar",
            around_the_clock=source == "24x7",
            overrides=overrides or {},
        )

    # -- days ---------------------------------------------------------------------------------
    @property
    def overnight(self) -> bool:
        """The working hours cross midnight (a night shift: the end is before the start)."""
        return not self.around_the_clock and self.end < self.start

    @property
    def minutes_per_day(self) -> int:
        if self.around_the_clock:
            return 24 * 60
        return ((self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)) % (24 * 60)

    def is_workday(self, d: date) -> bool:
        if self.around_the_clock:
            return True
        hit = self._cache.get(d)
        if hit is not None:
            return hit
        if d in self.overrides:
            value = bool(self.overrides[d])
        else:
            value = _statutory(d) if self.use_statutory else None
            if value is None:
                if self.use_statutory and d.year not in self.fallback_years:
                    self.fallback_years.add(d.year)
                    log.warning(
                        "calendar %s: no statutory holiday data for %s; using plain weekdays "
                        "(add overrides for that year)", self.name, d.year,
                    )
                value = d.weekday() < 5
        self._cache[d] = value
        return value

    def day_source(self, d: date) -> str:
        """Where the verdict for ``d`` comes from: override, statutory, weekdays or 24x7."""
        if self.around_the_clock:
            return "24x7"
        if d in self.overrides:
            return "override"
        if self.use_statutory and _statutory(d) is not None:
            return "statutory"
        return "weekdays"

    def unknown_years(self, years: Iterable[int]) -> list[int]:
        """Those of ``years`` that chinese-calendar does not know (weekday fallback applies)."""
        if self.around_the_clock or not self.use_statutory:
            return []
        return sorted({y for y in years if _statutory(date(y, 6, 1)) is None})

    def coverage_warning(self, years: Iterable[int] = ()) -> str | None:
        """A visible warning when some dates fall back to plain weekdays (years met so far, plus ``years``)."""
        ys = set(self.fallback_years) | set(self.unknown_years(years))
        if not ys:
            return None
        listed = ", ".join(str(y) for y in sorted(ys))
        return (
            f"calendar {self.name}: statutory holidays unknown for {listed}; plain weekdays are used "
            "except for dates an admin has overridden"
        )

    # -- minutes ------------------------------------------------------------------------------
    def _window(self, d: date) -> tuple[datetime, datetime]:
        """The working hours of the day ``d`` (a night shift ends on the next day)."""
        return (
            datetime.combine(d, self.start, tzinfo=self.tz).astimezone(UTC),
            datetime.combine(d + timedelta(days=1) if self.overnight else d, self.end, tzinfo=self.tz).astimezone(UTC),
        )

    def _first_day(self, at: datetime) -> date:
        """The first day whose working hours may hold ``at``: the day before, for a night shift."""
        d = at.astimezone(self.tz).date()
        return d - timedelta(days=1) if self.overnight else d

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """The instant ``minutes`` business minutes after ``start`` (aware; returned in UTC).

        Zero minutes from outside working hours gives ``start`` itself.
        """
        start = _aware(start)
        if minutes < 0:
            raise BadInput("business minutes must not be negative")
        if self.around_the_clock:
            return start + timedelta(minutes=minutes)
        remaining = timedelta(minutes=minutes)
        if remaining == timedelta(0):
            return start
        d = self._first_day(start)
        for _ in range(_MAX_DAYS):
            if self.is_workday(d):
                w0, w1 = self._window(d)
                cur = max(start, w0)
                if cur < w1:
                    avail = w1 - cur
                    if remaining <= avail:
                        return cur + remaining
                    remaining -= avail
            d += timedelta(days=1)
        raise BadInput(f"calendar {self.name!r}: no working time within {_MAX_DAYS} days")

    def business_minutes_between(self, a: datetime, b: datetime) -> float:
        """Business minutes in ``[a, b)``; 0 when ``b <= a``."""
        a, b = _aware(a), _aware(b)
        if b <= a:
            return 0.0
        if self.around_the_clock:
            return (b - a).total_seconds() / 60
        total = timedelta(0)
        d = self._first_day(a)
        last = b.astimezone(self.tz).date()
        while d <= last:
            if self.is_workday(d):
                w0, w1 = self._window(d)
                lo, hi = max(a, w0), min(b, w1)
                if hi > lo:
                    total += hi - lo
            d += timedelta(days=1)
        return total.total_seconds() / 60

    def is_business_time(self, at: datetime) -> bool:
        at = _aware(at)
        if self.around_the_clock:
            return True
        d = self._first_day(at)
        last = at.astimezone(self.tz).date()
        while d <= last:
            if self.is_workday(d):
                w0, w1 = self._window(d)
                if w0 <= at < w1:
                    return True
            d += timedelta(days=1)
        return False


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise BadInput("naive datetime: an offset or time zone is required")
    return dt.astimezone(UTC)
