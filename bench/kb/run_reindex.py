"""Import and re-index 3,000 articles on SQLite (target: re-index < 10 s).

Generates 3,000 Markdown files with front matter (bodies of about 1,500 characters mixed from the
sentences of the im_server articles and everyday Chinese words), imports them with
``imdesk.kb.services.import_directory`` (parse, sanitise-free store, revisions, jieba, FTS5) into
a fresh database twice, in this process alone and with worker processes (``KB_BENCH_WORKERS``,
default 2), imports them again (idempotent: nothing changes), then times ``reindex_all``. The search
documents of the serial import, the pooled import and the re-index must be identical (a SHA-256
digest of every document's tokens; the script fails otherwise).

Writes bench/results/kb_reindex.json.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from imdesk.accounts.services import SYSTEM  # noqa: E402
from imdesk.core.db import make_engine, make_session_factory  # noqa: E402
from imdesk.kb import services  # noqa: E402
from imdesk.migrations import upgrade  # noqa: E402
from imdesk.profiles import load_profile  # noqa: E402

N = 3000
RESULTS = ROOT / "bench" / "results" / "kb_reindex.json"


def sentences() -> list[str]:
    out: list[str] = []
    for p in (load_profile("im_server").root / "kb").rglob("*.md"):
        body = p.read_text(encoding="utf-8").split("---", 2)[2]
        out += [s.strip() for s in re.split(r"(?<=[。！？.!?])\s*|\n+", body) if len(s.strip()) > 8]
    return out


def write_corpus(folder: Path, n: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    pool = sentences()
    modules = ["push", "auth", "msg", "storage", "gateway", "cluster", "mq", "file"]
    for i in range(n):
        body_parts = []
        while sum(len(s) for s in body_parts) < 1500:
            body_parts.append(rng.choice(pool))
        codes = [f"ERR_IM_{rng.choice([1001, 1002, 2001, 3001, 5003, 6001])}"] if rng.random() < 0.3 else []
        lang = "zh" if rng.random() < 0.7 else "en"
        title = rng.choice(pool)[:60].replace('"', "'")
        text = (f"---\ntitle: \"{title} #{i}\"\ncategory: {rng.choice(['module', 'error_code', 'scenario'])}\n"
                f"module: {rng.choice(modules)}\nlang: {lang}\nerror_codes: [{', '.join(codes)}]\n"
                f"tags: [bench, t{i % 50}]\n---\n## 说明\n\n" + "\n\n".join(body_parts) + "\n")
        (folder / f"bench-{i:05d}.md").write_text(text, encoding="utf-8")


def index_digest(session) -> str:
    """SHA-256 over every search document (slug, tokens), in id order: equal digests mean the
    same index, so the same search results."""
    import hashlib

    from sqlalchemy import text

    h = hashlib.sha256()
    for row in session.execute(text("SELECT doc_type, slug, title, body_text, title_tokens, body_tokens, codes_tokens "
                                    "FROM kb_search_docs ORDER BY id")):
        h.update("\x1f".join(str(c) for c in row).encode() + b"\x1e")
    return h.hexdigest()


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def first_import(tmp: str, folder: Path, workers: int, name: str) -> dict:
    engine = make_engine(f"sqlite:///{tmp}/{name}.db")
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        t, c, w = time.perf_counter(), time.process_time(), _children_cpu()
        report = services.import_directory(session, SYSTEM, folder, workers=workers)
        session.commit()
        out = {"seconds": round(time.perf_counter() - t, 2), "main_process_cpu_seconds": round(time.process_time() - c, 2),
               "worker_cpu_seconds": round(_children_cpu() - w, 2), "created": report.created,
               "errors": len(report.errors), "index_sha256": index_digest(session)}
    engine.dispose()
    return out


def main() -> None:
    workers = int(os.environ.get("KB_BENCH_WORKERS", "2"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        write_corpus(folder, N)
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        load_start = os.getloadavg()[0]
        serial = first_import(tmp, folder, 1, "serial")
        pooled = first_import(tmp, folder, workers, "pooled")
        engine = make_engine(f"sqlite:///{tmp}/pooled.db")
        factory = make_session_factory(engine)
        with factory() as session:
            t = time.perf_counter()
            again = services.import_directory(session, SYSTEM, folder, workers=workers)
            session.commit()
            reimport_s = time.perf_counter() - t
        with factory() as session:
            t, c = time.perf_counter(), time.process_time()
            n = services.reindex_all(session)
            session.commit()
            reindex_s, reindex_cpu = time.perf_counter() - t, time.process_time() - c
            reindexed_digest = index_digest(session)
        engine.dispose()
    out = {
        "articles": N, "corpus_mb": round(size_mb, 1), "load_average_at_start": load_start,
        "import_serial": serial, f"import_{workers}_workers": pooled,
        "same_index": serial["index_sha256"] == pooled["index_sha256"] == reindexed_digest,
        "reimport_seconds": round(reimport_s, 2), "reimport_unchanged": again.unchanged,
        "reindex_seconds": round(reindex_s, 2), "reindex_cpu_seconds": round(reindex_cpu, 2),
        "load_average_at_end": os.getloadavg()[0], "reindexed_documents": n,
        "targets": {"reindex_seconds": 10, "import": "seconds"},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))
    if not out["same_index"]:
        print("index differs between serial import, pooled import and re-index", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
