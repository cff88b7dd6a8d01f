"""Relevance evaluation (MRR@10) shared by the relevance test and the benchmark."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Judged:
    query: str
    relevant: tuple[str, ...]


def reciprocal_rank(ranked: Sequence[str], relevant: Sequence[str], k: int = 10) -> float:
    rel = set(relevant)
    for i, slug in enumerate(ranked[:k], 1):
        if slug in rel:
            return 1.0 / i
    return 0.0


def mrr_at_k(judged: Sequence[Judged], run: Callable[[str], list[str]], k: int = 10) -> tuple[float, list[float]]:
    rrs = [reciprocal_rank(run(j.query), j.relevant, k) for j in judged]
    return (sum(rrs) / len(rrs) if rrs else 0.0), rrs


def load_judged(data: dict) -> list[Judged]:
    return [Judged(query=str(item["q"]), relevant=tuple(item["relevant"])) for item in data["queries"]]
