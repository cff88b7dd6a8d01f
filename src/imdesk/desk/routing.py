"""Choosing an agent within a support group (pure).

Rules, in order:

1. Only agents who are **available**: inside their working hours (a :class:`BusinessCalendar`, by
   default the China calendar 09:00-18:00) and not absent. P0/P1 run around the clock: when
   nobody of the group is in working hours, anyone not absent may take them (on call).
2. P0/P1 tickets and tickets of **verified** enterprises go to **senior engineers** when one is
   available; otherwise to the other agents.
3. The **least-loaded** agent (fewest open tickets) wins; ties go **round-robin**: the agent whose
   last assignment is oldest (never assigned first), then the lowest user id.

Returns None when nobody can take the ticket: it stays unassigned in the group's queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from imdesk.desk.calendars import BusinessCalendar

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Candidate:
    user_id: int
    open_load: int = 0
    last_assigned_at: datetime | None = None
    senior: bool = False
    absences: tuple[tuple[datetime, datetime], ...] = ()
    calendar: BusinessCalendar | None = field(default=None, compare=False)

    def absent(self, now: datetime) -> bool:
        return any(a <= now < b for a, b in self.absences)

    def in_hours(self, now: datetime, default: BusinessCalendar) -> bool:
        return (self.calendar or default).is_business_time(now)


@dataclass(frozen=True)
class RoutingDecision:
    user_id: int | None
    reason: str


def choose_agent(
    candidates: Sequence[Candidate], now: datetime, *, priority: str, verified_org: bool = False,
    calendar: BusinessCalendar | None = None,
) -> RoutingDecision:
    cal = calendar or BusinessCalendar.china()
    present = [c for c in candidates if not c.absent(now)]
    if not present:
        return RoutingDecision(None, "no agent of the group is present (all absent or none)")
    urgent = priority in ("P0", "P1")
    pool = [c for c in present if c.in_hours(now, cal)]
    note = "in working hours"
    if not pool:
        if not urgent:
            return RoutingDecision(None, "outside working hours: left in the group queue")
        pool, note = present, "on call (outside working hours)"
    if urgent or verified_org:
        seniors = [c for c in pool if c.senior]
        if seniors:
            pool = seniors
            note += ", senior engineer for " + ("priority " + priority if urgent else "a verified enterprise")
    best = min(pool, key=lambda c: (c.open_load, c.last_assigned_at or _EPOCH, c.user_id))
    ties = [c for c in pool if c.open_load == best.open_load]
    how = "least loaded" + (f", round-robin among {len(ties)}" if len(ties) > 1 else "")
    return RoutingDecision(best.user_id, f"{how} ({best.open_load} open), {note}")
