"""The desk's write path: ``check_*`` (look up, authorise, validate) then ``do_*`` (mutate, timeline
event, audit row, outbox notification). Routes, views, CLI and jobs call these; nothing else
writes desk rows.

Every step lands on the ticket's timeline (``desk_ticket_events``); ``public`` events are the
customer-facing ones.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from imdesk.accounts import queries as account_queries
from imdesk.accounts.scoping import ensure_visible
from imdesk.accounts.services import SYSTEM, Actor, record_audit
from imdesk.core.clock import Clock, SystemClock
from imdesk.core.errors import BadInput
from imdesk.desk import lifecycle, notify, sla
from imdesk.desk.classify import NaiveBayes, classify, cross_validate
from imdesk.desk.errors import (
    AlreadyRated,
    AttachmentRefused,
    AttachmentTooLarge,
    InvalidRating,
    InvalidTicket,
    InvalidTransition,
    NotAllowed,
    TicketNotFound,
    UploadConflict,
)
from imdesk.desk.lifecycle import OPEN_STATUSES, Status
from imdesk.desk.models import (
    AgentState,
    Attachment,
    CannedResponse,
    ClassifierModel,
    GroupMember,
    Rating,
    ResponseCycle,
    SlaPause,
    SupportGroup,
    Ticket,
    TicketEvent,
    TicketLink,
    Upload,
)
from imdesk.desk.priority import decide, parse_priority
from imdesk.desk.routing import Candidate, choose_agent
from imdesk.desk.store import DeskConfig, desk_config

log = logging.getLogger("imdesk.desk")

CHANNELS = ("web", "api", "email", "hotline", "im_group", "alert")
TITLE_MAX = 300
TEXT_MAX = 100_000
COMMENT_MAX = 5_000
AUTO_CLOSE_AFTER = timedelta(days=7)
ATTACHMENT_MAX = 20 * 1024 * 1024

SLA_FR_WARNED = 1
SLA_FR_BREACHED = 2
SLA_RES_WARNED = 4
SLA_RES_BREACHED = 8
SLA_NR_BREACHED = 16

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_OPEN = [s.value for s in OPEN_STATUSES]


def _clock(clock: Clock | None) -> Clock:
    return clock or SystemClock()


def clean_text(value: Any, field: str, *, max_len: int, required: bool = True, single_line: bool = False) -> str:
    """Strip, refuse control characters, empty (when required) and over-long values (422)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidTicket(f"{field} must be text", field=field)
    if len(value) > max_len * 4:  # refuse huge input before any further work
        raise InvalidTicket(f"{field} is too long (at most {max_len} characters)", field=field)
    text = _CONTROL.sub("", value).strip()
    if single_line:
        text = " ".join(text.split())
    if required and not text:
        raise InvalidTicket(f"{field} must not be empty", field=field)
    if len(text) > max_len:
        raise InvalidTicket(f"{field} is too long ({len(text)} characters, at most {max_len})", field=field)
    return text


# --------------------------------------------------------------------------------------------
# timeline

def add_event(session: Session, ticket: Ticket, kind: str, actor: Actor | None, *, at: datetime,
              body: str = "", public: bool = True, data: dict[str, Any] | None = None) -> TicketEvent:
    ev = TicketEvent(ticket_id=ticket.id, at=at, actor_id=actor.user_id if actor else None, kind=kind,
                     public=public, body=body, data=data or {})
    session.add(ev)
    return ev


def _load(session: Session, actor: Actor, ticket_id: int, *, for_update: bool = True) -> Ticket:
    ticket = session.get(Ticket, ticket_id, with_for_update=for_update and session.get_bind().dialect.name == "postgresql")
    if ticket is None:
        raise TicketNotFound(f"ticket {ticket_id} not found")
    ensure_visible(actor, ticket.org_id, what="ticket")
    return ticket


def _require_staff(actor: Actor, what: str) -> None:
    if not actor.is_staff:
        raise NotAllowed(f"only support staff can {what}")


def _move(session: Session, ticket: Ticket, action: str, actor: Actor | None, *, at: datetime,
          reason: str = "", public: bool | None = None, cfg: DeskConfig | None = None) -> None:
    """Apply a lifecycle transition, with the SLA pause bookkeeping and a timeline event."""
    before = ticket.status
    after = lifecycle.transition(before, action)
    if after == before:
        return
    ticket.status = after.value
    t = lifecycle.TRANSITIONS[action]
    add_event(session, ticket, "status", actor, at=at, body=reason,
              public=t.customer_visible if public is None else public,
              data={"from": before, "to": after.value, "action": action})
    if after == Status.WAITING_CUSTOMER:
        ticket.paused_since = at
        session.add(SlaPause(ticket_id=ticket.id, started_at=at, reason=reason))
        add_event(session, ticket, "sla_paused", actor, at=at, body=reason or "waiting for the customer", public=True)
    elif before == Status.WAITING_CUSTOMER.value:
        _close_pause(session, ticket, at)
        add_event(session, ticket, "sla_resumed", actor, at=at, public=True)
        cfg = cfg or desk_config(session)
        recompute_sla(session, ticket, cfg)
        _retime_next_response(session, ticket, cfg)
    if after == Status.RESOLVED:
        ticket.resolved_at = at
        _end_next_response(session, ticket, at, responded=False)
    elif after == Status.CLOSED:
        ticket.closed_at = at
    elif after == Status.SOLUTION_PROPOSED:
        ticket.solution_proposed_at = at
    if before in (Status.RESOLVED.value, Status.SOLUTION_PROPOSED.value) and action == "reopen":
        ticket.reopen_count += 1
        ticket.resolved_at = None
        ticket.solution_proposed_at = None


def _close_pause(session: Session, ticket: Ticket, at: datetime) -> None:
    session.execute(update(SlaPause).where(SlaPause.ticket_id == ticket.id, SlaPause.ended_at.is_(None))
                    .values(ended_at=at))
    ticket.paused_since = None


# --------------------------------------------------------------------------------------------
# SLA

def _pauses(session: Session, ticket: Ticket) -> list[tuple[datetime, datetime | None]]:
    if ticket.id is None:
        return []
    return [(p.started_at, p.ended_at) for p in session.scalars(
        select(SlaPause).where(SlaPause.ticket_id == ticket.id).order_by(SlaPause.started_at))]


def recompute_sla(session: Session, ticket: Ticket, cfg: DeskConfig, *, plan: str | None = None,
                  pauses: Sequence[tuple[datetime, datetime | None]] | None = None) -> None:
    """Due and 80 %-warning instants of first response and resolution, from the ticket's policy,
    priority, calendar, creation time and pauses."""
    policy = cfg.policy_for(plan, ticket.policy_name)
    ticket.policy_name = policy.name
    cal = cfg.calendar(policy.calendar)
    start = ticket.created_at
    pauses = list(pauses) if pauses is not None else _pauses(session, ticket)
    for kind, due_col, warn_col in (("first_response", "first_response_due", "first_response_warn_at"),
                                    ("resolution", "resolution_due", "resolution_warn_at")):
        target = policy.target(ticket.priority, kind)
        warn_target = sla.SlaTarget(minutes=target.minutes * sla.WARNING_FRACTION, around_the_clock=target.around_the_clock)
        setattr(ticket, due_col, sla.due_at(target, cal, start, pauses))
        setattr(ticket, warn_col, sla.due_at(warn_target, cal, start, pauses))


