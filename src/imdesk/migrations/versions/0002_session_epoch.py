"""foundation: web session epoch per user

Revision ID: 0002_foundation
Revises: 0001_foundation
Create Date: 2026-11-24 07:49:14.414300
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import imdesk.core.db  # noqa: F401

revision = '0002_foundation'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')

