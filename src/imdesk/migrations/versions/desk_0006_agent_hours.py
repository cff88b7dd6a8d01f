"""desk: an agent's own working hours (on the calendar's working days) for routing

Revision ID: desk_0006
Revises: desk_0005
Create Date: 2026-11-24 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "desk_0006"
down_revision = "desk_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("desk_agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("work_start", sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column("work_end", sa.String(length=5), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("desk_agents", schema=None) as batch_op:
        batch_op.drop_column("work_end")
        batch_op.drop_column("work_start")
