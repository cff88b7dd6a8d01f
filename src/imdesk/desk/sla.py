"""SLA policies and due-time math (pure: no database, no web).

    >>> policy = load_policies()["default"]
    >>> cal = BusinessCalendar.china()
    >>> due_at(policy.target("P2", "first_response"), cal, datetime(2026, 9, 30, 9, 30, tzinfo=UTC))
    datetime.datetime(2026, 10, 8, 4, 30, tzinfo=datetime.timezone.utc)

A :class:`SlaTarget` is a number of minutes and whether they run around the clock or on the
calendar's business hours. The clock **pauses** while a ticket waits for the customer: pauses are
``(start, end)`` pairs (``end`` None while still paused) and push the due time back by the
business minutes they cover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from imdesk.core.errors import BadInput
from imdesk.desk.calendars import BusinessCalendar

PRIORITIES = ("P0", "P1", "P2", "P3")
KINDS = ("first_response", "next_response", "resolution")
WARNING_FRACTION = 0.8

Pause = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class SlaTarget:
    minutes: int
    around_the_clock: bool = False


@dataclass(frozen=True)
class PriorityTargets:
    first_response: int
    next_response: int
    resolution: int
    around_the_clock: bool


@dataclass(frozen=True)
class SlaPolicy:
    name: str
    targets: Mapping[str, PriorityTargets]
    calendar: str = "china"
    plan: str | None = None
    title_en: str = ""
    title_zh: str = ""

    def target(self, priority: str, kind: str) -> SlaTarget:
        if priority not in self.targets:
            raise BadInput(f"unknown priority {priority!r}: expected one of {', '.join(PRIORITIES)}")
        if kind not in KINDS:
            raise BadInput(f"unknown SLA target {kind!r}: expected one of {', '.join(KINDS)}")
        t = self.targets[priority]
        return SlaTarget(minutes=getattr(t, kind), around_the_clock=t.around_the_clock)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "plan": self.plan,
            "calendar": self.calendar,
            "targets": {
                p: {
                    "first_response": t.first_response,
                    "next_response": t.next_response,
                    "resolution": t.resolution,
                    "around_the_clock": t.around_the_clock,
                }
                for p, t in self.targets.items()
            },
        }


def parse_policy(raw: Mapping[str, Any]) -> SlaPolicy:
    """One policy from its YAML/JSON form; raises BadInput with the offending field."""
    name = str(raw.get("name") or "").strip()
    if not name:
        raise BadInput("SLA policy without a name")
    targets_raw = raw.get("targets")
    if not isinstance(targets_raw, Mapping):
        raise BadInput(f"SLA policy {name!r}: targets must be a mapping of P0..P3")
    targets: dict[str, PriorityTargets] = {}
    for prio in PRIORITIES:
        t = targets_raw.get(prio)
        if not isinstance(t, Mapping):
            raise BadInput(f"SLA policy {name!r}: missing targets for {prio}")
        vals = {}
        for kind in KINDS:
            v = t.get(kind)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise BadInput(f"SLA policy {name!r}: {prio}.{kind} must be a positive number of minutes")
            vals[kind] = v
        if vals["first_response"] > vals["resolution"]:
            raise BadInput(f"SLA policy {name!r}: {prio} first response exceeds resolution")
        targets[prio] = PriorityTargets(around_the_clock=bool(t.get("around_the_clock", False)), **vals)
    extra = set(targets_raw) - set(PRIORITIES)
    if extra:
        raise BadInput(f"SLA policy {name!r}: unknown priorities {sorted(extra)}")
    title = raw.get("title") or {}
    return SlaPolicy(
        name=name,
        targets=targets,
        calendar=str(raw.get("calendar") or "china"),
        plan=raw.get("plan"),
        title_en=str(title.get("en", name)),
        title_zh=str(title.get("zh", name)),
    )


def load_policies(profile: str | None = None) -> dict[str, SlaPolicy]:
    """The seed policies of a profile (``sla_policies.yaml``), by name."""
    from imdesk.profiles import load_profile

    data = load_profile(profile).data("sla_policies")
    return {p.name: p for p in (parse_policy(raw) for raw in data.get("policies", []))}


def load_calendar_configs(profile: str | None = None) -> dict[str, dict[str, Any]]:
    from imdesk.profiles import load_profile

    return dict(load_profile(profile).data("sla_policies").get("calendars", {}))


def build_calendar(name: str, configs: Mapping[str, Mapping], overrides: Mapping[date, bool] | None = None) -> BusinessCalendar:
    if name in ("24x7", "always"):
        return BusinessCalendar.always()
    if name not in configs:
        raise BadInput(f"unknown calendar {name!r}")
    return BusinessCalendar.from_config(name, configs[name], overrides)


_ALWAYS = BusinessCalendar.always()


def _cal_for(target: SlaTarget, calendar: BusinessCalendar) -> BusinessCalendar:
    return _ALWAYS if target.around_the_clock else calendar


def due_at(
    policy: SlaTarget, calendar: BusinessCalendar, start: datetime, pauses: Sequence[Pause] = ()
) -> datetime | None:
    """When ``policy`` (one target) falls due for a clock started at ``start``.

    Pauses push the due time back by the (business) minutes they cover, as long as they began
    before the due time they would extend. Returns None while the clock is paused (an open pause
    that began before the due time).
    """
    cal = _cal_for(policy, calendar)
    if start.tzinfo is None:
        raise BadInput("naive start time: an offset is required")
    due = cal.add_business_minutes(start, policy.minutes)
    for p_start, p_end in sorted(pauses, key=lambda p: p[0]):
        if p_start >= due:
            break
        if p_end is None:
            return None
        lo = max(p_start, start)
        covered = cal.business_minutes_between(lo, p_end)
        if covered > 0:
            due = cal.add_business_minutes(due, covered)
    return due.astimezone(UTC)


def elapsed_minutes(
    policy: SlaTarget, calendar: BusinessCalendar, start: datetime, now: datetime, pauses: Sequence[Pause] = ()
) -> float:
    """Minutes the clock has run between ``start`` and ``now``, not counting pauses."""
    cal = _cal_for(policy, calendar)
    total = cal.business_minutes_between(start, now)
    for p_start, p_end in pauses:
        lo = max(p_start, start)
        hi = min(p_end or now, now)
        total -= cal.business_minutes_between(lo, hi)
    return max(total, 0.0)


def sla_state(
    policy: SlaTarget, calendar: BusinessCalendar, start: datetime, now: datetime, pauses: Sequence[Pause] = ()
) -> str:
    """``ok``, ``warning`` (>= 80 % used), ``breached`` or ``paused``."""
    if pauses and pauses[-1][1] is None:
        return "paused"
    used = elapsed_minutes(policy, calendar, start, now, pauses) / policy.minutes
    if used >= 1:
        return "breached"
    if used >= WARNING_FRACTION:
        return "warning"
    return "ok"


def preview(
    policy: SlaPolicy, calendar: BusinessCalendar, priority: str, start: datetime
) -> dict[str, str]:
    """``{"first_response_due", "resolution_due"}`` as ISO 8601 in the calendar's zone."""
    out = {}
    for kind in ("first_response", "resolution"):
        due = due_at(policy.target(priority, kind), calendar, start)
        assert due is not None
        out[f"{kind}_due"] = due.astimezone(calendar.tz).isoformat()
    return out
