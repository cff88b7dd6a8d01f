"""desk: index on desk_tickets.created_at (the monthly SLA report reads one month of tickets)

Revision ID: desk_0007
Revises: desk_0006
Create Date: 2026-11-24 09:50:00
"""

from __future__ import annotations

from alembic import op

revision = "desk_0007"
down_revision = "desk_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("desk_tickets", schema=None) as batch_op:
        batch_op.create_index("ix_desk_tickets_created", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("desk_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_desk_tickets_created")
