"""The search backend: one results API over SQLite FTS5 (bm25) and PostgreSQL tsvector (GIN).

Documents (articles, videos, questions) are stored in ``kb_search_docs`` with jieba-segmented
token columns (:mod:`imdesk.kb.text`); SQLite indexes them in the FTS5 tables ``kb_fts_docs`` and
``kb_fts_titles``, PostgreSQL stores their weighted tsvectors in ``kb_fts_vectors`` and
``kb_fts_title_vectors`` (GIN-indexed);
both are kept in step by triggers on ``kb_search_docs``.

Ranking: documents about an error code named in the query first, then full-text relevance (a
titles-and-codes pass and a whole-text pass that retrieves by the query's selective terms only); synonyms and typo corrections are OR-ed into the query
(:mod:`imdesk.kb.queryplan`). Snippets are cut from the original text and highlighted in Python,
so both backends return identical shapes.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, delete, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from imdesk.kb.catalogue import Catalogue, ErrorCodeEntry, load_catalogue
from imdesk.kb.models import SearchDoc
from imdesk.kb.queryplan import (
    QueryPlan,
    document_codes_text,
    fts5_match,
    make_snippet,
    plain_fts5_match,
    plan_query,
    prune_for_budget,
    ts_terms,
)
from imdesk.kb.text import Synonyms, TypoCorrector, index_text, is_latin, query_terms
from imdesk.profiles import ProfileError, load_profile

log = logging.getLogger(__name__)

EXACT_BOOST = 1000.0
DOC_URLS = {"article": "/kb/articles/{slug}", "video": "/kb/videos/{slug}", "question": "/kb/questions/{slug}"}


@dataclass
class Hit:
    doc_type: str
    slug: str
    title: str
    score: float
    snippet: str
    lang: str
    category: str | None
    module: str | None
    exact: bool = False

    @property
    def url(self) -> str:
        return DOC_URLS.get(self.doc_type, "/kb/articles/{slug}").format(slug=self.slug)

    def as_result(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "score": round(self.score, 4),
            "snippet": self.snippet,
            "type": self.doc_type,
            "url": self.url,
            "lang": self.lang,
            "category": self.category,
            "module": self.module,
        }


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    codes: list[ErrorCodeEntry]
    plan: QueryPlan
    took_ms: float


# --- analysers, cached per process --------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def synonyms_for(profile: str | None = None) -> Synonyms:
    try:
        p = load_profile(profile)
        if p.has("synonyms"):
            return Synonyms.from_data(p.data("synonyms"))
    except (ProfileError, ValueError):
        pass
    return Synonyms.from_groups([])


_vocab_lock = threading.Lock()
_vocab_cache: dict[Any, tuple[float, TypoCorrector]] = {}
_generation = [0]
VOCAB_TTL_S = 300.0


def bump_generation() -> None:
    """Called after every index write in this process: the typo vocabulary is rebuilt lazily."""
    _generation[0] += 1


def _load_vocabulary(session: Session) -> dict[str, int]:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        rows = session.execute(
            text("SELECT term, doc FROM kb_fts_vocab WHERE term >= 'a' AND term < '{'")
        ).all()
    else:
        # title (A) and body (D) words of the stored vectors, as on SQLite (codes are not words)
        rows = session.execute(
            text("SELECT word, ndoc FROM ts_stat('SELECT tsv FROM kb_fts_vectors', 'AD') "
                 "WHERE word ~ '^[a-z][a-z0-9]{3,}$'")
        ).all()
    return {str(t): int(n) for t, n in rows if is_latin(str(t)) and len(str(t)) >= 4}


def corrector_for(session: Session) -> TypoCorrector:
    """The typo corrector of the search index behind ``session``, rebuilt after index writes and
    every ``VOCAB_TTL_S``.

    A serving process (sessions bound to an :class:`Engine` with a real pool) keeps answering with
    the vocabulary it has while one background thread rebuilds it, so no query waits for the
    rebuild (about 2 s at 100,000 documents on PostgreSQL). Only the very first build of a process,
    and sessions bound to one connection (tests, scripts), build it in line."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    ident = (str(getattr(engine, "url", "")), id(engine))
    key = (*ident, _generation[0])
    now = time.monotonic()
    with _vocab_lock:
        cached = _vocab_cache.get(key)
        if cached and now - cached[0] < VOCAB_TTL_S:
            return cached[1]
        stale = next((tc for k, (_, tc) in _vocab_cache.items() if k[:2] == ident), None)
        if stale is not None and isinstance(bind, Engine) and not isinstance(bind.pool, StaticPool):
            if ident not in _refreshing:
                _refreshing.add(ident)
                threading.Thread(target=_rebuild, args=(bind, ident, key, now), name="kb-vocabulary",
                                 daemon=True).start()
            return stale
    tc = TypoCorrector(_load_vocabulary(session))
    _keep(ident, key, now, tc)
    return tc


