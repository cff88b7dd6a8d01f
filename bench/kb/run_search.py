"""Knowledge-base search benchmark (SQLite, the embedded default; PostgreSQL with ``--pg URL``).

1. MRR@10 of imdesk's search vs plain jieba + BM25 (same FTS5 index, plain OR of jieba search-mode
   tokens, equal column weights, no codes/synonyms/typos/re-ranking) on the relevance set
   (tests/kb/relevance.yaml) over the articles the im_server profile ships.
2. The same after adding 100,000 generated distractor documents, and the per-query latency
   (p50/p95/max over every relevance query, 3 rounds, after one warm-up pass) at that size. Two distractor corpora:
   "mixed" (30 % support words, 70 % everyday Chinese from jieba's dictionary: closer to a real
   100k-article base) and "domain only" (every word from the support corpus: a harsh worst case).

With ``--pg URL`` (or ``KB_BENCH_PG_URL``) the same runs on PostgreSQL in a throw-away database on
that server (results in kb_search_pg.json); the plain baseline there ranks every row matching any
query token (no postings budget), so its latency shows what the budget saves.

The 100k distractors are written straight into kb_search_docs (the FTS5 index / the stored
tsvectors of kb_fts_vectors follow by trigger)
with tokens drawn by frequency from the vocabularies above, so they compete for the same words;
going through jieba for 100k generated texts would only measure jieba. Queries go through the full
search path (query plan, synonyms, typo vocabulary, FTS5 bm25, re-ranking, snippets).

Writes bench/results/kb_search.json.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ruamel.yaml import YAML
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from imdesk.core.db import make_engine, make_session_factory  # noqa: E402
from imdesk.kb.demo import load_profile_articles  # noqa: E402
from imdesk.kb.relevance import load_judged, mrr_at_k  # noqa: E402
from imdesk.kb.search import optimize_index, search  # noqa: E402
from imdesk.migrations import upgrade  # noqa: E402

N_DISTRACTORS = 100_000
RESULTS = ROOT / "bench" / "results" / "kb_search.json"


def judged():
    data = YAML(typ="safe").load((ROOT / "tests" / "kb" / "relevance.yaml").read_text(encoding="utf-8"))
    return load_judged(data)


def evaluate(session, queries) -> dict:
    ours, rr_ours = mrr_at_k(queries, lambda q: [h.slug for h in search(session, q, limit=10).hits])
    plain, rr_plain = mrr_at_k(queries, lambda q: [h.slug for h in search(session, q, limit=10, plain=True).hits])
    return {"mrr10_imdesk": round(ours, 4), "mrr10_plain_jieba_bm25": round(plain, 4),
            "found_in_top10_imdesk": sum(1 for r in rr_ours if r > 0),
            "found_in_top10_plain": sum(1 for r in rr_plain if r > 0), "queries": len(queries)}


def general_vocabulary(limit: int = 60_000) -> tuple[list[str], list[float]]:
    """Everyday Chinese words with their corpus frequencies, from jieba's own dictionary."""
    import jieba

    words: list[tuple[int, str]] = []
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit() and all("\u4e00" <= ch <= "\u9fff" for ch in parts[0]):
                words.append((int(parts[1]), parts[0]))
    words.sort(reverse=True)
    words = words[:limit]
    return [w for _, w in words], [float(f) for f, _ in words]


def add_distractors(session, n: int, seed: int = 7, domain_share: float = 0.3) -> float:
    """``n`` generated documents: ``domain_share`` of their words from the support corpus (Zipf by
    rank), the rest everyday Chinese by jieba frequency. ``domain_share=1`` is the harsh variant."""
    rng = random.Random(seed)
    vocab_rows = session.execute(text("SELECT title_tokens, body_tokens FROM kb_search_docs")).all()
    counts: dict[str, int] = {}
    for t, b in vocab_rows:
        for tok in f"{t} {b}".split():
            counts[tok] = counts.get(tok, 0) + 1
    vocab = sorted(counts, key=lambda w: -counts[w])
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    general, gweights = general_vocabulary() if domain_share < 1 else ([], [])
    cum, gcum = list(itertools.accumulate(weights)), list(itertools.accumulate(gweights))
    codes = [f"errim{c}" for c in (1001, 1002, 1003, 1101, 2001, 3001, 5003, 6001)]

    def words(k: int) -> list[str]:
        n_dom = sum(1 for _ in range(k) if rng.random() < domain_share)
        out = rng.choices(vocab, cum_weights=cum, k=n_dom)
        if k - n_dom:
            out += rng.choices(general, cum_weights=gcum, k=k - n_dom)
        rng.shuffle(out)
        return out

    def text_of(toks: list[str]) -> str:
        return "".join(w if not w.isascii() else f" {w} " for w in toks).strip()

    t0 = time.perf_counter()
    batch = []
    for i in range(n):
        title = words(rng.randint(4, 9))
        body = words(rng.randint(60, 160))
        code = [rng.choice(codes)] if rng.random() < 0.1 else []
        batch.append({
            "doc_type": "article", "doc_id": 10_000_000 + i, "slug": f"gen-{i}", "title": text_of(title)[:300],
            "lang": "zh" if rng.random() < 0.7 else "en", "category": rng.choice(["module", "error_code", "scenario"]),
            "module": rng.choice(["push", "auth", "msg", "storage", "gateway", "cluster"]),
            "body_text": text_of(body), "title_tokens": " ".join(title), "body_tokens": " ".join(body),
            "codes_tokens": " ".join(code),
        })
        if len(batch) == 5000:
            _insert(session, batch)
            batch = []
    if batch:
        _insert(session, batch)
    session.commit()
    return time.perf_counter() - t0


