"""desk: next-response clocks (one row per customer message awaiting the desk's answer) for the
monthly report's next-response attainment

Revision ID: desk_0005
Revises: desk_0004
Create Date: 2026-11-24 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import imdesk.core.db

revision = "desk_0005"
down_revision = "desk_0004"
branch_labels = None
depends_on = None

OPEN = ("new", "triaged", "assigned", "in_progress", "waiting_customer", "solution_proposed")


def upgrade() -> None:
    op.create_table(
        "desk_response_cycles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("started_at", imdesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", imdesk.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", imdesk.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("responded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["desk_tickets.id"], name=op.f("fk_desk_response_cycles_ticket_id_desk_tickets"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_response_cycles")),
    )
    with op.batch_alter_table("desk_response_cycles", schema=None) as batch_op:
        batch_op.create_index("ix_desk_response_cycles_started", ["started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_desk_response_cycles_ticket_id"), ["ticket_id"], unique=False)
    # clocks running at upgrade time: started at the ticket's latest reply (the customer's message the
    # desk has not answered yet), due when the ticket says
    t = sa.table("desk_tickets", sa.column("id", sa.Integer), sa.column("status", sa.String),
                 sa.column("updated_at", imdesk.core.db.UTCDateTime()),
                 sa.column("next_response_due", imdesk.core.db.UTCDateTime()))
    e = sa.table("desk_ticket_events", sa.column("ticket_id", sa.Integer), sa.column("kind", sa.String),
                 sa.column("at", imdesk.core.db.UTCDateTime()))
    c = sa.table("desk_response_cycles", sa.column("ticket_id", sa.Integer),
                 sa.column("started_at", imdesk.core.db.UTCDateTime()), sa.column("due_at", imdesk.core.db.UTCDateTime()),
                 sa.column("responded", sa.Boolean))
    conn = op.get_bind()
    last_reply = (sa.select(sa.func.max(e.c.at)).where(e.c.ticket_id == t.c.id, e.c.kind == "reply")
                  .scalar_subquery())
    rows = conn.execute(sa.select(t.c.id, t.c.next_response_due, last_reply, t.c.updated_at)
                        .where(t.c.status.in_(OPEN), t.c.next_response_due.is_not(None))).all()
    if rows:
        conn.execute(sa.insert(c), [{"ticket_id": tid, "started_at": replied or updated, "due_at": due,
                                     "responded": False} for tid, due, replied, updated in rows])


def downgrade() -> None:
    with op.batch_alter_table("desk_response_cycles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desk_response_cycles_ticket_id"))
        batch_op.drop_index("ix_desk_response_cycles_started")
    op.drop_table("desk_response_cycles")
