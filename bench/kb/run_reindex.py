"""Import and re-index 3,000 articles on SQLite (target: re-index < 10 s).

Generates 3,000 Markdown files with front matter (bodies of about 1,500 characters mixed from the
sentences of the im_server articles and everyday Chinese words), imports them with
``imdesk.kb.services.import_directory`` (parse, sanitise-free store, revisions, jieba, FTS5), imports
them again (idempotent: nothing changes), then times ``reindex_all``.

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


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        write_corpus(folder, N)
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        factory = make_session_factory(engine)
        with factory() as session:
            t, c = time.perf_counter(), time.process_time()
            first = services.import_directory(session, SYSTEM, folder)
            session.commit()
            import_s, import_cpu = time.perf_counter() - t, time.process_time() - c
        with factory() as session:
            t = time.perf_counter()
            again = services.import_directory(session, SYSTEM, folder)
            session.commit()
            reimport_s = time.perf_counter() - t
        with factory() as session:
            t, c = time.perf_counter(), time.process_time()
            n = services.reindex_all(session)
            session.commit()
            reindex_s, reindex_cpu = time.perf_counter() - t, time.process_time() - c
        engine.dispose()
    out = {
        "articles": N, "corpus_mb": round(size_mb, 1), "load_average_at_start": os.getloadavg()[0],
        "import_seconds": round(import_s, 2), "import_created": first.created, "import_errors": len(first.errors),
        "reimport_seconds": round(reimport_s, 2), "reimport_unchanged": again.unchanged,
        "reindex_seconds": round(reindex_s, 2), "reindex_cpu_seconds": round(reindex_cpu, 2),
        "import_cpu_seconds": round(import_cpu, 2), "load_average_at_end": os.getloadavg()[0], "reindexed_documents": n,
        "targets": {"reindex_seconds": 10, "import": "seconds"},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    sys.exit(main())