_refreshing: set[tuple[str, int]] = set()


def _keep(ident: tuple[str, int], key: tuple[str, int, int], built: float, tc: TypoCorrector) -> None:
    with _vocab_lock:
        for k in [k for k in _vocab_cache if k[:2] == ident]:
            del _vocab_cache[k]
        _vocab_cache[key] = (built, tc)


def _rebuild(engine: Engine, ident: tuple[str, int], key: tuple[str, int, int], started: float) -> None:
    """Background rebuild (see :func:`corrector_for`); on failure the old vocabulary stays in use."""
    try:
        with Session(bind=engine) as s:
            tc = TypoCorrector(_load_vocabulary(s))
        _keep(ident, key, started, tc)
    except Exception:  # noqa: BLE001 - a failed rebuild must not break searching
        log.warning("rebuilding the typo vocabulary failed; the previous one stays in use", exc_info=True)
    finally:
        with _vocab_lock:
            _refreshing.discard(ident)


# --- indexing -----------------------------------------------------------------------------------


def doc_values(
    *,
    slug: str,
    title: str,
    body_text: str,
    lang: str,
    category: str | None = None,
    module: str | None = None,
    codes: list[str] | None = None,
    extra_index_text: str = "",
) -> dict[str, Any]:
    """The columns of one search document: its text and the jieba tokens of title, body and codes.
    Pure (no database), so a bulk import can compute it in worker processes."""
    synonyms_for(None)  # the segmenter must know the product words before indexing, as for queries
    return dict(
        slug=slug,
        title=title,
        lang=lang,
        category=category,
        module=module,
        body_text=body_text,
        title_tokens=index_text(title),
        body_tokens=index_text(body_text + ("\n" + extra_index_text if extra_index_text else "")),
        codes_tokens=document_codes_text(codes or []),
    )


def upsert_doc(
    session: Session,
    *,
    doc_type: str,
    doc_id: int,
    existing: dict[tuple[str, int], SearchDoc] | None = None,
    **fields: Any,
) -> None:
    """Insert or replace the search document of one object (the FTS index follows by trigger);
    ``fields`` are those of :func:`doc_values`. ``existing`` (bulk re-indexing) maps
    (doc_type, doc_id) to loaded documents, saving a query each."""
    values = doc_values(**fields)
    if existing is not None:
        doc = existing.get((doc_type, doc_id))
    else:
        doc = session.scalar(select(SearchDoc).where(SearchDoc.doc_type == doc_type, SearchDoc.doc_id == doc_id))
    if doc is None:
        session.add(SearchDoc(doc_type=doc_type, doc_id=doc_id, **values))
    else:
        for k, v in values.items():
            setattr(doc, k, v)
    bump_generation()


