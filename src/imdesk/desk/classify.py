"""Automatic classification of tickets into support groups (pure: no database, no web).

Two parts, combined by :func:`classify`:

* **keyword rules** (admin-editable; seeded from the profile's ``classification.yaml``): the title
  and description are segmented with jieba (Chinese) and split into lower-cased words (English);
  a keyword that is one token must occur as a token, a phrase (several tokens) as a substring.
  Weights add up per group, the title counts ``title_boost`` times. Error codes in the text
  (``ERR_IM_5003``) add ``error_code_weight`` to the group of the error catalogue (its ``group:``
  field) or, failing that, of the longest matching prefix in ``error_code_hints``.
* a **learned model** (:class:`NaiveBayes`, multinomial naive Bayes on the same tokens) trained
  on resolved tickets and agents' overrides once there are enough of them; its accuracy is
  measured by k-fold cross-validation (:func:`cross_validate`).

The result names the group, the scores and the signals that fired, so the decision can be written
on the ticket's timeline.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imdesk.core.errors import BadInput

_WORD = re.compile(r"[a-z0-9][a-z0-9_+.\-]*", re.ASCII)
_CJK = re.compile(r"[\u3400-\u9fff]")
_ERR = re.compile(r"\bERR_IM_(\d{4})\b", re.IGNORECASE)
MAX_TEXT = 20_000  # characters looked at per field (a 1 MB description is refused earlier anyway)


@functools.lru_cache(maxsize=1)
def _tokenizer():
    """A private jieba tokenizer (so our dictionary tweaks never change other domains' search)."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    return tok


def normalize(text: str) -> str:
    return " ".join((text or "")[:MAX_TEXT].lower().split())


def tokens(text: str) -> list[str]:
    """jieba search-mode tokens of the CJK parts plus English words, lower-cased, no blanks."""
    text = normalize(text)
    out: list[str] = []
    if _CJK.search(text):
        for t in _tokenizer().lcut_for_search(text):
            t = t.strip()
            if t and (_CJK.search(t)):
                out.append(t)
    out.extend(_WORD.findall(text))
    return out


@dataclass(frozen=True)
class Keyword:
    text: str
    weight: float
    single_token: bool


def compile_keyword(kw: str, weight: float) -> Keyword:
    kw = normalize(str(kw))
    if not kw:
        raise BadInput("empty keyword in a classification rule")
    if _CJK.search(kw):
        single = len([t for t in _tokenizer().lcut(kw) if t.strip()]) == 1
        if single:
            _tokenizer().add_word(kw)  # keep admin keywords whole when segmenting
    else:
        single = bool(_WORD.fullmatch(kw))
    return Keyword(kw, float(weight), single)


def keyword_hits(keywords: Iterable[Keyword], text_norm: str, toks: set[str]) -> list[Keyword]:
    hits = []
    for k in keywords:
        if k.single_token:
            if k.text in toks:
                hits.append(k)
        elif k.text in text_norm:
            hits.append(k)
    return hits


def error_codes_in(text: str) -> list[str]:
    seen: list[str] = []
    for m in _ERR.finditer(text or ""):
        code = f"ERR_IM_{m.group(1)}"
        if code not in seen:
            seen.append(code)
    return seen


# --------------------------------------------------------------------------------------------
@dataclass
class RuleSet:
    rules: dict[str, list[Keyword]]
    code_hints: dict[str, str]
    catalogue_groups: dict[str, str] = field(default_factory=dict)
    title_boost: float = 2.0
    min_score: float = 1.0
    fallback_group: str = "infrastructure"
    error_code_weight: float = 6.0

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], catalogue: Mapping[str, Any] | None = None) -> RuleSet:
        rules: dict[str, list[Keyword]] = {}
        for group, items in (cfg.get("rules") or {}).items():
            rules[str(group)] = [compile_keyword(i["kw"], i.get("w", 1)) for i in items or []]
        cat_groups = {}
        for entry in (catalogue or {}).get("codes", []) or []:
            if entry.get("group"):
                cat_groups[str(entry["code"]).upper()] = str(entry["group"])
        return cls(
            rules=rules,
            code_hints={str(k).upper(): str(v) for k, v in (cfg.get("error_code_hints") or {}).items()},
            catalogue_groups=cat_groups,
            title_boost=float(cfg.get("title_boost", 2.0)),
            min_score=float(cfg.get("min_score", 1.0)),
            fallback_group=str(cfg.get("fallback_group", "infrastructure")),
            error_code_weight=float(cfg.get("error_code_weight", 6.0)),
        )

    def group_for_code(self, code: str) -> str | None:
        code = code.upper()
        if code in self.catalogue_groups:
            return self.catalogue_groups[code]
        best = None
        for prefix, group in self.code_hints.items():
            if code.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, group)
        return best[1] if best else None


@functools.lru_cache(maxsize=4)
def default_ruleset(profile: str | None = None) -> RuleSet:
    from imdesk.profiles import load_profile

    p = load_profile(profile)
    catalogue = p.data("error_codes") if p.has("error_codes") else {}
    return RuleSet.from_config(p.data("classification"), catalogue)