def _open_response_cycle(session: Session, ticket: Ticket) -> ResponseCycle | None:
    if ticket.id is None:
        return None
    return session.scalars(select(ResponseCycle).where(ResponseCycle.ticket_id == ticket.id,
                                                       ResponseCycle.ended_at.is_(None))
                           .order_by(ResponseCycle.id.desc()).limit(1)).first()


def _start_next_response(session: Session, ticket: Ticket, cfg: DeskConfig, at: datetime) -> None:
    """The customer wrote after the first response: start the next-response clock, unless one
    already runs (the oldest unanswered message counts, a second message does not restart it)."""
    cycle = _open_response_cycle(session, ticket)
    if cycle is None:
        cycle = ResponseCycle(ticket_id=ticket.id, started_at=at)
        session.add(cycle)
        ticket.sla_flags = (ticket.sla_flags or 0) & ~SLA_NR_BREACHED
    _retime_next_response(session, ticket, cfg, cycle)


def _retime_next_response(session: Session, ticket: Ticket, cfg: DeskConfig, cycle: ResponseCycle | None = None) -> None:
    """Due time of the running next-response clock from its start, the ticket's current priority
    and policy and the pauses since it started (None while paused)."""
    cycle = cycle or _open_response_cycle(session, ticket)
    if cycle is None:
        return
    policy = cfg.policy_for(None, ticket.policy_name)
    target = policy.target(ticket.priority, "next_response")
    pauses = [(a, b) for a, b in _pauses(session, ticket) if b is None or b > cycle.started_at]
    cycle.due_at = sla.due_at(target, cfg.calendar(policy.calendar), cycle.started_at, pauses)
    ticket.next_response_due = cycle.due_at


def _end_next_response(session: Session, ticket: Ticket, at: datetime, *, responded: bool) -> None:
    """Stop the next-response clock: answered by the desk (``responded``), or the ticket was
    resolved, closed or merged without an answer."""
    ticket.next_response_due = None
    cycle = _open_response_cycle(session, ticket)
    if cycle is not None:
        cycle.ended_at, cycle.responded = at, responded


# --------------------------------------------------------------------------------------------
# creation and triage

@dataclass(frozen=True)
class NewTicket:
    title: str
    description: str
    channel: str
    suggested_priority: str | None
    org_id: int
    requester_id: int | None


def check_create_ticket(session: Session, actor: Actor, *, title: Any, description: Any = "", channel: Any = "web",
                        priority: Any = None, org_id: int | None = None) -> NewTicket:
    title_s = clean_text(title, "title", max_len=TITLE_MAX, single_line=True)
    desc_s = clean_text(description, "description", max_len=TEXT_MAX, required=False)
    channel_s = str(channel or "web").strip().lower()
    if channel_s not in CHANNELS:
        raise InvalidTicket(f"unknown channel {channel!r}: expected one of {', '.join(CHANNELS)}", field="channel")
    prio = parse_priority(priority)
    if actor.is_staff:
        if org_id is None:
            raise InvalidTicket("staff must say for which organisation the ticket is (org_id)", field="org_id")
        if account_queries.org_info_unscoped(session, org_id) is None:
            raise InvalidTicket(f"no organisation with id {org_id}", field="org_id")
        target_org = org_id
    else:
        if actor.org_id is None:
            raise NotAllowed("your account belongs to no organisation")
        if org_id is not None and org_id != actor.org_id:
            raise InvalidTicket("customers open tickets for their own organisation only", field="org_id")
        target_org = actor.org_id
    return NewTicket(title_s, desc_s, channel_s, prio, target_org, actor.user_id)


def do_create_ticket(session: Session, actor: Actor, new: NewTicket, *, clock: Clock | None = None) -> Ticket:
    now = _clock(clock).now()
    cfg = desk_config(session)
    org = account_queries.org_info_unscoped(session, new.org_id)
    ticket = Ticket(org_id=new.org_id, requester_id=new.requester_id, title=new.title, description=new.description,
                    channel=new.channel, status=Status.NEW.value, priority="P2",
                    suggested_priority=new.suggested_priority, created_at=now, updated_at=now)
    session.add(ticket)
    session.flush()
    ticket.number = f"T{ticket.id:06d}"
    add_event(session, ticket, "created", actor, at=now, public=True,
              data={"channel": new.channel, "suggested_priority": new.suggested_priority})
    triage(session, ticket, cfg, now=now, org=org)
    auto_assign(session, ticket, cfg, now=now, org=org)
    if org and org.account_manager_email:
        notify.account_manager_new_ticket(session, _clock(clock), to=org.account_manager_email, number=ticket.number,
                                          title=ticket.title, org=org.name, priority=ticket.priority)
        add_event(session, ticket, "notified", SYSTEM, at=now, public=False,
                  body=f"account manager {org.account_manager_email} notified")
    record_audit(session, actor, "desk.ticket.create", "ticket", ticket.id, {"number": ticket.number},
                 org_id=ticket.org_id, clock=clock)
    return ticket


def create_ticket(session: Session, actor: Actor, *, clock: Clock | None = None, **fields: Any) -> Ticket:
    return do_create_ticket(session, actor, check_create_ticket(session, actor, **fields), clock=clock)


def triage(session: Session, ticket: Ticket, cfg: DeskConfig, *, now: datetime, org=None) -> None:
    """Classification, priority and SLA; the decisions and fired signals go on the timeline."""
    result = classify(ticket.title, ticket.description, cfg.ruleset, cfg.model if cfg.model_weight > 0 else None,
                      model_weight=cfg.model_weight)
    group_key = result.group if result.group in cfg.groups else cfg.ruleset.fallback_group
    ticket.group_id = cfg.groups.get(group_key)
    ticket.classification = result.as_dict()
    decision = decide(ticket.title, ticket.description, cfg.priority_rules, suggested=ticket.suggested_priority,
                      verified_org=bool(org and org.verified))
    ticket.priority = decision.priority
    recompute_sla(session, ticket, cfg, plan=org.plan if org else None, pauses=[])
    _move(session, ticket, "triage", SYSTEM, at=now, cfg=cfg)
    add_event(session, ticket, "classified", SYSTEM, at=now, public=False,
              body=f"group {group_key} ({result.method})", data=result.as_dict())
    add_event(session, ticket, "priority", SYSTEM, at=now, public=True, body=decision.reason,
              data=decision.as_dict())


