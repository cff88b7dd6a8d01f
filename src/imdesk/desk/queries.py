"""The desk's read side, shared by API, UI and CLI. Customer-visible reads go through
``imdesk.accounts.scoping`` (customers see their organisation only; another organisation's ticket
is *not found*)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, union_all
from sqlalchemy.orm import Session

from imdesk.accounts import queries as account_queries
from imdesk.accounts.scoping import ensure_visible, scope_query
from imdesk.accounts.services import Actor
from imdesk.core.errors import BadInput
from imdesk.desk.errors import TicketNotFound
from imdesk.desk.lifecycle import OPEN_STATUSES, Status, allowed_actions
from imdesk.desk.models import (
    AgentState,
    Attachment,
    CalendarOverride,
    CannedResponse,
    GroupMember,
    Rating,
    RuleSetRow,
    SlaPolicyRow,
    SupportGroup,
    Ticket,
    TicketEvent,
    TicketLink,
)
from imdesk.desk.store import desk_config

QUEUES = ("mine", "group", "unassigned", "breaching", "open", "all")
_OPEN = [s.value for s in OPEN_STATUSES]
BREACHING_WINDOW = timedelta(hours=2)


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def group_names(session: Session) -> dict[int, dict[str, str]]:
    return {g.id: {"key": g.key, "en": g.name_en, "zh": g.name_zh}
            for g in session.scalars(select(SupportGroup))}


def ticket_dict(ticket: Ticket, groups: dict[int, dict[str, str]], *, staff: bool = True) -> dict[str, Any]:
    g = groups.get(ticket.group_id or -1)
    out: dict[str, Any] = {
        "id": ticket.id,
        "number": ticket.number,
        "title": ticket.title,
        "description": ticket.description,
        "status": ticket.status,
        "priority": ticket.priority,
        "suggested_priority": ticket.suggested_priority,
        "channel": ticket.channel,
        "group": g["key"] if g else None,
        "group_name": {"en": g["en"], "zh": g["zh"]} if g else None,
        "org_id": ticket.org_id,
        "requester_id": ticket.requester_id,
        "assignee_id": ticket.assignee_id,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "resolved_at": _iso(ticket.resolved_at),
        "closed_at": _iso(ticket.closed_at),
        "incident_id": ticket.incident_id,
        "is_incident": ticket.is_incident,
        "merged_into_id": ticket.merged_into_id,
        "sla": {
            "policy": ticket.policy_name,
            "first_response_due": _iso(ticket.first_response_due),
            "resolution_due": _iso(ticket.resolution_due),
            "next_response_due": _iso(ticket.next_response_due),
            "first_responded_at": _iso(ticket.first_responded_at),
            "paused": ticket.paused_since is not None,
        },
    }
    if staff:
        out["classification"] = ticket.classification
        out["sla"]["flags"] = ticket.sla_flags
    return out


def get_ticket(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketNotFound(f"ticket {ticket_id} not found")
    ensure_visible(actor, ticket.org_id, what="ticket")
    return ticket


def ticket_view(session: Session, actor: Actor, ticket_id: int) -> dict[str, Any]:
    ticket = get_ticket(session, actor, ticket_id)
    return ticket_dict(ticket, group_names(session), staff=actor.is_staff)


@dataclass
class TicketFilter:
    queue: str = "all"
    status: str | None = None
    priority: str | None = None
    group: str | None = None
    q: str | None = None
    org_id: int | None = None
    page: int = 1
    per_page: int = 25

    def validate(self) -> TicketFilter:
        if self.queue not in QUEUES:
            raise BadInput(f"unknown queue {self.queue!r}: expected one of {', '.join(QUEUES)}", field="queue")
        if self.status and self.status not in {s.value for s in Status} | {"open"}:
            raise BadInput(f"unknown status {self.status!r}", field="status")
        if self.priority and self.priority not in ("P0", "P1", "P2", "P3"):
            raise BadInput(f"unknown priority {self.priority!r}", field="priority")
        if not (1 <= self.per_page <= 200):
            raise BadInput("per_page must be 1..200", field="per_page")
        if self.page < 1 or self.page > 100_000:
            raise BadInput("page must be 1..100000", field="page")
        if self.q is not None and len(self.q) > 200:
            raise BadInput("search text too long (200 characters at most)", field="q")
        return self


def list_tickets(session: Session, actor: Actor, f: TicketFilter, *, now: datetime) -> dict[str, Any]:
    """One page of tickets. Two steps: the ids of the page from the (covering) queue indexes, then
    the rows of those ids only, so a queue costs the same with 1,000 or 1,000,000 tickets."""
    f.validate()
    stmt = scope_query(select(Ticket.id), actor, Ticket.org_id)
    open_only = and_(Ticket.status.in_(_OPEN))
    if actor.is_staff:
        if f.queue == "mine":
            stmt = stmt.where(Ticket.assignee_id == actor.user_id, open_only)
        elif f.queue == "group":
            from imdesk.desk.models import GroupMember

            gids = list(session.scalars(select(GroupMember.group_id).where(GroupMember.user_id == actor.user_id)))
            stmt = stmt.where(Ticket.group_id.in_(gids or [-1]), open_only)
        elif f.queue == "unassigned":
            stmt = stmt.where(Ticket.assignee_id.is_(None), open_only)
        elif f.queue == "breaching":
            stmt = stmt.where(Ticket.next_due_at <= now + BREACHING_WINDOW)
        elif f.queue == "open":
            stmt = stmt.where(open_only)
    if f.status == "open":
        stmt = stmt.where(open_only)
    elif f.status:
        stmt = stmt.where(Ticket.status == f.status)
    if f.priority:
        stmt = stmt.where(Ticket.priority == f.priority)
    if f.group:
        gid = session.scalar(select(SupportGroup.id).where(SupportGroup.key == f.group))
        stmt = stmt.where(Ticket.group_id == (gid or -1))
    if f.org_id is not None:
        stmt = stmt.where(Ticket.org_id == f.org_id)
    if f.q:
        q = f.q.strip()
        if q.upper().startswith("T") and q[1:].isdigit():
            stmt = stmt.where(Ticket.number == q.upper())
        else:
            like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(Ticket.title.like(like, escape="\\"))
    if f.queue == "breaching" and actor.is_staff:
        order = [Ticket.next_due_at, Ticket.id]
    elif f.queue in ("mine", "group", "unassigned", "open") and actor.is_staff:
        order = [Ticket.priority, Ticket.resolution_due, Ticket.id]
    else:
        order = [Ticket.id.desc()]
    partitions = _queue_partitions(session, actor, f)
    if partitions is not None:
        ids = _merged_ids(session, stmt, partitions, f)
    else:
        ids = list(session.scalars(stmt.order_by(*order).offset((f.page - 1) * f.per_page).limit(f.per_page + 1)))
    has_more = len(ids) > f.per_page
    ids = ids[: f.per_page]
    rows = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))} if ids else {}
    groups = group_names(session)
    return {"items": [ticket_dict(rows[i], groups, staff=actor.is_staff) for i in ids if i in rows],
            "page": f.page, "per_page": f.per_page, "has_more": has_more}


def _queue_partitions(session: Session, actor: Actor, f: TicketFilter) -> list[Any] | None:
    """For the agent queues ordered by (priority, resolution_due): one equality condition per
    (owner, status) pair, each an ordered range of a queue index. None when the generic query fits."""
    if not actor.is_staff or f.queue not in ("mine", "group", "unassigned") or f.q:
        return None
    statuses = _OPEN if f.status in (None, "open") else [f.status]
    if f.queue == "mine":
        owners = [Ticket.assignee_id == actor.user_id]
    elif f.queue == "unassigned":
        owners = [Ticket.assignee_id.is_(None)]
    else:
        from imdesk.desk.models import GroupMember

        gids = list(session.scalars(select(GroupMember.group_id).where(GroupMember.user_id == actor.user_id)))
        owners = [Ticket.group_id == g for g in gids] or [Ticket.group_id == -1]
    return [and_(o, Ticket.status == st) for o in owners for st in statuses]


def _merged_ids(session: Session, base, partitions: list[Any], f: TicketFilter) -> list[int]:
    """Top-k of each partition (an index range read in order), merged: the cost depends on the page
    size, not on how many open tickets a group has. One round trip (UNION ALL)."""
    k = (f.page - 1) * f.per_page + f.per_page + 1
    parts = [base.add_columns(Ticket.priority, Ticket.resolution_due).where(cond)
             .order_by(Ticket.priority, Ticket.resolution_due, Ticket.id).limit(k).subquery().select()
             for cond in partitions]
    u = union_all(*parts).subquery()
    rows = session.execute(select(u.c.id).order_by(u.c.priority, u.c.resolution_due, u.c.id)
                           .offset((f.page - 1) * f.per_page).limit(f.per_page + 1)).all()
    return [r[0] for r in rows]


def timeline(session: Session, actor: Actor, ticket: Ticket) -> list[dict[str, Any]]:
    ensure_visible(actor, ticket.org_id, what="ticket")
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.at, TicketEvent.id)
    if not actor.is_staff:
        stmt = stmt.where(TicketEvent.public.is_(True))
    events = session.scalars(stmt).all()
    names = _user_names(session, {e.actor_id for e in events if e.actor_id})
    out = []
    for e in events:
        data = dict(e.data or {})
        if not actor.is_staff:
            data.pop("signals", None)
            data.pop("computed", None)
        out.append({"id": e.id, "at": _iso(e.at), "at_dt": e.at, "kind": e.kind, "public": e.public, "body": e.body,
                    "data": data, "actor_id": e.actor_id, "actor": names.get(e.actor_id or -1, "system")})
    return out


def _user_names(session: Session, ids: set[int]) -> dict[int, str]:
    out = {}
    for uid in ids:
        try:
            u = account_queries.get_user(session, _SYSTEM(), uid)
            out[uid] = u.name or u.email
        except Exception:
            out[uid] = f"user {uid}"
    return out


def _SYSTEM() -> Actor:
    from imdesk.accounts.services import SYSTEM

    return SYSTEM


def attachments(session: Session, actor: Actor, ticket: Ticket) -> list[Attachment]:
    ensure_visible(actor, ticket.org_id, what="ticket")
    stmt = select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.id)
    if not actor.is_staff:
        stmt = stmt.where(Attachment.public.is_(True))
    return list(session.scalars(stmt))


def links(session: Session, actor: Actor, ticket: Ticket) -> list[dict[str, Any]]:
    ids = list(session.scalars(select(TicketLink.other_id).where(TicketLink.ticket_id == ticket.id)))
    if ticket.incident_id:
        ids.append(ticket.incident_id)
    children = list(session.scalars(select(Ticket.id).where(Ticket.incident_id == ticket.id)))
    out = []
    for tid in dict.fromkeys(ids + children):
        t = session.get(Ticket, tid)
        if t is not None and (actor.is_staff or t.org_id == actor.org_id):
            kind = "incident" if tid == ticket.incident_id else ("child" if tid in children else "related")
            out.append({"id": t.id, "number": t.number, "title": t.title, "status": t.status, "kind": kind})
    return out


def rating_of(session: Session, ticket_id: int) -> Rating | None:
    return session.scalars(select(Rating).where(Rating.ticket_id == ticket_id)).first()


def canned_responses(session: Session, actor: Actor) -> list[CannedResponse]:
    if not actor.is_staff:
        return []
    return list(session.scalars(select(CannedResponse).order_by(CannedResponse.title)))


def csat(session: Session, *, since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
    """Average score and count per agent, per group and per month."""
    stmt = select(Rating)
    if since:
        stmt = stmt.where(Rating.at >= since)
    if until:
        stmt = stmt.where(Rating.at < until)
    rows = session.scalars(stmt).all()
    groups = group_names(session)

    def agg(key_fn) -> dict[str, dict[str, float]]:
        acc: dict[str, list[int]] = {}
        for r in rows:
            acc.setdefault(key_fn(r), []).append(r.score)
        return {k: {"count": len(v), "average": round(sum(v) / len(v), 2),
                    "satisfied_pct": round(100 * sum(1 for x in v if x >= 4) / len(v), 1)} for k, v in acc.items()}

    names = _user_names(session, {r.agent_id for r in rows if r.agent_id})
    return {
        "overall": agg(lambda r: "all").get("all", {"count": 0, "average": None, "satisfied_pct": None}),
        "by_agent": agg(lambda r: names.get(r.agent_id or -1, "unassigned")),
        "by_group": agg(lambda r: groups.get(r.group_id or -1, {}).get("key", "none")),
        "by_month": agg(lambda r: r.at.strftime("%Y-%m")),
    }


def open_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Ticket.status, func.count()).where(Ticket.status.in_(_OPEN))
                                .group_by(Ticket.status)).all())


def actions_for(actor: Actor, ticket: Ticket) -> list[str]:
    allowed = allowed_actions(ticket.status)
    if actor.is_staff:
        return [a for a in allowed if a in ("start", "wait_customer", "resolve", "close", "reopen")]
    return [a for a in allowed if a in ("accept_solution", "reopen")]


@dataclass(frozen=True)
class AttachmentFile:
    """An attachment as background jobs see it (no actor: never shown to users as such)."""

    id: int
    ticket_id: int
    filename: str
    content_type: str
    size: int
    storage_path: str


def attachment_files_after(session: Session, after_id: int, *, limit: int = 50) -> list[AttachmentFile]:
    """Attachments with an id above ``after_id``, oldest first (for jobs that process new files)."""
    stmt = select(Attachment).where(Attachment.id > after_id).order_by(Attachment.id).limit(limit)
    return [AttachmentFile(a.id, a.ticket_id, a.filename, a.content_type, a.size, a.storage_path)
            for a in session.scalars(stmt)]


def ticket_id_from_ref(session: Session, actor: Actor, ref: Any) -> int:
    """A ticket id from what an agent types: ``T000042``, ``42`` or ``#42``; scoped like any read."""
    text = str(ref or "").strip().lstrip("#").upper()
    if not text:
        raise BadInput("give a ticket number (e.g. T000042)")
    if text.isdigit():
        ticket_id = int(text)
    else:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.number == text[:32])) or 0
    if ticket_id <= 0 or ticket_id > 2**31 - 1:
        raise TicketNotFound(f"no ticket {str(ref)[:40]}")
    return get_ticket(session, actor, ticket_id).id


