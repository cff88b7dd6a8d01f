"""kb: editing community questions and answers — "edited" marker columns and the edit history
(kb_post_edits: the text before each edit, the editor and the time).

Revision ID: kb_0003
Revises: kb_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import imdesk.core.db

revision = "kb_0003"
down_revision = "kb_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("kb_questions", "kb_answers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("edited_at", imdesk.core.db.UTCDateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column("edited_by", sa.Integer(), nullable=True))
    op.create_table(
        "kb_post_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("by_moderator", sa.Boolean(), nullable=False),
        sa.Column("old_title", sa.String(length=300), nullable=True),
        sa.Column("old_body", sa.Text(), nullable=False),
        sa.Column("old_tags", sa.JSON(), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_at", imdesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["kb_questions.id"],
                                name=op.f("fk_kb_post_edits_question_id_kb_questions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_post_edits")),
    )
    with op.batch_alter_table("kb_post_edits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_post_edits_question_id"), ["question_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kb_post_edits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_post_edits_question_id"))
    op.drop_table("kb_post_edits")
    for table in ("kb_answers", "kb_questions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("edited_by")
            batch_op.drop_column("edited_at")