def _candidates(session: Session, group_id: int | None, *, seniors_only: bool = False,
                cfg: DeskConfig | None = None) -> list[Candidate]:
    staff = {u.id: u for u in account_queries.staff_users(session)}
    member_ids = set()
    if group_id is not None:
        member_ids = set(session.scalars(select(GroupMember.user_id).where(GroupMember.group_id == group_id)))
    ids = [i for i in staff if i in member_ids] if member_ids & set(staff) else list(staff)
    if seniors_only:
        ids = [i for i in staff if staff[i].role == "senior_engineer"]
    if not ids:
        return []
    # load and round-robin position from the tickets themselves (no shared row to update, so
    # concurrent ticket creations never wait on each other): open tickets and the newest of them
    stats = {uid: (int(n), last) for uid, n, last in session.execute(
        select(Ticket.assignee_id, func.count(), func.max(Ticket.created_at))
        .where(Ticket.assignee_id.in_(ids), Ticket.status.in_(_OPEN)).group_by(Ticket.assignee_id)).all()}
    states = {a.user_id: a for a in session.scalars(select(AgentState).where(AgentState.user_id.in_(ids)))}
    out = []
    for uid in ids:
        st = states.get(uid)
        absences = ()
        if st and st.absent_from and st.absent_until:
            absences = ((st.absent_from, st.absent_until),)
        load, last = stats.get(uid, (0, None))
        if last is not None and last.tzinfo is None:  # SQLite aggregate: naive UTC
            last = last.replace(tzinfo=UTC)
        calendar = None
        if st is not None and cfg is not None and (st.calendar != "china" or st.work_start):
            calendar = cfg.agent_calendar(st.calendar, st.work_start, st.work_end)
        out.append(Candidate(user_id=uid, open_load=load, last_assigned_at=last,
                             senior=staff[uid].role == "senior_engineer", absences=absences, calendar=calendar))
    return out


def _assign_to(session: Session, ticket: Ticket, user_id: int, actor: Actor | None, *, at: datetime, reason: str) -> None:
    previous = ticket.assignee_id
    ticket.assignee_id = user_id
    if ticket.status in (Status.NEW.value, Status.TRIAGED.value):
        _move(session, ticket, "assign", actor, at=at)
    add_event(session, ticket, "assigned", actor, at=at, public=False, body=reason,
              data={"from": previous, "to": user_id})


def auto_assign(session: Session, ticket: Ticket, cfg: DeskConfig, *, now: datetime, org=None,
                seniors_only: bool = False) -> int | None:
    cands = _candidates(session, ticket.group_id, seniors_only=seniors_only, cfg=cfg)
    decision = choose_agent(cands, now, priority=ticket.priority, verified_org=bool(org and org.verified),
                            calendar=cfg.calendar("china") if "china" in cfg.calendar_configs else None)
    if decision.user_id is None:
        add_event(session, ticket, "unassigned", SYSTEM, at=now, public=False, body=decision.reason)
        return None
    _assign_to(session, ticket, decision.user_id, SYSTEM, at=now, reason=decision.reason)
    return decision.user_id


# --------------------------------------------------------------------------------------------
# work on a ticket

def do_add_reply(session: Session, actor: Actor, ticket_id: int, body: Any, *, internal: bool = False,
                 wait_for_customer: bool = False, clock: Clock | None = None) -> TicketEvent:
    ticket = _load(session, actor, ticket_id)
    text = clean_text(body, "body", max_len=TEXT_MAX)
    now = _clock(clock).now()
    cfg = desk_config(session)
    if ticket.status == Status.CLOSED.value:
        raise InvalidTransition("the ticket is closed; open a new ticket", status_from=ticket.status)
    if internal:
        _require_staff(actor, "write internal notes")
        ev = add_event(session, ticket, "note", actor, at=now, body=text, public=False)
    elif actor.is_staff:
        ev = add_event(session, ticket, "reply", actor, at=now, body=text, public=True)
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
        _end_next_response(session, ticket, now, responded=True)
        if ticket.status in (Status.NEW.value, Status.TRIAGED.value) and actor.user_id:
            _assign_to(session, ticket, actor.user_id, actor, at=now, reason="replied first")
        if ticket.status == Status.ASSIGNED.value:
            _move(session, ticket, "start", actor, at=now, cfg=cfg)
        if wait_for_customer:
            _move(session, ticket, "wait_customer", actor, at=now, reason="waiting for the customer's answer", cfg=cfg)
    else:
        ev = add_event(session, ticket, "reply", actor, at=now, body=text, public=True)
        if ticket.status == Status.WAITING_CUSTOMER.value:
            _move(session, ticket, "customer_replied", actor, at=now, cfg=cfg)
        elif ticket.status in (Status.SOLUTION_PROPOSED.value, Status.RESOLVED.value):
            _move(session, ticket, "reopen", actor, at=now, reason="the customer wrote again", cfg=cfg)
        if ticket.first_responded_at is not None:
            _start_next_response(session, ticket, cfg, now)
    ticket.updated_at = now
    session.flush()
    return ev


def do_propose_solution(session: Session, actor: Actor, ticket_id: int, body: Any, *, settings: Any,
                        clock: Clock | None = None) -> TicketEvent:
    ticket = _load(session, actor, ticket_id)
    _require_staff(actor, "propose a solution")
    text = clean_text(body, "body", max_len=TEXT_MAX)
    now = _clock(clock).now()
    cfg = desk_config(session)
    if ticket.status in (Status.NEW.value, Status.TRIAGED.value) and actor.user_id:
        _assign_to(session, ticket, actor.user_id, actor, at=now, reason="proposed a solution")
    _move(session, ticket, "propose_solution", actor, at=now, cfg=cfg)
    ev = add_event(session, ticket, "solution", actor, at=now, body=text, public=True)
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now
    _end_next_response(session, ticket, now, responded=True)
    ticket.updated_at = now
    requester = _requester_email(session, ticket)
    notify.solution_proposed(session, _clock(clock), to=requester, number=ticket.number, title=ticket.title,
                             body=text, url=f"{settings.base_url.rstrip('/')}/tickets/{ticket.id}")
    record_audit(session, actor, "desk.ticket.solution", "ticket", ticket.id, {}, org_id=ticket.org_id, clock=clock)
    session.flush()
    return ev


def _requester_email(session: Session, ticket: Ticket) -> str | None:
    if ticket.requester_id is None:
        return None
    try:
        return account_queries.get_user(session, SYSTEM, ticket.requester_id).email
    except Exception:  # the requester was deleted
        return None


def do_accept_solution(session: Session, actor: Actor, ticket_id: int, *, settings: Any,
                       clock: Clock | None = None) -> Ticket:
    ticket = _load(session, actor, ticket_id)
    if actor.is_staff and not actor.is_admin:
        raise NotAllowed("the customer accepts the solution")
    now = _clock(clock).now()
    _move(session, ticket, "accept_solution", actor, at=now, reason="the customer accepted the solution")
    ticket.updated_at = now
    _send_rating_request(session, ticket, settings, _clock(clock))
    session.flush()
    return ticket