def admin_overview(session: Session, *, today: date) -> dict[str, Any]:
    """What the desk administration page shows: groups and members, rule sets and SLA policies
    (the data behind the structured editors, and as editable JSON), calendar overrides, the staff
    to choose from and the calendar warning."""
    cfg = desk_config(session)
    groups = list(session.scalars(select(SupportGroup).order_by(SupportGroup.id)))
    members: dict[int, set[int]] = {}
    for gm in session.scalars(select(GroupMember)):
        members.setdefault(gm.group_id, set()).add(gm.user_id)
    rule_data = {r.name: r.data for r in session.scalars(select(RuleSetRow))}
    rules = {name: json.dumps(data, ensure_ascii=False, indent=1) for name, data in rule_data.items()}
    policy_rows = list(session.scalars(select(SlaPolicyRow).order_by(SlaPolicyRow.name)))
    policies = [(p.name, json.dumps(p.data, ensure_ascii=False, indent=1)) for p in policy_rows]
    policy_data = {p.name: p.data | {"name": p.name, "plan": p.plan, "calendar": p.calendar} for p in policy_rows}
    overrides = list(session.scalars(select(CalendarOverride).order_by(CalendarOverride.day)))
    staff = account_queries.staff_users(session, roles=("agent", "senior_engineer", "admin", "account_manager"))
    return {"groups": groups, "members": members, "rules": rules, "policies": policies, "overrides": overrides,
            "staff": staff, "policy_data": policy_data, "rule_data": rule_data,
            "calendar_names": sorted(cfg.calendar_configs) + ["24x7"], "group_keys": sorted(cfg.groups),
            "calendar_warning": cfg.calendar("china").coverage_warning(range(today.year, today.year + 2))}


