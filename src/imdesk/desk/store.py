"""Desk configuration in the database: seeding from the profile and cached loading.

The profile's YAML files (support groups, classification rules, priority rules, SLA policies) are
*seed* data: :func:`seed` copies whatever is missing into the database, where admins edit it.
:func:`desk_config` returns the compiled configuration, cached per ``updated_at`` of the rows so
that triage on ticket creation does not recompile rules (jieba) every time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imdesk.core.errors import BadInput
from imdesk.desk import sla
from imdesk.desk.calendars import BusinessCalendar
from imdesk.desk.classify import NaiveBayes, RuleSet
from imdesk.desk.models import (
    CalendarOverride,
    ClassifierModel,
    RuleSetRow,
    SlaPolicyRow,
    SupportGroup,
)
from imdesk.desk.priority import PriorityRules
from imdesk.profiles import load_profile


def seed(session: Session, profile: str | None = None) -> dict[str, int]:
    """Copy the profile's seed data into the database where it is missing (idempotent)."""
    p = load_profile(profile)
    created = {"groups": 0, "rule_sets": 0, "policies": 0}
    existing = set(session.scalars(select(SupportGroup.key)))
    for g in p.data("support_groups").get("groups", []):
        if g["key"] in existing:
            continue
        session.add(SupportGroup(
            key=g["key"], name_en=g["name"]["en"], name_zh=g["name"]["zh"],
            description_en=g.get("description", {}).get("en", ""),
            description_zh=g.get("description", {}).get("zh", ""),
        ))
        created["groups"] += 1
    have_rules = set(session.scalars(select(RuleSetRow.name)))
    for name in ("classification", "priority_rules"):
        if name not in have_rules:
            session.add(RuleSetRow(name=name, data=_plain(p.data(name))))
            created["rule_sets"] += 1
    have_pol = set(session.scalars(select(SlaPolicyRow.name)))
    raw = p.data("sla_policies")
    for pol in raw.get("policies", []):
        if pol["name"] not in have_pol:
            sla.parse_policy(pol)  # refuse broken seed data loudly
            session.add(SlaPolicyRow(name=pol["name"], plan=pol.get("plan"), calendar=pol.get("calendar", "china"),
                                     data=_plain(pol)))
            created["policies"] += 1
    session.flush()
    return created


def _plain(obj: Any) -> Any:
    """ruamel's containers → plain dict/list (JSON columns)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


@dataclass
class DeskConfig:
    ruleset: RuleSet
    priority_rules: PriorityRules
    policies: dict[str, sla.SlaPolicy]
    calendar_configs: dict[str, dict[str, Any]]
    overrides: dict[str, dict[date, bool]]
    model: NaiveBayes | None
    groups: dict[str, int]  # key -> id
    model_weight: float = 0.0
    group_keys: dict[int, str] = field(default_factory=dict)
    _calendars: dict[str, BusinessCalendar] = field(default_factory=dict)

    def calendar(self, name: str) -> BusinessCalendar:
        cal = self._calendars.get(name)
        if cal is None:
            cal = sla.build_calendar(name, self.calendar_configs, self.overrides.get(name, {}))
            self._calendars[name] = cal
        return cal

    def agent_calendar(self, name: str | None, start: str | None = None, end: str | None = None) -> BusinessCalendar:
        """An agent's working calendar: ``name`` (a configured calendar or ``24x7``; unknown names
        fall back to ``china``) with the agent's own hours when given."""
        name = name if name and (name in self.calendar_configs or name in ("24x7", "always")) else "china"
        if not (start and end) or name in ("24x7", "always"):
            return self.calendar(name)
        key = f"{name}@{start}-{end}"
        cal = self._calendars.get(key)
        if cal is None:
            cfg = {**self.calendar_configs.get(name, {}), "start": start, "end": end}
            cal = BusinessCalendar.from_config(name, cfg, self.overrides.get(name, {}))
            self._calendars[key] = cal
        return cal

    def policy_for(self, plan: str | None, name: str | None = None) -> sla.SlaPolicy:
        if name and name in self.policies:
            return self.policies[name]
        for p in self.policies.values():
            if plan and p.plan == plan:
                return p
        if "default" in self.policies:
            return self.policies["default"]
        if not self.policies:
            raise BadInput("no SLA policy configured")
        return next(iter(self.policies.values()))


_cache_lock = threading.Lock()
_cache: dict[tuple, DeskConfig] = {}


