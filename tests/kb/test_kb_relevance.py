"""The relevance set against the articles the im_server profile ships: our search must rank the
expected article high, and clearly better than plain jieba + BM25 on the same index."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from imdesk.kb.demo import load_profile_articles
from imdesk.kb.relevance import load_judged, mrr_at_k, reciprocal_rank
from imdesk.kb.search import search

JUDGED = load_judged(YAML(typ="safe").load((Path(__file__).parent / "relevance.yaml").read_text(encoding="utf-8")))


def test_reciprocal_rank():
    assert reciprocal_rank(["a", "b", "c"], ["c"]) == pytest.approx(1 / 3)
    assert reciprocal_rank(["a"], ["z"]) == 0.0
    assert reciprocal_rank(["x"] * 10 + ["z"], ["z"]) == 0.0


def test_relevance_set_beats_plain_bm25(session):
    report = load_profile_articles(session)
    assert report.created >= 60 and not report.errors
    session.flush()

    def ours(q: str) -> list[str]:
        return [h.slug for h in search(session, q, limit=10).hits]

    def plain(q: str) -> list[str]:
        return [h.slug for h in search(session, q, limit=10, plain=True).hits]

    mrr, rrs = mrr_at_k(JUDGED, ours)
    base, _ = mrr_at_k(JUDGED, plain)
    misses = [j.query for j, rr in zip(JUDGED, rrs, strict=True) if rr == 0]
    assert mrr >= 0.75, f"MRR@10 {mrr:.3f}; not found: {misses}"
    assert mrr >= base + 0.05, f"ours {mrr:.3f} vs plain {base:.3f}"