@dataclass
class Classification:
    group: str
    scores: dict[str, float]
    signals: list[str]
    method: str  # rules | model | rules+model | fallback
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "scores": {k: round(v, 3) for k, v in sorted(self.scores.items(), key=lambda kv: -kv[1])},
            "signals": self.signals,
            "method": self.method,
            "confidence": round(self.confidence, 3),
        }


def rule_scores(ruleset: RuleSet, title: str, description: str) -> tuple[dict[str, float], list[str]]:
    scores: dict[str, float] = defaultdict(float)
    signals: list[str] = []
    for part, text, boost in (("title", title, ruleset.title_boost), ("description", description, 1.0)):
        norm = normalize(text)
        toks = set(tokens(text))
        for group, kws in ruleset.rules.items():
            for k in keyword_hits(kws, norm, toks):
                scores[group] += k.weight * boost
                signals.append(f"{group}:{k.text}@{part}")
    for code in error_codes_in(f"{title}\n{description}"):
        g = ruleset.group_for_code(code)
        if g:
            scores[g] += ruleset.error_code_weight
            signals.append(f"{g}:{code}")
    return dict(scores), signals


def classify(
    title: str, description: str, ruleset: RuleSet | None = None, model: NaiveBayes | None = None,
    *, model_weight: float = 0.5,
) -> Classification:
    """The support group for a ticket, with the scores and fired signals."""
    ruleset = ruleset or default_ruleset()
    scores, signals = rule_scores(ruleset, title, description)
    total = sum(scores.values())
    rule_probs = {g: s / total for g, s in scores.items()} if total else {}
    if model is not None and model.ready:
        probs = model.predict_proba(f"{title}\n{description}")
        combined: dict[str, float] = defaultdict(float)
        for g, p in rule_probs.items():
            combined[g] += (1 - model_weight) * p
        for g, p in probs.items():
            combined[g] += (model_weight if rule_probs else 1.0) * p
        best = max(combined.items(), key=lambda kv: (kv[1], kv[0] == ruleset.fallback_group))
        top_model = max(probs.items(), key=lambda kv: kv[1])
        signals.append(f"model:{top_model[0]}={top_model[1]:.2f}")
        return Classification(best[0], dict(combined), signals, "rules+model" if rule_probs else "model", best[1])
    if not scores or max(scores.values()) < ruleset.min_score:
        return Classification(ruleset.fallback_group, scores, signals, "fallback", 0.0)
    # deterministic tie-break: higher score, then alphabetical group key
    group = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return Classification(group, scores, signals, "rules", rule_probs[group])


# --------------------------------------------------------------------------------------------
class NaiveBayes:
    """Multinomial naive Bayes over :func:`tokens`, with Laplace smoothing; JSON-serialisable."""

    def __init__(self, min_samples: int = 30) -> None:
        self.min_samples = min_samples
        self.class_docs: Counter[str] = Counter()
        self.class_tokens: dict[str, Counter[str]] = defaultdict(Counter)
        self.vocab: set[str] = set()

    @property
    def n_samples(self) -> int:
        return sum(self.class_docs.values())

    @property
    def ready(self) -> bool:
        return self.n_samples >= self.min_samples and len(self.class_docs) >= 2

    def fit(self, samples: Iterable[tuple[str, str]]) -> NaiveBayes:
        for text, label in samples:
            self.add(text, label)
        return self

    def add(self, text: str, label: str) -> None:
        toks = tokens(text)
        self.class_docs[label] += 1
        self.class_tokens[label].update(toks)
        self.vocab.update(toks)

    def predict_proba(self, text: str) -> dict[str, float]:
        if not self.class_docs:
            return {}
        toks = [t for t in tokens(text) if t in self.vocab]
        n = self.n_samples
        v = len(self.vocab) or 1
        logp: dict[str, float] = {}
        for label, docs in self.class_docs.items():
            counts = self.class_tokens[label]
            denom = sum(counts.values()) + v
            lp = math.log(docs / n)
            for t in toks:
                lp += math.log((counts.get(t, 0) + 1) / denom)
            logp[label] = lp
        m = max(logp.values())
        exp = {k: math.exp(x - m) for k, x in logp.items()}
        z = sum(exp.values())
        return {k: x / z for k, x in exp.items()}

    def predict(self, text: str) -> str | None:
        probs = self.predict_proba(text)
        return max(probs.items(), key=lambda kv: (kv[1], kv[0]))[0] if probs else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_samples": self.min_samples,
            "class_docs": dict(self.class_docs),
            "class_tokens": {k: dict(v) for k, v in self.class_tokens.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NaiveBayes:
        nb = cls(int(data.get("min_samples", 30)))
        nb.class_docs = Counter(data.get("class_docs", {}))
        for k, v in (data.get("class_tokens") or {}).items():
            nb.class_tokens[k] = Counter(v)
            nb.vocab.update(v)
        return nb


def cross_validate(samples: Sequence[tuple[str, str]], folds: int = 5) -> float | None:
    """k-fold accuracy of :class:`NaiveBayes` on ``samples`` (deterministic folds); None if too few."""
    if len(samples) < folds * 2:
        return None
    correct = 0
    for k in range(folds):
        train = [s for i, s in enumerate(samples) if i % folds != k]
        test = [s for i, s in enumerate(samples) if i % folds == k]
        nb = NaiveBayes(min_samples=0).fit(train)
        correct += sum(1 for text, label in test if nb.predict(text) == label)
    return correct / len(samples)