def _send_rating_request(session: Session, ticket: Ticket, settings: Any, clock: Clock) -> None:
    from imdesk.channels.links import sign_rating_link

    to = _requester_email(session, ticket)
    if not to or ticket.requester_id is None:
        return
    token = sign_rating_link(settings.secret_key, ticket_id=ticket.id, user_id=ticket.requester_id, now=clock.now())
    notify.rate_request(session, clock, to=to, number=ticket.number, title=ticket.title,
                        url=f"{settings.base_url.rstrip('/')}/rate/{token}")


def do_reject_solution(session: Session, actor: Actor, ticket_id: int, reason: Any, *,
                       clock: Clock | None = None) -> Ticket:
    text = clean_text(reason, "reason", max_len=TEXT_MAX)
    ticket = _load(session, actor, ticket_id)
    now = _clock(clock).now()
    _move(session, ticket, "reopen", actor, at=now, reason=text)
    add_event(session, ticket, "reply", actor, at=now, body=text, public=True, data={"rejects_solution": True})
    cfg = desk_config(session)
    _start_next_response(session, ticket, cfg, now)
    ticket.updated_at = now
    session.flush()
    return ticket


STAFF_ACTIONS = ("start", "wait_customer", "resolve", "close", "reopen")


def do_change_status(session: Session, actor: Actor, ticket_id: int, action: str, *, reason: Any = "",
                     settings: Any = None, clock: Clock | None = None) -> Ticket:
    ticket = _load(session, actor, ticket_id)
    _require_staff(actor, "change the status")
    if action not in STAFF_ACTIONS:
        raise BadInput(f"unknown action {action!r}: expected one of {', '.join(STAFF_ACTIONS)}", field="action")
    note = clean_text(reason, "reason", max_len=COMMENT_MAX, required=False)
    now = _clock(clock).now()
    _move(session, ticket, action, actor, at=now, reason=note, cfg=desk_config(session))
    ticket.updated_at = now
    if action == "resolve" and settings is not None:
        _send_rating_request(session, ticket, settings, _clock(clock))
    record_audit(session, actor, f"desk.ticket.{action}", "ticket", ticket.id, {"reason": note},
                 org_id=ticket.org_id, clock=clock)
    session.flush()
    return ticket


def do_set_priority(session: Session, actor: Actor, ticket_id: int, priority: Any, *, reason: Any,
                    clock: Clock | None = None) -> Ticket:
    ticket = _load(session, actor, ticket_id)
    _require_staff(actor, "change the priority")
    prio = parse_priority(priority)
    if prio is None:
        raise BadInput("priority is required", field="priority")
    why = clean_text(reason, "reason", max_len=COMMENT_MAX)
    if not lifecycle.is_open(ticket.status):
        raise InvalidTransition(f"cannot change the priority of a {ticket.status} ticket", status_from=ticket.status)
    now = _clock(clock).now()
    old = ticket.priority
    if prio == old:
        return ticket
    ticket.priority = prio
    ticket.sla_flags = 0
    org = account_queries.org_info_unscoped(session, ticket.org_id)
    cfg = desk_config(session)
    recompute_sla(session, ticket, cfg, plan=org.plan if org else None)
    _retime_next_response(session, ticket, cfg)
    add_event(session, ticket, "priority", actor, at=now, public=True, body=why,
              data={"from": old, "to": prio, "manual": True})
    ticket.updated_at = now
    session.flush()
    return ticket


def do_set_group(session: Session, actor: Actor, ticket_id: int, group_key: Any, *, reason: Any = "",
                 clock: Clock | None = None) -> Ticket:
    """An agent's override of the classification (it feeds the learned model)."""
    ticket = _load(session, actor, ticket_id)
    _require_staff(actor, "change the group")
    cfg = desk_config(session)
    key = str(group_key or "").strip()
    if key not in cfg.groups:
        raise BadInput(f"unknown group {group_key!r}: expected one of {', '.join(sorted(cfg.groups))}", field="group")
    now = _clock(clock).now()
    old = cfg.group_keys.get(ticket.group_id or -1)
    if old == key:
        return ticket
    ticket.group_id = cfg.groups[key]
    ticket.group_overridden = True
    add_event(session, ticket, "group", actor, at=now, public=False,
              body=clean_text(reason, "reason", max_len=COMMENT_MAX, required=False),
              data={"from": old, "to": key, "override": True})
    ticket.updated_at = now
    session.flush()
    return ticket


def do_assign(session: Session, actor: Actor, ticket_id: int, user_id: int | None, *,
              clock: Clock | None = None) -> Ticket:
    """Assign to ``user_id`` (staff) or, with None, let the routing choose."""
    ticket = _load(session, actor, ticket_id)
    _require_staff(actor, "assign tickets")
    if not lifecycle.is_open(ticket.status):
        raise InvalidTransition(f"cannot assign a {ticket.status} ticket", status_from=ticket.status)
    now = _clock(clock).now()
    if user_id is None:
        org = account_queries.org_info_unscoped(session, ticket.org_id)
        auto_assign(session, ticket, desk_config(session), now=now, org=org)
    else:
        staff = {u.id for u in account_queries.staff_users(session)}
        if user_id not in staff:
            raise BadInput(f"user {user_id} is not an agent or senior engineer", field="assignee_id")
        _assign_to(session, ticket, user_id, actor, at=now, reason=f"assigned by {actor.email}")
    ticket.updated_at = now
    session.flush()
    return ticket


def do_set_absence(session: Session, actor: Actor, user_id: int, start: datetime | None, end: datetime | None) -> None:
    _check_agent(session, actor, user_id)
    if (start is None) != (end is None) or (start and end and end <= start):
        raise BadInput("absence needs a start before its end", field="absent_until")
    st = _agent_state(session, user_id)
    st.absent_from, st.absent_until = start, end
    record_audit(session, actor, "desk.agent.absence", "user", user_id,
                 {"from": start.isoformat() if start else None, "until": end.isoformat() if end else None})
    session.flush()


def _check_agent(session: Session, actor: Actor, user_id: int) -> None:
    """Admins change anyone's working hours and absence, agents their own; only agents' and senior engineers'."""
    if not (actor.is_admin or (actor.is_staff and actor.user_id == user_id)):
        raise NotAllowed("only admins change other people's working hours and absence")
    if user_id not in {u.id for u in account_queries.staff_users(session)}:
        raise BadInput(f"user {user_id} is not an agent or senior engineer", field="user_id")


def _agent_state(session: Session, user_id: int) -> AgentState:
    """The routing state of an agent (created on first use)."""
    st = session.get(AgentState, user_id)
    if st is None:
        st = AgentState(user_id=user_id, calendar="china")
        session.add(st)
    return st