def _insert(session, batch) -> None:
    session.execute(text(
        "INSERT INTO kb_search_docs (doc_type, doc_id, slug, title, lang, category, module, body_text, title_tokens, "
        "body_tokens, codes_tokens) VALUES (:doc_type, :doc_id, :slug, :title, :lang, :category, :module, :body_text, "
        ":title_tokens, :body_tokens, :codes_tokens)"), batch)


def percentile(values, p) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def measure(session, queries, rounds: int = 3, plain_baseline: bool = True) -> dict:
    per_query: dict[str, list[float]] = {}
    plain: list[float] = []
    cpu: list[float] = []
    for _round in range(rounds):
        for j in queries:
            t, c = time.perf_counter(), time.process_time()
            search(session, j.query, limit=10)
            per_query.setdefault(j.query, []).append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
    for _round in range(rounds if plain_baseline else 0):  # separately, so the two do not evict each other's pages
        for j in queries:
            t = time.perf_counter()
            search(session, j.query, limit=10, plain=True)
            plain.append((time.perf_counter() - t) * 1000)
    samples = [x for v in per_query.values() for x in v]
    medians = [statistics.median(v) for v in per_query.values()]
    out = {"samples": len(samples), "p50": round(statistics.median(samples), 2),
           "p95": round(percentile(samples, 95), 2), "p95_of_per_query_medians": round(percentile(medians, 95), 2),
           "max": round(max(samples), 2), "cpu_p50": round(statistics.median(cpu), 2),
           "cpu_p95": round(percentile(cpu, 95), 2), "load_average": os.getloadavg()[0]}
    if plain:
        out.update(plain_p50=round(statistics.median(plain), 2), plain_p95=round(percentile(plain, 95), 2))
    return out


@contextlib.contextmanager
def scratch_engine(pg_url: str | None) -> Iterator[Engine]:
    """A fresh migrated database: SQLite in a temporary folder, or a throw-away PostgreSQL database
    on the server of ``pg_url`` (created and dropped here)."""
    if not pg_url:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            upgrade(engine)
            yield engine
            engine.dispose()
        return
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"imdesk_kb_bench_{os.getpid()}"
    admin = create_engine(make_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(pg_url).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_corpus(queries, domain_share: float, pg_url: str | None = None) -> dict:
    with scratch_engine(pg_url) as engine:
        session = make_session_factory(engine)()
        t0 = time.perf_counter()
        report = load_profile_articles(session)
        session.commit()
        small = evaluate(session, queries)
        small["articles"] = report.created
        small["import_seconds"] = round(time.perf_counter() - t0, 2)
        gen_s = add_distractors(session, N_DISTRACTORS, domain_share=domain_share)
        t_opt = time.perf_counter()
        # what `imdesk kb import` / `imdesk kb reindex` do after bulk writes (SQLite: merge the FTS5
        # segments; PostgreSQL: ANALYZE kb_fts_vectors, whose statistics the postings budget reads)
        optimize_index(session)
        session.commit()
        if engine.dialect.name != "sqlite":
            session.close()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE kb_search_docs"))  # what autovacuum does soon after
                conn.execute(text("VACUUM kb_fts_vectors"))
                conn.execute(text("VACUUM kb_fts_title_vectors"))
            session = make_session_factory(engine)()
        optimize_s = time.perf_counter() - t_opt
        t_cold = time.perf_counter()
        search(session, "warm up 预热")
        cold_ms = (time.perf_counter() - t_cold) * 1000
        big = evaluate(session, queries)  # also warms the database's and the OS's page caches
        lat = measure(session, queries)
        if engine.dialect.name != "sqlite":
            lat["cpu_note"] = "client process only; the ranking runs in the PostgreSQL server"
        lat["first_query_ms"] = round(cold_ms, 1)
        big["documents"] = session.execute(text("SELECT count(*) FROM kb_search_docs")).scalar()
        big["distractor_domain_word_share"] = domain_share
        big["generate_seconds"] = round(gen_s, 1)
        big["optimize_seconds"] = round(optimize_s, 2)
        if engine.dialect.name == "sqlite":
            engine_name = f"sqlite fts5 {session.execute(text('select sqlite_version()')).scalar()}"
        else:
            engine_name = session.execute(text("select version()")).scalar().split(" on ")[0] + " tsvector/GIN"
        session.close()
    return {"engine": engine_name, "profile_corpus": small, "at_100k": big, "latency_ms_at_100k": lat}


def main() -> int:
    """``--quick``: the mixed corpus only. ``--pg URL`` (or ``KB_BENCH_PG_URL``): PostgreSQL instead
    of SQLite, in a throw-away database on that server; results go to kb_search_pg.json."""
    args = sys.argv[1:]
    pg_url = os.environ.get("KB_BENCH_PG_URL") or None
    if "--pg" in args:
        i = args.index("--pg")
        if i + 1 >= len(args):
            print("run_search.py: error: --pg needs a database URL", file=sys.stderr)
            return 2
        pg_url = args[i + 1]
    queries = judged()
    out = {"load_average_at_start": os.getloadavg()[0], "cpus": os.cpu_count()}
    out["mixed_vocabulary"] = run_corpus(queries, 0.3, pg_url)
    print(json.dumps(out["mixed_vocabulary"], ensure_ascii=False, indent=2))
    if "--quick" not in args:
        out["domain_only_vocabulary"] = run_corpus(queries, 1.0, pg_url)
        print(json.dumps(out["domain_only_vocabulary"], ensure_ascii=False, indent=2))
    out["targets"] = {"p95_ms_at_100k": 30, "mrr10": "clearly above plain jieba+BM25"}
    results = RESULTS.with_name("kb_search_pg.json") if pg_url else RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
