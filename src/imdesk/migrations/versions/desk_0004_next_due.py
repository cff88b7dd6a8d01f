"""desk: next_due_at (earliest pending SLA instant) for the "breaching soon" queue; created_at in
the assignee queue index (routing's round-robin position from the index alone)

Revision ID: desk_0004
Revises: desk_0003
Create Date: 2026-11-24 06:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import imdesk.core.db

revision = "desk_0004"
down_revision = "desk_0003"
branch_labels = None
depends_on = None

OPEN = ("new", "triaged", "assigned", "in_progress", "waiting_customer", "solution_proposed")


def upgrade() -> None:
    with op.batch_alter_table("desk_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_due_at", imdesk.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_desk_tickets_next_due_at"), ["next_due_at"], unique=False)
        batch_op.drop_index("ix_desk_tickets_assignee_queue")
        batch_op.create_index("ix_desk_tickets_assignee_queue",
                              ["assignee_id", "status", "priority", "resolution_due", "created_at"], unique=False)
    # fill it for tickets that exist already
    t = sa.table("desk_tickets", sa.column("id", sa.Integer), sa.column("status", sa.String),
                 sa.column("paused_since", imdesk.core.db.UTCDateTime()),
                 sa.column("first_responded_at", imdesk.core.db.UTCDateTime()),
                 sa.column("first_response_due", imdesk.core.db.UTCDateTime()),
                 sa.column("resolution_due", imdesk.core.db.UTCDateTime()),
                 sa.column("next_response_due", imdesk.core.db.UTCDateTime()),
                 sa.column("next_due_at", imdesk.core.db.UTCDateTime()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(t.c.id, t.c.first_responded_at, t.c.first_response_due, t.c.resolution_due,
                                  t.c.next_response_due)
                        .where(t.c.status.in_(OPEN), t.c.paused_since.is_(None))).all()
    for tid, responded, fr_due, res_due, nr_due in rows:
        cands = [d for d in (res_due, nr_due, fr_due if responded is None else None) if d is not None]
        if cands:
            conn.execute(sa.update(t).where(t.c.id == tid).values(next_due_at=min(cands)))


def downgrade() -> None:
    with op.batch_alter_table("desk_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_desk_tickets_assignee_queue")
        batch_op.create_index("ix_desk_tickets_assignee_queue", ["assignee_id", "status", "priority", "resolution_due"],
                              unique=False)
        batch_op.drop_index(batch_op.f("ix_desk_tickets_next_due_at"))
        batch_op.drop_column("next_due_at")