_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def do_set_working_hours(session: Session, actor: Actor, user_id: int, *, calendar: Any, start: Any = None,
                         end: Any = None) -> AgentState:
    """An agent's working calendar (a configured calendar or ``24x7``) and own hours (``HH:MM``, both
    or neither; neither = the calendar's hours; an end before the start is a night shift, which
    belongs to the working day it starts on). Routing assigns in these hours; P0/P1 fall back to
    whoever is present when nobody of the group is in hours."""
    _check_agent(session, actor, user_id)
    cfg = desk_config(session)
    name = str(calendar or "").strip()
    if name not in cfg.calendar_configs and name != "24x7":
        raise BadInput(f"unknown calendar {name!r}: expected one of {', '.join([*sorted(cfg.calendar_configs), '24x7'])}",
                       field="calendar")
    s, e = (str(v or "").strip() for v in (start, end))
    if name == "24x7":
        s = e = ""
    for value, fld in ((s, "work_start"), (e, "work_end")):
        if value and not _HHMM.fullmatch(value):
            raise BadInput(f"{value!r} is not a time of day (HH:MM)", field=fld)
    if bool(s) != bool(e):
        raise BadInput("give both the start and the end of the working hours, or neither", field="work_end" if s else "work_start")
    if s and s == e:
        raise BadInput("working hours must not start and end at the same time", field="work_end")
    st = _agent_state(session, user_id)
    st.calendar, st.work_start, st.work_end = name, s or None, e or None
    record_audit(session, actor, "desk.agent.hours", "user", user_id, {"calendar": name, "start": s, "end": e})
    session.flush()
    return st


def do_add_group_member(session: Session, actor: Actor, group_key: str, user_id: int) -> None:
    if not actor.is_admin:
        raise NotAllowed("only admins edit support groups")
    gid = session.scalar(select(SupportGroup.id).where(SupportGroup.key == group_key))
    if gid is None:
        desk_config(session)
        gid = session.scalar(select(SupportGroup.id).where(SupportGroup.key == group_key))
    if gid is None:
        raise BadInput(f"unknown group {group_key!r}")
    if session.get(GroupMember, (gid, user_id)) is None:
        session.add(GroupMember(group_id=gid, user_id=user_id))
        session.flush()


def do_set_group_lead(session: Session, actor: Actor, group_key: str, user_id: int | None) -> None:
    if not actor.is_admin:
        raise NotAllowed("only admins edit support groups")
    desk_config(session)
    group = session.scalars(select(SupportGroup).where(SupportGroup.key == group_key)).first()
    if group is None:
        raise BadInput(f"unknown group {group_key!r}")
    group.lead_user_id = user_id
    session.flush()


# --------------------------------------------------------------------------------------------
# satisfaction

def check_rating(score: Any, comment: Any) -> tuple[int, str]:
    if isinstance(score, bool) or not isinstance(score, int | str):
        raise InvalidRating("score must be a whole number from 1 to 5", field="score")
    try:
        value = int(score)
    except ValueError:
        raise InvalidRating("score must be a whole number from 1 to 5", field="score") from None
    if not 1 <= value <= 5:
        raise InvalidRating(f"score {value} is out of range (1-5)", field="score")
    return value, clean_text(comment, "comment", max_len=COMMENT_MAX, required=False)


def do_rate(session: Session, actor: Actor, ticket_id: int, score: Any, comment: Any = "", *,
            clock: Clock | None = None) -> Rating:
    value, text = check_rating(score, comment)
    ticket = _load(session, actor, ticket_id)
    if actor.is_staff:
        raise NotAllowed("only the customer rates a ticket")
    return _store_rating(session, ticket, actor.user_id, value, text, _clock(clock).now())


def do_rate_via_link(session: Session, token: str, score: Any, comment: Any = "", *, settings: Any,
                     clock: Clock | None = None) -> Rating:
    from imdesk.channels.links import verify_rating_link

    now = _clock(clock).now()
    data = verify_rating_link(settings.secret_key, token, now=now)
    value, text = check_rating(score, comment)
    ticket = session.get(Ticket, data["t"])
    if ticket is None or ticket.requester_id != data["u"]:
        raise TicketNotFound("ticket not found")
    return _store_rating(session, ticket, data["u"], value, text, now)


def _store_rating(session: Session, ticket: Ticket, user_id: int | None, score: int, comment: str,
                  now: datetime) -> Rating:
    if ticket.status not in (Status.RESOLVED.value, Status.CLOSED.value):
        raise InvalidTransition("a ticket can be rated once it is resolved", status_from=ticket.status)
    if session.scalar(select(Rating.id).where(Rating.ticket_id == ticket.id)) is not None:
        raise AlreadyRated("this ticket has been rated already")
    rating = Rating(ticket_id=ticket.id, user_id=user_id, agent_id=ticket.assignee_id, group_id=ticket.group_id,
                    score=score, comment=comment, at=now)
    session.add(rating)
    add_event(session, ticket, "rating", None if user_id is None else Actor(user_id, "", "customer", ticket.org_id),
              at=now, public=True, body=comment, data={"score": score})
    session.flush()
    return rating


# --------------------------------------------------------------------------------------------
# merge, link, incidents, canned responses

def do_merge(session: Session, actor: Actor, source_id: int, target_id: int, *, clock: Clock | None = None) -> Ticket:
    source = _load(session, actor, source_id)
    target = _load(session, actor, target_id)
    _require_staff(actor, "merge tickets")
    if source_id == target_id:
        raise BadInput("cannot merge a ticket into itself")
    if source.org_id != target.org_id:
        raise BadInput("only tickets of the same organisation can be merged")
    if not lifecycle.is_open(target.status):
        raise InvalidTransition(f"cannot merge into a {target.status} ticket", status_from=target.status)
    if source.merged_into_id is not None or source.status == Status.CLOSED.value:
        raise InvalidTransition("the ticket is closed or merged already", status_from=source.status)
    now = _clock(clock).now()
    source.merged_into_id = target.id
    if source.paused_since:
        _close_pause(session, source, now)
    prev = source.status
    _end_next_response(session, source, now, responded=False)
    source.status, source.closed_at = Status.CLOSED.value, now
    add_event(session, source, "merged", actor, at=now, public=True, body=f"merged into {target.number}",
              data={"into": target.id, "from_status": prev})
    add_event(session, target, "merged", actor, at=now, public=True, body=f"{source.number} merged into this ticket",
              data={"source": source.id, "title": source.title, "description": source.description[:2000]})
    session.flush()
    return target


def do_link(session: Session, actor: Actor, ticket_id: int, other_id: int, *, clock: Clock | None = None) -> None:
    a = _load(session, actor, ticket_id)
    b = _load(session, actor, other_id)
    _require_staff(actor, "link tickets")
    if ticket_id == other_id:
        raise BadInput("cannot link a ticket to itself")
    now = _clock(clock).now()
    for x, y in ((a, b), (b, a)):
        if session.scalar(select(TicketLink.id).where(TicketLink.ticket_id == x.id, TicketLink.other_id == y.id)) is None:
            session.add(TicketLink(ticket_id=x.id, other_id=y.id, kind="related"))
            add_event(session, x, "linked", actor, at=now, public=False, body=f"linked to {y.number}", data={"other": y.id})
    session.flush()