def agents_overview(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    """Agents and senior engineers with their groups, working calendar and hours, absence, open
    tickets and whether routing would consider them available right now."""
    cfg = desk_config(session)
    staff = account_queries.staff_users(session)
    ids = [u.id for u in staff]
    states = {a.user_id: a for a in session.scalars(select(AgentState).where(AgentState.user_id.in_(ids)))}
    keys = dict(session.execute(select(SupportGroup.id, SupportGroup.key)).all())
    groups: dict[int, list[str]] = {}
    for gm in session.scalars(select(GroupMember).where(GroupMember.user_id.in_(ids))):
        groups.setdefault(gm.user_id, []).append(keys.get(gm.group_id, ""))
    load = dict(session.execute(select(Ticket.assignee_id, func.count()).where(
        Ticket.assignee_id.in_(ids), Ticket.status.in_(_OPEN)).group_by(Ticket.assignee_id)).all())
    out = []
    for u in staff:
        st = states.get(u.id)
        cal_name = st.calendar if st else "china"
        cal = cfg.agent_calendar(cal_name, st.work_start if st else None, st.work_end if st else None)
        absent = bool(st and st.absent_from and st.absent_until and st.absent_from <= now < st.absent_until)
        out.append({
            "id": u.id, "name": u.name or u.email, "email": u.email, "role": u.role,
            "groups": sorted(groups.get(u.id, [])), "open": int(load.get(u.id, 0)),
            "calendar": cal_name, "work_start": (st.work_start if st else None) or "",
            "work_end": (st.work_end if st else None) or "",
            "hours": "24x7" if cal.around_the_clock else f"{cal.start:%H:%M}-{cal.end:%H:%M}",
            "absent_from": st.absent_from if st else None, "absent_until": st.absent_until if st else None,
            "absent_now": absent, "in_hours": cal.is_business_time(now),
        })
    return out
