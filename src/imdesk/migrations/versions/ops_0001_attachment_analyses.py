"""ops: analyses of ticket attachments

Revision ID: ops_0001
Revises: 
Create Date: 2026-11-24 07:20:45.146807
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import imdesk.core.db

revision = 'ops_0001'
down_revision = None
branch_labels = ('ops',)
depends_on = 'desk_0001'


def upgrade() -> None:
    op.create_table('ops_attachment_analyses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attachment_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('headline', sa.String(length=500), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('started_at', imdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', imdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['attachment_id'], ['desk_attachments.id'], name=op.f('fk_ops_attachment_analyses_attachment_id_desk_attachments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['desk_tickets.id'], name=op.f('fk_ops_attachment_analyses_ticket_id_desk_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ops_attachment_analyses')),
    sa.UniqueConstraint('attachment_id', name=op.f('uq_ops_attachment_analyses_attachment_id'))
    )
    with op.batch_alter_table('ops_attachment_analyses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ops_attachment_analyses_ticket_id'), ['ticket_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ops_attachment_analyses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ops_attachment_analyses_ticket_id'))

    op.drop_table('ops_attachment_analyses')