def do_create_incident(session: Session, actor: Actor, *, title: Any, description: Any, org_id: int,
                       ticket_ids: Sequence[int] = (), priority: str = "P1", clock: Clock | None = None) -> Ticket:
    """A parent incident that gathers duplicates of the same outage (from any channel)."""
    _require_staff(actor, "declare incidents")
    new = check_create_ticket(session, actor, title=title, description=description, channel="alert",
                              priority=priority, org_id=org_id)
    incident = do_create_ticket(session, actor, new, clock=clock)
    incident.is_incident = True
    for tid in ticket_ids:
        do_attach_to_incident(session, actor, tid, incident.id, clock=clock)
    session.flush()
    return incident


def do_attach_to_incident(session: Session, actor: Actor, ticket_id: int, incident_id: int, *,
                          clock: Clock | None = None) -> None:
    _require_staff(actor, "attach tickets to incidents")
    incident = _load(session, actor, incident_id)
    if not incident.is_incident:
        raise BadInput(f"{incident.number} is not an incident")
    ticket = _load(session, actor, ticket_id)
    if ticket.id == incident.id:
        raise BadInput("an incident cannot be its own child")
    now = _clock(clock).now()
    ticket.incident_id = incident.id
    add_event(session, ticket, "incident", actor, at=now, public=True, body=f"part of incident {incident.number}",
              data={"incident": incident.id})
    add_event(session, incident, "incident_child", actor, at=now, public=False, body=f"{ticket.number} attached",
              data={"ticket": ticket.id, "channel": ticket.channel})
    session.flush()


def do_resolve_incident(session: Session, actor: Actor, incident_id: int, body: Any, *, settings: Any,
                        clock: Clock | None = None) -> int:
    """Propose the incident's solution on every open child ticket; returns how many."""
    incident = _load(session, actor, incident_id)
    if not incident.is_incident:
        raise BadInput(f"{incident.number} is not an incident")
    n = 0
    children = list(session.scalars(select(Ticket).where(Ticket.incident_id == incident.id, Ticket.status.in_(_OPEN))))
    for child in [incident, *children]:
        if child.status in (Status.ASSIGNED.value, Status.IN_PROGRESS.value, Status.WAITING_CUSTOMER.value,
                            Status.NEW.value, Status.TRIAGED.value):
            do_propose_solution(session, actor, child.id, body, settings=settings, clock=clock)
            n += 1
    return n


def do_create_canned(session: Session, actor: Actor, *, title: Any, body: Any, group_key: str | None = None) -> CannedResponse:
    _require_staff(actor, "write canned responses")
    t = clean_text(title, "title", max_len=200, single_line=True)
    b = clean_text(body, "body", max_len=TEXT_MAX)
    gid = None
    if group_key:
        cfg = desk_config(session)
        if group_key not in cfg.groups:
            raise BadInput(f"unknown group {group_key!r}")
        gid = cfg.groups[group_key]
    row = CannedResponse(title=t, body=b, group_id=gid, created_by=actor.user_id)
    session.add(row)
    session.flush()
    return row


# --------------------------------------------------------------------------------------------
# attachments and resumable uploads

