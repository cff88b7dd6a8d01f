"""desk: SLA job indexes lead with status (skip closed tickets)

Revision ID: desk_0002
Revises: desk_0001
Create Date: 2026-11-24 06:30:00
"""

from __future__ import annotations

from alembic import op

revision = "desk_0002"
down_revision = "desk_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("desk_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_desk_tickets_fr_warn")
        batch_op.drop_index("ix_desk_tickets_res_warn")
        batch_op.create_index("ix_desk_tickets_sla_fr_warn", ["status", "first_response_warn_at"], unique=False)
        batch_op.create_index("ix_desk_tickets_sla_fr_due", ["status", "first_response_due"], unique=False)
        batch_op.create_index("ix_desk_tickets_sla_res_warn", ["status", "resolution_warn_at"], unique=False)
        batch_op.create_index("ix_desk_tickets_sla_res_due", ["status", "resolution_due"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("desk_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_desk_tickets_sla_res_due")
        batch_op.drop_index("ix_desk_tickets_sla_res_warn")
        batch_op.drop_index("ix_desk_tickets_sla_fr_due")
        batch_op.drop_index("ix_desk_tickets_sla_fr_warn")
        batch_op.create_index("ix_desk_tickets_res_warn", ["resolution_warn_at"], unique=False)
        batch_op.create_index("ix_desk_tickets_fr_warn", ["first_response_warn_at"], unique=False)
