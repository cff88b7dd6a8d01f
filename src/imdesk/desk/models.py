"""Tables of the desk domain (SQLAlchemy 2.0 Mapped[] only)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from imdesk.core.db import Base, TimestampMixin, UTCDateTime


class SupportGroup(TimestampMixin, Base):
    __tablename__ = "desk_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    lead_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class GroupMember(Base):
    __tablename__ = "desk_group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("desk_groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class AgentState(Base):
    """Routing state of one agent: round-robin position, working calendar, absence."""

    __tablename__ = "desk_agents"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    calendar: Mapped[str] = mapped_column(String(64), default="china")
    # the agent's own working hours ("HH:MM", in the calendar's zone) on the calendar's working days;
    # None: the calendar's hours
    work_start: Mapped[str | None] = mapped_column(String(5))
    work_end: Mapped[str | None] = mapped_column(String(5))
    absent_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    absent_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Ticket(TimestampMixin, Base):
    __tablename__ = "desk_tickets"
    __table_args__ = (
        Index("ix_desk_tickets_queue", "status", "group_id", "resolution_due"),
        # queues (mine / unassigned / group) read ids from these covering indexes, then the rows
        Index("ix_desk_tickets_assignee_queue", "assignee_id", "status", "priority", "resolution_due", "created_at"),
        Index("ix_desk_tickets_group_queue", "group_id", "status", "priority", "resolution_due"),
        Index("ix_desk_tickets_org_created", "org_id", "created_at"),
        Index("ix_desk_tickets_created", "created_at"),  # the monthly report reads one month
        # the SLA job: open tickets whose instant has come (status first, so closed rows are skipped)
        Index("ix_desk_tickets_sla_fr_warn", "status", "first_response_warn_at"),
        Index("ix_desk_tickets_sla_fr_due", "status", "first_response_due"),
        Index("ix_desk_tickets_sla_res_warn", "status", "resolution_warn_at"),
        Index("ix_desk_tickets_sla_res_due", "status", "resolution_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16), default="web")
    status: Mapped[str] = mapped_column(String(24), default="new")
    priority: Mapped[str] = mapped_column(String(2), default="P2")
    suggested_priority: Mapped[str | None] = mapped_column(String(2))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("desk_groups.id", ondelete="SET NULL"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    classification: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    group_overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    policy_name: Mapped[str] = mapped_column(String(64), default="default")
    # SLA (denormalised: recomputed on every change so queues and the SLA job are plain index scans)
    first_response_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_response_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_response_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the earliest pending SLA instant (None when paused or done); kept by a mapper event below, so
    # the "breaching soon" queue is one ordered index range
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    sla_flags: Mapped[int] = mapped_column(Integer, default=0)  # bit field, see desk.services.SLA_*
    solution_proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    is_incident: Mapped[bool] = mapped_column(Boolean, default=False)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("desk_tickets.id", ondelete="SET NULL"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("desk_tickets.id", ondelete="SET NULL"))


class SlaPause(Base):
    __tablename__ = "desk_sla_pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("desk_tickets.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")


class ResponseCycle(Base):
    """One next-response clock: it starts when the customer writes on a ticket that has had its first
    response and nothing from the desk answers yet, and ends when staff reply publicly or propose a
    solution (``responded``), or when the ticket is resolved, closed or merged without a reply. The
    monthly report counts them: met when answered by ``due_at``; breached when answered later, or
    still (or finally) unanswered after ``due_at``."""

    __tablename__ = "desk_response_cycles"
    __table_args__ = (Index("ix_desk_response_cycles_started", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("desk_tickets.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    responded: Mapped[bool] = mapped_column(Boolean, default=False)


class TicketEvent(Base):
    """The ticket's timeline: every step, reply, note and decision."""

    __tablename__ = "desk_ticket_events"
    __table_args__ = (Index("ix_desk_ticket_events_ticket_at", "ticket_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("desk_tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Rating(Base):
    __tablename__ = "desk_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("desk_tickets.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("desk_groups.id", ondelete="SET NULL"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class TicketLink(Base):
    __tablename__ = "desk_ticket_links"
    __table_args__ = (UniqueConstraint("ticket_id", "other_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("desk_tickets.id", ondelete="CASCADE"), index=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("desk_tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="related")


class CannedResponse(TimestampMixin, Base):
    __tablename__ = "desk_canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("desk_groups.id", ondelete="CASCADE"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Attachment(Base):
    __tablename__ = "desk_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("desk_tickets.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("desk_ticket_events.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(500))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    public: Mapped[bool] = mapped_column(Boolean, default=True)


class Upload(Base):
    """A resumable upload in progress (becomes an Attachment when complete)."""

    __tablename__ = "desk_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("desk_tickets.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    offset: Mapped[int] = mapped_column(Integer, default=0)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("desk_attachments.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SlaPolicyRow(TimestampMixin, Base):
    __tablename__ = "desk_sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    plan: Mapped[str | None] = mapped_column(String(32))
    calendar: Mapped[str] = mapped_column(String(64), default="china")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CalendarOverride(Base):
    __tablename__ = "desk_calendar_overrides"
    __table_args__ = (UniqueConstraint("calendar", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar: Mapped[str] = mapped_column(String(64), default="china")
    day: Mapped[date] = mapped_column(Date)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(200), default="")


class RuleSetRow(TimestampMixin, Base):
    """Admin-editable rule data (``classification``, ``priority_rules``) seeded from the profile."""

    __tablename__ = "desk_rule_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ClassifierModel(Base):
    __tablename__ = "desk_classifier_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime())
    samples: Mapped[int] = mapped_column(Integer)
    accuracy: Mapped[float | None] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


_OPEN_STATUSES = ("new", "triaged", "assigned", "in_progress", "waiting_customer", "solution_proposed")


def pending_due(ticket: Ticket) -> datetime | None:
    """The earliest SLA instant still pending for ``ticket`` (None when paused, resolved or closed)."""
    if ticket.status not in _OPEN_STATUSES or ticket.paused_since is not None:
        return None
    candidates = [ticket.resolution_due, ticket.next_response_due]
    if ticket.first_responded_at is None:
        candidates.append(ticket.first_response_due)
    present = [c for c in candidates if c is not None]
    return min(present) if present else None


@event.listens_for(Ticket, "before_insert")
@event.listens_for(Ticket, "before_update")
def _keep_next_due(_mapper, _connection, target: Ticket) -> None:
    target.next_due_at = pending_due(target)
