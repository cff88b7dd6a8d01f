"""desk: covering indexes for the agent queues (mine/unassigned and group)

Revision ID: desk_0003
Revises: desk_0002
Create Date: 2026-11-24 06:45:00
"""

from __future__ import annotations

from alembic import op

revision = "desk_0003"
down_revision = "desk_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("desk_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_desk_tickets_assignee")
        batch_op.create_index("ix_desk_tickets_assignee_queue", ["assignee_id", "status", "priority", "resolution_due"],
                              unique=False)
        batch_op.create_index("ix_desk_tickets_group_queue", ["group_id", "status", "priority", "resolution_due"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("desk_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_desk_tickets_group_queue")
        batch_op.drop_index("ix_desk_tickets_assignee_queue")
        batch_op.create_index("ix_desk_tickets_assignee", ["assignee_id", "status"], unique=False)
