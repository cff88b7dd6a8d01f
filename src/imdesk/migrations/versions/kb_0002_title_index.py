"""kb: a second FTS5 index over titles and codes only (kb_fts_titles).

Title and code matches are the strongest signal; with short doclists this index answers the
"every concept and synonym" pass cheaply even at 100k+ documents (SQLite only; PostgreSQL ranks
with weighted tsvectors instead).

Revision ID: kb_0002
Revises: kb_0001
"""

from __future__ import annotations

from alembic import op

revision = "kb_0002"
down_revision = "kb_0001"
branch_labels = None
depends_on = None

COLS = "title_tokens, codes_tokens"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE VIRTUAL TABLE kb_fts_titles USING fts5(title_tokens, codes_tokens, content='kb_search_docs', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
    )
    op.execute("INSERT INTO kb_fts_titles(kb_fts_titles, rank) VALUES ('rank', 'bm25(1.0, 1.0)')")
    op.execute(
        f"CREATE TRIGGER kb_fts_titles_ai AFTER INSERT ON kb_search_docs BEGIN INSERT INTO kb_fts_titles(rowid, {COLS}) "
        "VALUES (new.id, new.title_tokens, new.codes_tokens); END"
    )
    op.execute(
        f"CREATE TRIGGER kb_fts_titles_ad AFTER DELETE ON kb_search_docs BEGIN INSERT INTO kb_fts_titles(kb_fts_titles, "
        f"rowid, {COLS}) VALUES ('delete', old.id, old.title_tokens, old.codes_tokens); END"
    )
    op.execute(
        f"CREATE TRIGGER kb_fts_titles_au AFTER UPDATE ON kb_search_docs BEGIN INSERT INTO kb_fts_titles(kb_fts_titles, "
        f"rowid, {COLS}) VALUES ('delete', old.id, old.title_tokens, old.codes_tokens); "
        f"INSERT INTO kb_fts_titles(rowid, {COLS}) VALUES (new.id, new.title_tokens, new.codes_tokens); END"
    )
    op.execute("INSERT INTO kb_fts_titles(kb_fts_titles) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trg in ("kb_fts_titles_ai", "kb_fts_titles_ad", "kb_fts_titles_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {trg}")
    op.execute("DROP TABLE IF EXISTS kb_fts_titles")