def _fingerprint(session: Session) -> tuple:
    def stamp(model, col) -> tuple:
        return tuple(session.execute(select(func.count(), func.max(col)).select_from(model)).one())

    return (
        session.get_bind().engine.url.render_as_string(hide_password=True),
        stamp(RuleSetRow, RuleSetRow.updated_at),
        stamp(SlaPolicyRow, SlaPolicyRow.updated_at),
        stamp(CalendarOverride, CalendarOverride.id),
        session.scalar(select(func.count()).select_from(CalendarOverride).where(CalendarOverride.is_workday.is_(True))),
        stamp(ClassifierModel, ClassifierModel.id),
        stamp(SupportGroup, SupportGroup.updated_at),
    )


def desk_config(session: Session) -> DeskConfig:
    """The compiled configuration (seeding first if the database has none)."""
    if session.scalar(select(func.count()).select_from(SupportGroup)) == 0:
        seed(session)
    key = _fingerprint(session)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    cfg = _build(session)
    with _cache_lock:
        if len(_cache) > 16:
            _cache.clear()
        _cache[key] = cfg
    return cfg


def _build(session: Session) -> DeskConfig:
    p = load_profile()
    rules = {r.name: r.data for r in session.scalars(select(RuleSetRow))}
    catalogue = p.data("error_codes") if p.has("error_codes") else {}
    ruleset = RuleSet.from_config(rules.get("classification") or p.data("classification"), catalogue)
    prio = PriorityRules.from_config(rules.get("priority_rules") or p.data("priority_rules"))
    policies = {row.name: sla.parse_policy(row.data | {"name": row.name, "plan": row.plan, "calendar": row.calendar})
                for row in session.scalars(select(SlaPolicyRow))}
    if not policies:
        policies = sla.load_policies()
    overrides: dict[str, dict[date, bool]] = {}
    for o in session.scalars(select(CalendarOverride)):
        overrides.setdefault(o.calendar, {})[o.day] = o.is_workday
    model_row = session.scalars(select(ClassifierModel).order_by(ClassifierModel.id.desc()).limit(1)).first()
    model = NaiveBayes.from_dict(model_row.data) if model_row else None
    weight = model_weight_for(model_row.accuracy) if model_row else 0.0
    groups = {g.key: g.id for g in session.scalars(select(SupportGroup).where(SupportGroup.active.is_(True)))}
    return DeskConfig(
        ruleset=ruleset, priority_rules=prio, policies=policies,
        calendar_configs=sla.load_calendar_configs(), overrides=overrides, model=model,
        groups=groups, group_keys={v: k for k, v in groups.items()}, model_weight=weight,
    )


def model_weight_for(accuracy: float | None) -> float:
    """How much the learned model counts next to the rules: nothing below 50 % measured accuracy,
    up to half at 100 % (an unmeasured model counts a quarter)."""
    if accuracy is None:
        return 0.25
    return max(0.0, min(0.5, accuracy - 0.5))


def load_sla_setup_from_settings(policies: dict, configs: dict):
    """For the CLI: policies and overrides from the configured database, when it is set up."""
    from sqlalchemy import inspect

    from imdesk.core.db import make_engine
    from imdesk.core.settings import load_settings

    settings = load_settings()
    if settings.is_sqlite:
        from pathlib import Path

        path = settings.database_url.split(":///", 1)[-1]
        if not path or path == ":memory:" or not Path(path).is_file():
            return policies, configs, {}  # no database here: never create one just to preview
    engine = make_engine(settings.database_url)
    try:
        if not inspect(engine).has_table("desk_sla_policies"):
            return policies, configs, {}
        with Session(engine) as session:
            rows = list(session.scalars(select(SlaPolicyRow)))
            if rows:
                policies = {r.name: sla.parse_policy(r.data | {"name": r.name, "plan": r.plan, "calendar": r.calendar})
                            for r in rows}
            overrides: dict[date, bool] = {}
            for o in session.scalars(select(CalendarOverride)):
                overrides[o.day] = o.is_workday
        return policies, configs, overrides
    finally:
        engine.dispose()


def set_calendar_override(session: Session, *, day: date, is_workday: bool, note: str = "",
                          calendar: str = "china") -> CalendarOverride:
    row = session.scalars(select(CalendarOverride).where(CalendarOverride.calendar == calendar,
                                                         CalendarOverride.day == day)).first()
    if row is None:
        row = CalendarOverride(calendar=calendar, day=day, is_workday=is_workday, note=note)
        session.add(row)
    else:
        row.is_workday, row.note = is_workday, note
    session.flush()
    return row