def insert_docs(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk insert of new search documents: ``doc_type``, ``doc_id`` and :func:`doc_values` each."""
    if rows:
        session.execute(insert(SearchDoc), rows)
        bump_generation()


def remove_doc(session: Session, doc_type: str, doc_id: int) -> None:
    session.execute(delete(SearchDoc).where(SearchDoc.doc_type == doc_type, SearchDoc.doc_id == doc_id))
    bump_generation()


# --- querying -----------------------------------------------------------------------------------


@dataclass
class Filters:
    category: str | None = None
    module: str | None = None
    lang: str | None = None
    doc_type: str | None = None

    def sql(self, params: dict[str, Any]) -> str:
        parts = []
        for name in ("category", "module", "lang", "doc_type"):
            value = getattr(self, name)
            if value:
                parts.append(f"d.{name} = :f_{name}")
                params[f"f_{name}"] = value
        return (" AND " + " AND ".join(parts)) if parts else ""


def _exact_doc_ids(session: Session, plan: QueryPlan, filters: Filters) -> list[int]:
    """Search documents of articles about an error code named in the query (catalogue links too)."""
    if not plan.code_keys:
        return []
    from imdesk.kb.models import Article, ArticleCode

    article_ids = set(
        session.scalars(select(ArticleCode.article_id).where(ArticleCode.code_key.in_(plan.code_keys))).all()
    )
    if not article_ids:
        # a mistyped code (ERR_SDK_NOT_INITIALISED): the article codes one or two edits away
        from imdesk.kb.text import edit_distance

        known = session.scalars(select(ArticleCode.code_key).distinct()).all()
        near = [k for k in known for q in plan.code_keys
                if len(q) >= 6 and edit_distance(q, k, 2) <= (1 if len(q) < 12 else 2)]
        if near:
            article_ids = set(session.scalars(select(ArticleCode.article_id)
                                              .where(ArticleCode.code_key.in_(near))).all())
    linked = [e.kb for e in plan.codes if e.kb]
    if linked:
        article_ids |= set(session.scalars(select(Article.id).where(Article.slug.in_(linked))).all())
    if not article_ids:
        return []
    params: dict[str, Any] = {}
    where = filters.sql(params)
    stmt = text(
        f"SELECT d.id FROM kb_search_docs d WHERE d.doc_type = 'article' AND d.doc_id IN :ids{where}"
    ).bindparams(bindparam("ids", expanding=True))
    return [r[0] for r in session.execute(stmt, {"ids": sorted(article_ids), **params}).all()]


_COLS = (
    "d.id, d.doc_type, d.slug, d.title, d.lang, d.category, d.module, d.body_text, "
    "d.title_tokens, d.body_tokens, d.codes_tokens"
)
RERANK_DEPTH = 40
BODY_PASS_WEIGHTS = "1.0, 1.0, 1.0"  # bm25 weights of title, body, codes in the whole-text pass
TITLE_POSTINGS_BUDGET = 100_000  # the same for the title pass, by whole-text frequencies
POSTINGS_BUDGET = 20_000  # FTS5 scores every matching row: keep retrieval to about this many postings
# PostgreSQL: ts_rank reads every matching stored vector from the heap (3-5 us a row), so retrieval
# there keeps to fewer postings; ranking still scores all the terms. Mixed 100k corpus, MRR@10:
# 3k postings 0.830, 5k 0.845, 6k-10k 0.865 (10k: p95 about 130 ms); scoring only the kept terms
# instead of all: 0.818 at 5k.
PG_POSTINGS_BUDGET = 6_000
PG_EQUAL_WEIGHTS = "1.0, 1.0, 1.0, 1.0"  # ts_rank's weights of D (body), C, B (codes), A (title)
PG_BODY_PASS_WEIGHTS = PG_EQUAL_WEIGHTS  # equal, as BODY_PASS_WEIGHTS on SQLite
# (20k rather than 10k since the title pass is budgeted too: domain-only MRR@10 0.66 -> 0.72 within 30 ms)


def _sqlite_rank(session: Session, match: str, limit: int, filters: Filters, weights: str | None,
                 table: str = "kb_fts_docs") -> list[tuple]:
    params: dict[str, Any] = {"q": match, "n": limit}
    where = filters.sql(params)
    rank = f"bm25({table}, {weights})" if weights else "rank"
    if where:
        sql = (
            f"SELECT {_COLS}, {rank} AS r FROM {table} JOIN kb_search_docs d ON d.id = {table}.rowid "
            f"WHERE {table} MATCH :q{where} ORDER BY r LIMIT :n"
        )
    else:
        sql = (
            f"SELECT {_COLS}, f.r FROM (SELECT rowid AS id, {rank} AS r FROM {table} "
            f"WHERE {table} MATCH :q ORDER BY r LIMIT :n) f JOIN kb_search_docs d ON d.id = f.id ORDER BY f.r"
        )
    rows = session.execute(text(sql), params).all()
    return [(*row[:-1], -float(row[-1])) for row in rows]


def _pg_rank(session: Session, phrases: list[str], limit: int, filters: Filters, table: str,
             weights: str, rank_phrases: list[str] | None = None) -> list[tuple]:
    """Rank the stored vectors of ``table`` (``kb_fts_vectors``: whole text, title A / codes B /
    body D; ``kb_fts_title_vectors``: title A and codes B) matching any of ``phrases``; ``weights``
    are ts_rank's {D, C, B, A}.
    ``rank_phrases`` (default ``phrases``) are the terms scored: retrieval by the selective terms
    only, ranking by all of them (common words still add their small weight)."""
    if not phrases:
        return []
    params: dict[str, Any] = {"n": limit}

    def tsquery(prefix: str, terms: list[str]) -> str:
        for i, ph in enumerate(terms):
            params[f"{prefix}{i}"] = ph
        return " || ".join(f"phraseto_tsquery('simple', :{prefix}{i})" for i in range(len(terms)))

    match = tsquery("t", phrases)
    scored = tsquery("s", rank_phrases) if rank_phrases and rank_phrases != phrases else match
    where = filters.sql(params)
    rank = f"ts_rank('{{{weights}}}', v.tsv, q.s, 1)"
    cte = f"WITH q AS (SELECT ({match}) AS q, ({scored}) AS s) "
    if where:
        sql = (
            f"{cte}SELECT {_COLS}, {rank} AS r FROM {table} v JOIN kb_search_docs d ON d.id = v.id, q "
            f"WHERE v.tsv @@ q.q{where} ORDER BY r DESC, d.id LIMIT :n"
        )
    else:
        sql = (
            f"{cte}SELECT {_COLS}, f.r FROM (SELECT v.id, {rank} AS r FROM {table} v, q "
            f"WHERE v.tsv @@ q.q ORDER BY r DESC, v.id LIMIT :n) f JOIN kb_search_docs d ON d.id = f.id "
            "ORDER BY f.r DESC, d.id"
        )
    return [(*row[:-1], float(row[-1])) for row in session.execute(text(sql), params).all()]


_pg_stats_lock = threading.Lock()
_pg_stats_cache: dict[Any, tuple[float, dict[str, dict[str, int]]]] = {}
PG_STATS_TTL_S = 60.0


def _pg_element_stats(session: Session) -> dict[str, dict[str, int]]:
    """Estimated document frequencies of the common terms, per table of stored vectors, from the
    planner statistics of their ``tsv`` column (``most_common_elems``, up to 10,000 each,
    refreshed by ANALYZE: autovacuum, :func:`optimize_index`). A term not listed is rarer than the
    least common listed one; without statistics (a new, small table) nothing is listed."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    key = (str(getattr(engine, "url", "")), id(engine))
    now = time.monotonic()
    with _pg_stats_lock:
        cached = _pg_stats_cache.get(key)
        if cached and now - cached[0] < PG_STATS_TTL_S:
            return cached[1]
    rows = session.execute(text(
        "SELECT s.tablename, s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples "
        "FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename AND c.relkind = 'r' "
        "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname "
        "WHERE s.tablename IN ('kb_fts_vectors', 'kb_fts_title_vectors') AND s.attname = 'tsv' "
        "AND s.schemaname = current_schema()"
    )).all()
    stats: dict[str, dict[str, int]] = {}
    for table, elems, freqs, reltuples in rows:
        n = max(float(reltuples or 0), 0.0)
        if not elems or not freqs or n <= 0:
            continue
        # freqs: one per element, then the minimum, the maximum and the null fraction
        per = {str(e): max(1, int(f * n)) for e, f in zip(elems, freqs[: len(elems)], strict=False)}
        per[""] = max(1, int(float(freqs[len(elems)]) * n) // 2)  # below the least common listed term
        stats[str(table)] = per
    with _pg_stats_lock:
        _pg_stats_cache[key] = (now, stats)
    return stats


def _pg_df(session: Session, plan: QueryPlan, table: str) -> dict[str, int]:
    """Document frequency estimates of every token of the plan (1 when there are no statistics)."""
    per = _pg_element_stats(session).get(table, {})
    rare = per.get("", 1)
    return {t: per.get(t, rare) for g in plan.groups for ph in g for t in ph}


def _sqlite_df(session: Session, plan: QueryPlan) -> dict[str, int]:
    """Document frequencies (whole-text index) of every token of the plan."""
    tokens = sorted({t for g in plan.groups for ph in g for t in ph})
    if not tokens:
        return {}
    stmt = text("SELECT term, doc FROM kb_fts_vocab WHERE term IN :terms").bindparams(
        bindparam("terms", expanding=True)
    )
    return {str(t): int(n) for t, n in session.execute(stmt, {"terms": tokens}).all()}


def _sqlite_pruned(session: Session, plan: QueryPlan, budget: int = 0,
                   df: dict[str, int] | None = None) -> QueryPlan:
    if not plan.groups:
        return plan
    df = _sqlite_df(session, plan) if df is None else df
    return prune_for_budget(plan, df, budget or POSTINGS_BUDGET)


def _rows_by_id(session: Session, ids: list[int]) -> list[tuple]:
    if not ids:
        return []
    stmt = text(f"SELECT {_COLS} FROM kb_search_docs d WHERE d.id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    return list(session.execute(stmt, {"ids": ids}).all())


def search(
    session: Session,
    query: str,
    *,
    limit: int = 10,
    filters: Filters | None = None,
    profile: str | None = None,
    plain: bool = False,
    snippet_width: int = 160,
) -> SearchResult:
    """Search articles, videos and questions. ``plain=True`` is the jieba+BM25 baseline (bench)."""
    t0 = time.perf_counter()
    synonyms_for(None)  # same segmenter dictionary as at indexing time, also for the plain baseline
    filters = filters or Filters()
    limit = max(1, min(int(limit), 100))
    dialect = session.get_bind().dialect.name
    catalogue: Catalogue = load_catalogue(profile)
    if plain:
        plan = QueryPlan(query=query)
        plan.groups = [[(t,)] for t in query_terms(query)]
        plan.highlight = [t for g in plan.groups for ph in g for t in ph]
    else:
        plan = plan_query(query, synonyms=synonyms_for(profile), catalogue=catalogue, corrector=corrector_for(session))
    hits: dict[int, Hit] = {}
    rows: dict[int, tuple] = {}
    text_scores: dict[int, float] = {}
    exact_bonus: dict[int, float] = {}

    if not plain and plan.code_keys:
        canonical = {e.kb for e in plan.codes if e.kb}
        for row in _rows_by_id(session, _exact_doc_ids(session, plan, filters)):
            # the catalogue's own article for the code first, then other articles about it
            rows[row[0]] = row
            exact_bonus[row[0]] = EXACT_BOOST + (50.0 if row[2] in canonical else 0.0)
    depth = limit if plain else max(limit * 4, RERANK_DEPTH)
    passes: list[list[tuple]] = []
    if dialect == "sqlite":
        if plain:
            match = plain_fts5_match(query)
            passes.append(_sqlite_rank(session, match, depth, filters, "1.0, 1.0, 1.0") if match else [])
        else:
            full = fts5_match(plan)
            if full:
                # 1) every concept and synonym, in titles and codes only (few rows per term);
                # 2) the whole text with the rarest alternatives within a postings budget.
                df = _sqlite_df(session, plan)
                # the title pass is budgeted too (whole-text document frequencies over-estimate title
                # ones, so this only drops alternatives that are common words in titles as well):
                # on a large KB whose titles share the support vocabulary, OR-ing every synonym over
                # all titles was a third of the query time
                titles = fts5_match(_sqlite_pruned(session, plan, TITLE_POSTINGS_BUDGET, df)) or full
                passes.append(_sqlite_rank(session, titles, depth, filters, None, table="kb_fts_titles"))
                pruned = fts5_match(_sqlite_pruned(session, plan, POSTINGS_BUDGET, df))
                if pruned:
                    # equal column weights here: pass 1 and the coverage re-rank already reward
                    # title hits, and boosting titles a second time let short titles that merely
                    # mention a query word outrank the article whose body is about it (measured on
                    # the domain-only corpus: MRR@10 0.591 -> 0.66; mixed 0.803 -> 0.815).
                    passes.append(_sqlite_rank(session, pruned, depth, filters, BODY_PASS_WEIGHTS))
    elif plain:
        passes.append(_pg_rank(session, ts_terms(plan), depth, filters, "kb_fts_vectors", PG_EQUAL_WEIGHTS))
    elif plan.groups:
        # the same two passes as on SQLite, over the stored vectors, each pruned by the
        # document frequencies of its own table (ranking cost grows with the rows matched)
        every = ts_terms(plan)
        titles = prune_for_budget(plan, _pg_df(session, plan, "kb_fts_title_vectors"), TITLE_POSTINGS_BUDGET)
        passes.append(_pg_rank(session, ts_terms(titles) or every, depth, filters, "kb_fts_title_vectors",
                               PG_EQUAL_WEIGHTS, every))
        pruned = prune_for_budget(plan, _pg_df(session, plan, "kb_fts_vectors"), PG_POSTINGS_BUDGET)
        passes.append(_pg_rank(session, ts_terms(pruned), depth, filters, "kb_fts_vectors", PG_BODY_PASS_WEIGHTS,
                               every))
    for found in passes:
        top_pass = max((float(r[-1]) for r in found), default=0.0) or 1.0
        for row in found:
            rows.setdefault(row[0], row[:-1])
            text_scores[row[0]] = max(text_scores.get(row[0], 0.0), float(row[-1]) / top_pass)
    scores: dict[int, float] = {}
    for did, row in rows.items():
        base = text_scores.get(did, 0.0)
        scores[did] = base if plain else base + _coverage(plan, row) + exact_bonus.get(did, 0.0)
    order = sorted(scores, key=lambda d: (-scores[d], -text_scores.get(d, 0.0), d))[:limit]
    for did in order:
        row = rows[did]
        hits[did] = Hit(doc_type=row[1], slug=row[2], title=row[3], lang=row[4], category=row[5], module=row[6],
                        score=scores[did], snippet=row[7] or "", exact=did in exact_bonus)
    ranked = [hits[d] for d in order]
    for h in ranked:
        h.snippet = make_snippet(h.snippet, plan.highlight, width=snippet_width)
    return SearchResult(
        query=query, hits=ranked, codes=plan.codes, plan=plan, took_ms=(time.perf_counter() - t0) * 1000
    )



def _contains(tokens: set[str], joined: str, phrase: tuple[str, ...]) -> bool:
    if len(phrase) == 1:
        return phrase[0] in tokens
    return f" {' '.join(phrase)} " in joined


def _coverage(plan: QueryPlan, row: tuple) -> float:
    """Coordination-level features of the top candidates: how many query concepts a document
    covers (any synonym), how many in the user's own words, and how many in its title."""
    if not plan.groups:
        return 0.0
    title, body = row[8] or "", f"{row[9] or ''} {row[10] or ''}"
    t_tokens, b_tokens = set(title.split()), set(body.split()) | set(title.split())
    t_join, b_join = f" {title} ", f" {body} {title} "
    covered = original = in_title = 0
    for group in plan.groups:
        if any(_contains(b_tokens, b_join, ph) for ph in group):
            covered += 1
            if _contains(b_tokens, b_join, group[0]):
                original += 1
            if any(_contains(t_tokens, t_join, ph) for ph in group):
                in_title += 1
    n = len(plan.groups)
    return covered / n + 0.5 * original / n + 0.5 * in_title / n


def optimize_index(session: Session) -> None:
    """Merge the FTS5 index segments (SQLite) after bulk writes; a no-op on PostgreSQL.

    Incremental inserts leave many small b-tree segments that every query has to merge; at 100k
    documents an optimised index answers about twice as fast. PostgreSQL: move the GIN indexes'
    pending entries into the index proper (every query scans the pending list: 5 ms for 8k titles)
    and ANALYZE the stored vectors, whose element statistics decide which query terms are too
    common to retrieve by."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.flush()
        for table in ("kb_fts_vectors", "kb_fts_title_vectors"):
            session.execute(text(f"SELECT gin_clean_pending_list('ix_{table}_tsv'::regclass)"))
            session.execute(text(f"ANALYZE {table}"))
        with _pg_stats_lock:
            _pg_stats_cache.clear()
        return
    if dialect != "sqlite":
        return
    session.flush()
    session.execute(text("INSERT INTO kb_fts_docs(kb_fts_docs) VALUES ('optimize')"))
    session.execute(text("INSERT INTO kb_fts_titles(kb_fts_titles) VALUES ('optimize')"))