_MAGIC = [
    (b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"), (b"\x1f\x8b", "application/gzip"),
    (b"PK\x03\x04", "application/zip"), (b"BZh", "application/x-bzip2"), (b"\xfd7zXZ\x00", "application/x-xz"),
]
_REFUSED = [(b"MZ", "application/x-msdownload"), (b"\x7fELF", "application/x-executable")]


def sniff_type(data: bytes, filename: str = "") -> str:
    """The content type from the bytes (never from the name the client claims)."""
    head = data[:512]
    for magic, ctype in _REFUSED + _MAGIC:
        if head.startswith(magic):
            return ctype
    if len(data) >= 262 and data[257:262] == b"ustar":
        return "application/x-tar"
    if b"\x00" in head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        try:
            data[:4096].decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(data[:4096]) - 4:
                return "application/octet-stream"
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<script", b"<svg")):
        return "text/plain"  # never served as active content
    return "text/plain"


def _safe_name(filename: str) -> str:
    name = Path(str(filename or "file").replace("\\", "/")).name
    name = re.sub(r"[^\w.\-\u4e00-\u9fff]+", "_", name).strip("._") or "file"
    return name[:200]


def do_add_attachment(session: Session, actor: Actor, ticket_id: int, filename: str, data: bytes, *, settings: Any,
                      clock: Clock | None = None, public: bool = True) -> Attachment:
    ticket = _load(session, actor, ticket_id)
    limit = min(ATTACHMENT_MAX, getattr(settings, "max_upload_bytes", ATTACHMENT_MAX))
    if len(data) > limit:
        raise AttachmentTooLarge(f"attachment is {len(data)} bytes; the limit is {limit}")
    if not data:
        raise AttachmentRefused("empty file")
    ctype = sniff_type(data, filename)
    if ctype in ("application/x-msdownload", "application/x-executable"):
        raise AttachmentRefused("executables are not accepted as attachments")
    return _store_attachment(session, actor, ticket, _safe_name(filename), data, ctype, settings=settings,
                             now=_clock(clock).now(), public=public or not actor.is_staff)


def _store_attachment(session, actor, ticket, name, data, ctype, *, settings, now, public=True) -> Attachment:
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(settings.data_dir) / "attachments" / f"{ticket.id:06d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:16]}_{secrets.token_hex(4)}"
    path.write_bytes(data)
    att = Attachment(ticket_id=ticket.id, filename=name, content_type=ctype, size=len(data), sha256=digest,
                     storage_path=str(path), uploaded_by=actor.user_id, at=now, public=public)
    session.add(att)
    session.flush()
    ev = add_event(session, ticket, "attachment", actor, at=now, public=public, body=name,
                   data={"attachment": att.id, "size": len(data), "type": ctype})
    session.flush()
    att.event_id = ev.id
    return att


def attachment_bytes(session: Session, actor: Actor, attachment_id: int) -> tuple[Attachment, bytes]:
    att = session.get(Attachment, attachment_id)
    if att is None:
        raise TicketNotFound("attachment not found")
    ticket = session.get(Ticket, att.ticket_id)
    ensure_visible(actor, ticket.org_id if ticket else None, what="attachment")
    if not att.public and not actor.is_staff:
        raise TicketNotFound("attachment not found")
    return att, Path(att.storage_path).read_bytes()


def do_start_upload(session: Session, actor: Actor, *, ticket_id: Any, filename: Any, size: Any, sha256: Any,
                    settings: Any, clock: Clock | None = None) -> Upload:
    if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
        raise BadInput("ticket must be a ticket id", field="ticket")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise BadInput("size must be a positive number of bytes", field="size")
    if size > settings.max_upload_bytes:
        raise AttachmentTooLarge(f"upload of {size} bytes exceeds the limit of {settings.max_upload_bytes}")
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise BadInput("sha256 must be 64 hex digits", field="sha256")
    name = _safe_name(clean_text(filename, "filename", max_len=255, single_line=True))
    ticket = _load(session, actor, ticket_id)
    up = Upload(token=secrets.token_urlsafe(24), ticket_id=ticket.id, user_id=actor.user_id, filename=name,
                size=size, sha256=sha256.lower(), offset=0, created_at=_clock(clock).now())
    session.add(up)
    session.flush()
    _upload_path(settings, up).parent.mkdir(parents=True, exist_ok=True)
    _upload_path(settings, up).write_bytes(b"")
    return up


def _upload_path(settings: Any, up: Upload) -> Path:
    return Path(settings.data_dir) / "uploads" / f"{up.token}.part"


def get_upload(session: Session, actor: Actor, token: str) -> Upload:
    up = session.scalars(select(Upload).where(Upload.token == token)).first()
    if up is None:
        raise TicketNotFound("upload not found")
    ticket = session.get(Ticket, up.ticket_id)
    ensure_visible(actor, ticket.org_id if ticket else None, what="upload")
    return up


def do_append_upload(session: Session, actor: Actor, token: str, offset: int, chunk: bytes, *, settings: Any,
                     clock: Clock | None = None) -> Upload:
    up = get_upload(session, actor, token)
    if up.attachment_id is not None:
        raise UploadConflict("upload is complete", offset=up.offset)
    if offset != up.offset:
        raise UploadConflict(f"Upload-Offset {offset} does not match the server's {up.offset}", offset=up.offset)
    if up.offset + len(chunk) > up.size:
        raise BadInput(f"chunk runs past the declared size {up.size}")
    path = _upload_path(settings, up)
    with path.open("ab") as fh:
        fh.truncate(up.offset)
        fh.write(chunk)
    up.offset += len(chunk)
    if up.offset == up.size:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != up.sha256:
            # restart from zero; the caller commits this before reporting the conflict
            path.write_bytes(b"")
            up.offset = 0
            session.flush()
            up.checksum_failed = True  # type: ignore[attr-defined]
            return up
        ticket = session.get(Ticket, up.ticket_id)
        att = _store_attachment(session, actor, ticket, up.filename, data, sniff_type(data, up.filename),
                                settings=settings, now=_clock(clock).now())
        up.attachment_id = att.id
        path.unlink(missing_ok=True)
    session.flush()
    return up


# --------------------------------------------------------------------------------------------
# jobs: SLA check, auto-close, classifier training

@dataclass
class SlaRun:
    warnings: int = 0
    breaches: int = 0
    escalated: int = 0


def run_sla_check(session: Session, *, clock: Clock | None = None, batch: int = 500) -> SlaRun:
    """Warn at 80 % of a target and escalate breaches (group lead + account manager notified,
    ticket handed to a senior engineer). Uses the precomputed instants: index scans only; people,
    organisations and senior engineers' loads are looked up once per run."""
    c = _clock(clock)
    now = c.now()
    run = SlaRun()
    cfg = desk_config(session)
    staff = {u.id: u for u in account_queries.staff_users(session, roles=("agent", "senior_engineer",
                                                                           "account_manager", "admin"))}
    leads = dict(session.execute(select(SupportGroup.id, SupportGroup.lead_user_id)).all())
    orgs: dict[int, Any] = {}
    seniors: list[Candidate] | None = None

    def email(uid: int | None) -> str | None:
        u = staff.get(uid) if uid is not None else None
        return u.email if u else (_email_of(session, uid) if uid is not None else None)

    def org_of(org_id: int):
        if org_id not in orgs:
            orgs[org_id] = account_queries.org_info_unscoped(session, org_id)
        return orgs[org_id]

    checks = [
        ("first_response_warning", Ticket.first_response_warn_at, SLA_FR_WARNED, Ticket.first_responded_at.is_(None)),
        ("first_response_breach", Ticket.first_response_due, SLA_FR_BREACHED, Ticket.first_responded_at.is_(None)),
        ("resolution_warning", Ticket.resolution_warn_at, SLA_RES_WARNED, None),
        ("resolution_breach", Ticket.resolution_due, SLA_RES_BREACHED, None),
        ("next_response_breach", Ticket.next_response_due, SLA_NR_BREACHED, None),
    ]
    session.flush()
    for what, col, flag, extra in checks:
        due_col = getattr(Ticket, what.rsplit("_", 1)[0] + "_due")
        stmt = (select(Ticket.id, Ticket.number, Ticket.title, Ticket.assignee_id, Ticket.group_id, Ticket.org_id,
                       due_col)
                .where(col <= now, Ticket.status.in_(_OPEN), Ticket.paused_since.is_(None),
                       Ticket.sla_flags.op("&")(flag) == 0)
                .order_by(col).limit(batch))
        if extra is not None:
            stmt = stmt.where(extra)
        rows = session.execute(stmt).all()
        if not rows:
            continue
        # set-based writes: one UPDATE for the flags, one multi-row INSERT for the timeline
        session.execute(update(Ticket).where(Ticket.id.in_([r[0] for r in rows]))
                        .values(sla_flags=Ticket.sla_flags.op("|")(flag))
                        .execution_options(synchronize_session=False))
        events = []
        for tid, number, title, assignee_id, group_id, org_id, due in rows:
            due_s = due.isoformat() if due else None
            events.append({"ticket_id": tid, "at": now, "actor_id": None, "kind": "sla_" + what.split("_")[-1],
                           "public": False, "body": f"{what.replace('_', ' ')} (due {due_s or '-'})",
                           "data": {"target": what.rsplit("_", 1)[0], "due": due_s}})
            to = [email(assignee_id)]
            if what.endswith("breach"):
                run.breaches += 1
                to.append(email(leads.get(group_id)))
                org = org_of(org_id)
                if org and org.account_manager_email:
                    to.append(org.account_manager_email)
                current = staff.get(assignee_id) if assignee_id else None
                if current is None or current.role != "senior_engineer":
                    if seniors is None:
                        seniors = _candidates(session, None, seniors_only=True, cfg=cfg)
                    decision = choose_agent(seniors, now, priority="P0", calendar=cfg.calendar("china"))
                    if decision.user_id is not None:
                        ticket = session.get(Ticket, tid)
                        _assign_to(session, ticket, decision.user_id, SYSTEM, at=now,
                                   reason=f"escalated after SLA breach: {decision.reason}")
                        seniors = [replace(s, open_load=s.open_load + 1, last_assigned_at=now)
                                   if s.user_id == decision.user_id else s for s in seniors]
                        run.escalated += 1
            else:
                run.warnings += 1
            for addr in dict.fromkeys(a for a in to if a):
                notify.sla_event(session, c, to=addr, number=number, title=title, what=what, due=due_s or "-")
        session.execute(insert(TicketEvent), events)
        session.flush()
    # the flags were written set-based: reload them on tickets this session already holds
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Ticket):
            session.expire(obj, ["sla_flags"])
    return run


