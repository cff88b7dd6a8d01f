"""What keeps search fast on a large knowledge base: stored weighted vectors on PostgreSQL (kept in
step with the documents, backfilled by the migration) and retrieval by the selective query terms
only, on both engines. Latency itself is measured by bench/kb/run_search.py, not here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect, text
from tests.conftest import PG_URL, _create_pg_database, _drop_pg_database

from imdesk.core.db import make_engine, make_session_factory
from imdesk.kb import search as kb_search
from imdesk.kb.search import optimize_index, remove_doc, search, upsert_doc
from imdesk.migrations import downgrade, upgrade


@pytest.fixture(autouse=True)
def _fresh_pg_stats() -> Iterator[None]:
    # statistics ANALYZEd inside a rolled-back test transaction must not outlive the test
    kb_search._pg_stats_cache.clear()
    yield
    kb_search._pg_stats_cache.clear()


def _doc(session, doc_id: int, title: str, body: str, codes: list[str] | None = None) -> None:
    upsert_doc(session, doc_type="article", doc_id=doc_id, slug=f"scale-{doc_id}", title=title, body_text=body,
               lang="en", category="scenario", module="gateway", codes=codes)


def test_stored_vectors_follow_their_documents(session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("kb_fts_vectors exists on PostgreSQL only (SQLite: FTS5 triggers)")
    _doc(session, 1, "Gateway timeout", "the gateway closes idle sockets", codes=["ERR_IM_1002"])
    session.flush()
    doc_id = session.execute(text("SELECT id FROM kb_search_docs WHERE slug = 'scale-1'")).scalar_one()

    def vectors() -> tuple[str, str] | None:
        row = session.execute(text("SELECT v.tsv::text, t.tsv::text FROM kb_fts_vectors v "
                                   "JOIN kb_fts_title_vectors t ON t.id = v.id WHERE v.id = :i"), {"i": doc_id}).first()
        gone = session.execute(text("SELECT count(*) FROM kb_fts_title_vectors WHERE id = :i"), {"i": doc_id})
        return (row[0], row[1]) if row else gone.scalar_one() or None

    tsv, title_tsv = vectors()
    assert "'gateway':1A" in tsv and "'errim1002':3B" in tsv and "'idle':" in tsv
    assert "'idle'" not in title_tsv and "'errim1002'" in title_tsv
    _doc(session, 1, "Login rejected", "the token expired")
    session.flush()
    tsv, title_tsv = vectors()
    assert "'login':1A" in tsv and "'expired'" in tsv and "gateway" not in tsv and "gateway" not in title_tsv
    assert [h.slug for h in search(session, "token expired").hits][:1] == ["scale-1"]
    remove_doc(session, "article", 1)
    session.flush()
    assert vectors() is None


def test_common_terms_do_not_drive_retrieval(session, monkeypatch):
    """A word in most documents is left out of retrieval (within the postings budget), the rare
    one finds its document, and the document that has both still ranks first."""
    dialect = session.get_bind().dialect.name
    monkeypatch.setattr(kb_search, "POSTINGS_BUDGET", 30)
    monkeypatch.setattr(kb_search, "PG_POSTINGS_BUDGET", 30)
    for i in range(2, 122):
        _doc(session, i, f"Note {i}", f"gateway restarts after upgrade number {i}")
    _doc(session, 200, "Quarantine of a node", "the gateway puts a flapping node in quarantine")
    _doc(session, 201, "Quarantine list", "nodes in quarantine are listed on the admin page")
    session.flush()
    optimize_index(session)  # PostgreSQL: ANALYZE, whose element statistics give the frequencies
    plan = kb_search.plan_query("gateway quarantine", synonyms=kb_search.synonyms_for(None))
    pg = dialect == "postgresql"
    df = kb_search._pg_df(session, plan, "kb_fts_vectors") if pg else kb_search._sqlite_df(session, plan)
    assert df["gateway"] > 100 and df["quarantine"] < 30, df
    kept = kb_search.prune_for_budget(plan, df, 30)
    assert kept.groups == [[("quarantine",)]]
    slugs = [h.slug for h in search(session, "gateway quarantine", limit=5).hits]
    assert slugs[:2] == ["scale-200", "scale-201"], slugs


def _scratch_databases() -> list[str]:
    return ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=_scratch_databases())
def scratch_engine(request, tmp_path) -> Iterator[Engine]:
    """An empty database of its own: migrations are run step by step here."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/migrate.db")
        yield engine
        engine.dispose()
        return
    url, name = _create_pg_database(PG_URL)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        _drop_pg_database(PG_URL, name)


def test_migration_backfills_existing_documents(scratch_engine):
    upgrade(scratch_engine, "kb_0003")
    with scratch_engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO kb_search_docs (doc_type, doc_id, slug, title, lang, body_text, title_tokens, body_tokens, "
            "codes_tokens) VALUES ('article', 7, 'old-doc', 'Certificate expired', 'en', 'renew the apns certificate', "
            "'certificate expired', 'renew the apns certificate', '')"
        ))
    upgrade(scratch_engine)
    pg = scratch_engine.dialect.name == "postgresql"
    tables = set(inspect(scratch_engine).get_table_names())
    assert ("kb_fts_vectors" in tables) is pg and ("kb_fts_title_vectors" in tables) is pg
    if pg:
        with scratch_engine.connect() as conn:
            tsv, titles = conn.execute(text(
                "SELECT v.tsv::text, t.tsv::text FROM kb_fts_vectors v JOIN kb_search_docs d ON d.id = v.id "
                "JOIN kb_fts_title_vectors t ON t.id = d.id WHERE d.slug = 'old-doc'")).one()
        assert "'certificate':1A" in tsv and "'apns'" in tsv and titles == "'certificate':1A 'expired':2A"
    session = make_session_factory(scratch_engine)()
    try:
        assert [h.slug for h in search(session, "apns certificate renew").hits] == ["old-doc"]
    finally:
        session.close()
    downgrade(scratch_engine, "kb_0003")
    assert not {"kb_fts_vectors", "kb_fts_title_vectors"} & set(inspect(scratch_engine).get_table_names())
    if pg:
        indexes = {ix["name"] for ix in inspect(scratch_engine).get_indexes("kb_search_docs")}
        assert "ix_kb_fts_search_docs" in indexes
    upgrade(scratch_engine)
