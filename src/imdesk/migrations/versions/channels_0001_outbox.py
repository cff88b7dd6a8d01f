"""channels: notification outbox

Revision ID: channels_0001
Revises:
Create Date: 2026-11-24 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import imdesk.core.db

revision = 'channels_0001'
down_revision = None
branch_labels = ('channels',)
depends_on = '0001_foundation'


def upgrade() -> None:
    op.create_table('channels_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('ref', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', imdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', imdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', imdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channels_outbox'))
    )
    with op.batch_alter_table('channels_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_channels_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_channels_outbox_ref'), ['ref'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('channels_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channels_outbox_ref'))
        batch_op.drop_index('ix_channels_outbox_due')

    op.drop_table('channels_outbox')