def _email_of(session: Session, user_id: int) -> str | None:
    try:
        return account_queries.get_user(session, SYSTEM, user_id).email
    except Exception:
        return None


def run_auto_close(session: Session, *, clock: Clock | None = None, settings: Any = None) -> int:
    """Close tickets whose solution went unanswered, or that stayed resolved, for 7 days."""
    now = _clock(clock).now()
    cutoff = now - AUTO_CLOSE_AFTER
    n = 0
    for ticket in session.scalars(select(Ticket).where(Ticket.status == Status.SOLUTION_PROPOSED.value,
                                                       Ticket.solution_proposed_at <= cutoff).limit(1000)):
        _move(session, ticket, "resolve", SYSTEM, at=now, reason="no answer to the proposed solution for 7 days")
        _move(session, ticket, "close", SYSTEM, at=now, reason="closed automatically")
        if settings is not None:
            _send_rating_request(session, ticket, settings, _clock(clock))
        n += 1
    for ticket in session.scalars(select(Ticket).where(Ticket.status == Status.RESOLVED.value,
                                                       Ticket.resolved_at <= cutoff).limit(1000)):
        _move(session, ticket, "close", SYSTEM, at=now, reason="closed automatically 7 days after resolution")
        n += 1
    session.flush()
    return n


def training_samples(session: Session, limit: int = 20_000) -> list[tuple[str, str]]:
    """(text, group key) of resolved/closed tickets and of agents' overrides, newest first."""
    keys = dict(session.execute(select(SupportGroup.id, SupportGroup.key)).all())
    rows = session.execute(
        select(Ticket.title, Ticket.description, Ticket.group_id)
        .where((Ticket.status.in_([Status.RESOLVED.value, Status.CLOSED.value])) | Ticket.group_overridden.is_(True),
               Ticket.group_id.is_not(None), Ticket.merged_into_id.is_(None))
        .order_by(Ticket.id.desc()).limit(limit)).all()
    return [(f"{t}\n{d[:2000]}", keys[g]) for t, d, g in rows if g in keys]


def train_classifier(session: Session, *, clock: Clock | None = None, min_samples: int = 50) -> ClassifierModel | None:
    samples = training_samples(session)
    if len(samples) < min_samples or len({g for _, g in samples}) < 2:
        return None
    accuracy = cross_validate(samples, folds=5)
    model = NaiveBayes(min_samples=min_samples).fit(samples)
    row = ClassifierModel(trained_at=_clock(clock).now(), samples=len(samples), accuracy=accuracy, data=model.to_dict())
    session.add(row)
    session.flush()
    return row


# --------------------------------------------------------------------------------------------
# administration (groups, rules, SLA policies, calendar overrides)

def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise NotAllowed("only admins change the desk configuration")


def do_update_group(session: Session, actor: Actor, group_key: str, *, name_en: Any = None, name_zh: Any = None,
                    lead_user_id: int | None = None, member_ids: Sequence[int] | None = None,
                    active: bool | None = None) -> SupportGroup:
    _require_admin(actor)
    desk_config(session)
    group = session.scalars(select(SupportGroup).where(SupportGroup.key == group_key)).first()
    if group is None:
        raise BadInput(f"unknown group {group_key!r}")
    if name_en is not None:
        group.name_en = clean_text(name_en, "name_en", max_len=200, single_line=True)
    if name_zh is not None:
        group.name_zh = clean_text(name_zh, "name_zh", max_len=200, single_line=True)
    staff = {u.id for u in account_queries.staff_users(session, roles=("agent", "senior_engineer", "admin",
                                                                       "account_manager"))}
    if lead_user_id is not None:
        if lead_user_id not in staff:
            raise BadInput(f"user {lead_user_id} is not staff", field="lead_user_id")
        group.lead_user_id = lead_user_id
    if member_ids is not None:
        bad = [m for m in member_ids if m not in staff]
        if bad:
            raise BadInput(f"not staff: {bad}", field="members")
        session.execute(GroupMember.__table__.delete().where(GroupMember.group_id == group.id))
        for m in dict.fromkeys(member_ids):
            session.add(GroupMember(group_id=group.id, user_id=m))
    if active is not None:
        group.active = active
    record_audit(session, actor, "desk.group.update", "support_group", group.key, {"members": list(member_ids or [])})
    session.flush()
    return group


def do_update_rule_set(session: Session, actor: Actor, name: str, data: Any) -> None:
    """Replace the classification or priority rules after compiling them (refused when invalid)."""
    from imdesk.desk.classify import RuleSet
    from imdesk.desk.models import RuleSetRow
    from imdesk.desk.priority import PriorityRules

    _require_admin(actor)
    if name not in ("classification", "priority_rules"):
        raise BadInput(f"unknown rule set {name!r}")
    if not isinstance(data, dict):
        raise BadInput("rules must be a JSON object")
    try:
        if name == "classification":
            rs = RuleSet.from_config(data)
            unknown = set(rs.rules) - set(desk_config(session).groups)
            if unknown:
                raise BadInput(f"rules for unknown groups: {sorted(unknown)}")
        else:
            PriorityRules.from_config(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadInput(f"invalid {name} rules: {exc}") from None
    row = session.scalars(select(RuleSetRow).where(RuleSetRow.name == name)).first()
    if row is None:
        row = RuleSetRow(name=name, data=data)
        session.add(row)
    else:
        row.data = data
    record_audit(session, actor, "desk.rules.update", "rule_set", name, {})
    session.flush()


def do_update_policy(session: Session, actor: Actor, data: Any) -> None:
    from imdesk.desk.models import SlaPolicyRow

    _require_admin(actor)
    if not isinstance(data, dict):
        raise BadInput("policy must be a JSON object")
    policy = sla.parse_policy(data)
    row = session.scalars(select(SlaPolicyRow).where(SlaPolicyRow.name == policy.name)).first()
    if row is None:
        row = SlaPolicyRow(name=policy.name)
        session.add(row)
    row.plan, row.calendar, row.data = policy.plan, policy.calendar, data
    record_audit(session, actor, "desk.policy.update", "sla_policy", policy.name, {})
    session.flush()


def do_set_calendar_override(session: Session, actor: Actor, day: Any, is_workday: bool, note: Any = "") -> None:
    from datetime import date as _date

    from imdesk.desk.store import set_calendar_override

    _require_admin(actor)
    try:
        d = day if isinstance(day, _date) else _date.fromisoformat(str(day))
    except ValueError:
        raise BadInput(f"not a date (YYYY-MM-DD): {day!r}", field="day") from None
    set_calendar_override(session, day=d, is_workday=bool(is_workday),
                          note=clean_text(note, "note", max_len=200, required=False, single_line=True))
    record_audit(session, actor, "desk.calendar.override", "calendar_day", d.isoformat(), {"workday": is_workday})
