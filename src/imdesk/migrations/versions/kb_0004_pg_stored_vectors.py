"""kb: PostgreSQL search ranks a stored, weighted tsvector (kb_fts_vectors) instead of recomputing it.

Ranking used to rebuild ``setweight(to_tsvector(title), 'A') || ... 'B' || ... 'D'`` for every row
the GIN index matched (seconds at 100k documents). ``kb_fts_vectors`` holds that vector per search
document, ``kb_fts_title_vectors`` one of title and codes only (the "every concept and synonym in
titles" pass, like SQLite's kb_fts_titles; a table of its own, so that pass reads small rows), both
GIN-indexed and kept in step by a trigger on ``kb_search_docs`` (rows go with their document by
``ON DELETE CASCADE``). Their element statistics (``pg_stats.most_common_elems``) tell the search
which query terms are too common to retrieve by. The expression index of kb_0001
is dropped (nothing queries it any more). Existing documents are backfilled. SQLite: nothing to
do (FTS5 tables of kb_0001/kb_0002).

Revision ID: kb_0004
Revises: kb_0003
"""

from __future__ import annotations

from alembic import op

revision = "kb_0004"
down_revision = "kb_0003"
branch_labels = None
depends_on = None

WEIGHTED = (
    "setweight(to_tsvector('simple', coalesce({p}title_tokens, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce({p}codes_tokens, '')), 'B') || "
    "setweight(to_tsvector('simple', coalesce({p}body_tokens, '')), 'D')"
)
TITLES = (
    "setweight(to_tsvector('simple', coalesce({p}title_tokens, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce({p}codes_tokens, '')), 'B')"
)
OLD_INDEX_TSV = (
    "to_tsvector('simple', coalesce(title_tokens, '') || ' ' || coalesce(codes_tokens, '') || ' ' "
    "|| coalesce(body_tokens, ''))"
)


TABLES = {"kb_fts_vectors": WEIGHTED, "kb_fts_title_vectors": TITLES}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, vector in TABLES.items():
        op.execute(
            f"CREATE TABLE {table} (id integer PRIMARY KEY REFERENCES kb_search_docs (id) ON DELETE CASCADE, "
            "tsv tsvector NOT NULL)"
        )
        # 10,000 most common elements in the statistics: the search's document-frequency estimates
        op.execute(f"ALTER TABLE {table} ALTER COLUMN tsv SET STATISTICS 1000")
        op.execute(f"INSERT INTO {table} (id, tsv) SELECT id, {vector.format(p='')} FROM kb_search_docs")
        op.execute(f"CREATE INDEX ix_{table}_tsv ON {table} USING gin (tsv)")
        op.execute(f"ANALYZE {table}")
    upserts = " ".join(
        f"INSERT INTO {table} (id, tsv) VALUES (NEW.id, {vector.format(p='NEW.')}) "
        "ON CONFLICT (id) DO UPDATE SET tsv = EXCLUDED.tsv;"
        for table, vector in TABLES.items()
    )
    op.execute(
        f"CREATE FUNCTION kb_fts_vectors_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {upserts} "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER kb_fts_vectors_aiu AFTER INSERT OR UPDATE OF title_tokens, codes_tokens, body_tokens "
        "ON kb_search_docs FOR EACH ROW EXECUTE FUNCTION kb_fts_vectors_sync()"
    )
    op.execute("DROP INDEX IF EXISTS ix_kb_fts_search_docs")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE INDEX IF NOT EXISTS ix_kb_fts_search_docs ON kb_search_docs USING gin ({OLD_INDEX_TSV})")
    op.execute("DROP TRIGGER IF EXISTS kb_fts_vectors_aiu ON kb_search_docs")
    op.execute("DROP FUNCTION IF EXISTS kb_fts_vectors_sync()")
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
