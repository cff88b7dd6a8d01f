"""From a user's query to what the search backends run (pure; no database).

A :class:`QueryPlan` holds
- ``code_keys``: normalised error codes found in the query (exact matches rank first),
- ``groups``: one group per query concept, each a list of alternative phrases (token tuples):
  the original term first, then synonyms and typo corrections,
- ``highlight``: the surface strings to mark in snippets.

``fts5_match`` and ``ts_terms`` turn the plan into SQLite FTS5 / PostgreSQL tsquery input;
``make_snippet`` cuts a highlighted excerpt from the original text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from imdesk.kb.catalogue import Catalogue, ErrorCodeEntry
from imdesk.kb.text import (
    CODE_RE,
    Synonyms,
    TypoCorrector,
    code_token,
    extract_codes,
    extract_numbers,
    is_latin,
    is_stopword,
    normalize,
    tokenize,
)

MAX_QUERY_CHARS = 500
MAX_GROUPS = 16


@dataclass
class QueryPlan:
    query: str
    code_keys: list[str] = field(default_factory=list)
    codes: list[ErrorCodeEntry] = field(default_factory=list)
    groups: list[list[tuple[str, ...]]] = field(default_factory=list)
    highlight: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.groups and not self.code_keys


def code_key(code: str) -> str:
    """The key codes are matched on: upper-case letters and digits only (``ERRIM1002``)."""
    return re.sub(r"[^0-9A-Z]", "", str(code).upper())


def _surface(phrase: tuple[str, ...]) -> str:
    if all(is_latin(t) or t.isdigit() for t in phrase):
        return " ".join(phrase)
    return "".join(phrase)


def plan_query(
    query: str,
    *,
    synonyms: Synonyms | None = None,
    catalogue: Catalogue | None = None,
    corrector: TypoCorrector | None = None,
) -> QueryPlan:
    q = (query or "")[:MAX_QUERY_CHARS]
    plan = QueryPlan(query=q)
    keys: dict[str, None] = {}
    code_surfaces: list[str] = []
    for raw in extract_codes(q):
        entry = catalogue.get(raw) if catalogue else None
        if entry is None and catalogue is not None:
            near = catalogue.fuzzy(raw)
            entry = near[0] if len(near) == 1 else None
        if entry is not None:
            if entry not in plan.codes:
                plan.codes.append(entry)
            keys.setdefault(code_key(entry.code), None)
            code_surfaces.append(entry.code)
        keys.setdefault(code_key(raw), None)
        code_surfaces.append(raw)
    for num in extract_numbers(q):
        entry = catalogue.get(num) if catalogue else None
        if entry is not None:
            if entry not in plan.codes:
                plan.codes.append(entry)
            keys.setdefault(code_key(entry.code), None)
            code_surfaces.append(entry.code)
        keys.setdefault(code_key(num), None)
        code_surfaces.append(num)
    plan.code_keys = list(keys)

    tokens = tokenize(q)
    expanded = synonyms.expand(tokens) if synonyms else [(t, []) for t in tokens]
    seen: set[tuple[str, ...]] = set()
    for key, alts in expanded:
        phrase = tuple(key.split(" "))
        if len(phrase) == 1 and is_stopword(phrase[0]) and not alts:
            continue
        if phrase in seen:
            continue
        seen.add(phrase)
        group = [phrase, *[a for a in alts if a not in seen]]
        if corrector is not None and len(phrase) == 1 and is_latin(phrase[0]) and phrase[0] not in corrector:
            for fix in corrector.correct(phrase[0]):
                if (fix,) not in group:
                    group.append((fix,))
                    if synonyms:
                        for _, more in synonyms.expand([fix]):
                            group.extend(m for m in more if m not in group)
        for g in group:
            seen.add(g)
        plan.groups.append(group)
    # sub-tokens of codes (err, im, 1002) add noise once the code itself is a term
    code_parts = {
        t for c in code_surfaces for p in str(c).split("_") for t in tokenize(p) if t != code_token(c)
    }
    code_toks = {(code_token(c),) for c in code_surfaces}
    if code_toks:
        plan.groups = [g for g in plan.groups if not (len(g[0]) == 1 and g[0][0] in code_parts and g[0] not in code_toks)]
    plan.groups = plan.groups[:MAX_GROUPS]
    hl: dict[str, None] = {}
    for c in code_surfaces:
        hl.setdefault(c, None)
    for g in plan.groups:
        for ph in g:
            hl.setdefault(_surface(ph), None)
    plan.highlight = [h for h in hl if h]
    return plan


def _fts_phrase(phrase: tuple[str, ...]) -> str:
    # tokens are [0-9a-z]+ or CJK runs: nothing in them needs escaping inside double quotes
    return '"' + " ".join(phrase) + '"'


def fts5_match(plan: QueryPlan, *, extra_terms: Sequence[str] = ()) -> str | None:
    """An FTS5 MATCH expression: OR over every alternative of every group (bm25 ranks)."""
    parts: list[str] = []
    for g in plan.groups:
        parts.extend(_fts_phrase(ph) for ph in g)
    parts.extend(_fts_phrase((t,)) for t in extra_terms)
    if not parts:
        return None
    return " OR ".join(dict.fromkeys(parts))


def prune_for_budget(plan: QueryPlan, df: dict[str, int], budget: int) -> QueryPlan:
    """A copy of ``plan`` whose phrases together match at most about ``budget`` postings.

    Phrases are taken rarest first (a phrase's document frequency is estimated by its rarest token);
    phrases that match nothing are dropped; the rarest matching phrase is always kept. Very common
    words carry almost no bm25 weight but make the ranking scan most of a large index, so the full
    plan is still used for re-ranking the candidates, only retrieval uses the pruned one.
    """
    per_group: list[list[tuple[int, tuple[str, ...]]]] = []
    for group in plan.groups:
        alts = sorted((min((df.get(t, 0) for t in ph), default=0), ph) for ph in group)
        per_group.append([(est, ph) for est, ph in alts if est > 0])
    live = [i for i, g in enumerate(per_group) if g]
    keep: dict[int, list[tuple[str, ...]]] = {}
    if not live:
        pruned = QueryPlan(query=plan.query, code_keys=plan.code_keys, codes=plan.codes, highlight=plan.highlight)
        return pruned
    share = max(1, budget // len(live))
    total = 0
    # each concept first gets its rarest phrase, rarest concepts first, while the budget lasts
    for gi in sorted(live, key=lambda i: per_group[i][0][0]):
        est, ph = per_group[gi][0]
        if keep and total + est > budget:
            continue
        keep[gi] = [ph]
        total += est
    # then more alternatives (synonyms) of each kept concept within its share of the budget
    for gi in list(keep):
        used = per_group[gi][0][0]
        for est, ph in per_group[gi][1:]:
            if used + est > share or total + est > budget:
                break
            keep[gi].append(ph)
            used += est
            total += est
    pruned = QueryPlan(query=plan.query, code_keys=plan.code_keys, codes=plan.codes, highlight=plan.highlight)
    pruned.groups = [keep[gi] for gi in sorted(keep)]
    return pruned


def plain_fts5_match(query: str) -> str | None:
    """The baseline: plain jieba search-mode tokens OR-ed, no synonyms, codes or typo handling."""
    toks = [t for t in dict.fromkeys(tokenize(query)) if not is_stopword(t)]
    return " OR ".join(_fts_phrase((t,)) for t in toks) or None


def ts_terms(plan: QueryPlan) -> list[str]:
    """Phrases for PostgreSQL, each later wrapped in ``phraseto_tsquery('simple', ...)`` and OR-ed."""
    out: dict[str, None] = {}
    for g in plan.groups:
        for ph in g:
            out.setdefault(" ".join(ph), None)
    return list(out)


def highlight_regex(terms: Sequence[str]) -> re.Pattern[str] | None:
    alts = []
    for t in sorted({normalize(t) for t in terms if t and t.strip()}, key=len, reverse=True):
        if len(t) == 1 and t.isascii():
            continue
        esc = re.escape(t).replace(r"\ ", r"[\s_-]*")
        if t[0].isascii() and t[0].isalnum():
            esc = r"(?<![0-9a-z])" + esc
        alts.append(esc)
    if not alts:
        return None
    return re.compile("|".join(alts), re.IGNORECASE)


def make_snippet(text: str, terms: Sequence[str], width: int = 160) -> str:
    """An HTML-escaped excerpt of ``text`` around the densest cluster of ``terms``, each in <mark>."""
    text = re.sub(r"\s+", " ", text or "").strip()
    rx = highlight_regex(terms)
    # NFKC keeps most lengths; normalise only for finding, cut from the original when lengths agree
    hay = normalize(text)
    if len(hay) != len(text):
        hay = text.lower()
    matches = list(rx.finditer(hay)) if rx else []
    if not matches:
        cut = text[:width]
        return html.escape(cut) + ("…" if len(text) > width else "")
    best_start, best_score = matches[0].start(), -1
    for i, m in enumerate(matches):
        distinct = {mm.group(0).lower() for mm in matches[i:] if mm.start() < m.start() + width}
        if len(distinct) > best_score:
            best_score, best_start = len(distinct), m.start()
    start = max(0, best_start - width // 4)
    if start > 0:
        sp = text.rfind(" ", max(0, start - 15), start)
        start = sp + 1 if sp != -1 else start
    end = min(len(text), start + width)
    out: list[str] = ["…" if start > 0 else ""]
    pos = start
    for m in matches:
        if m.start() < start or m.end() > end or m.start() < pos:
            continue
        out.append(html.escape(text[pos : m.start()]))
        out.append("<mark>" + html.escape(text[m.start() : m.end()]) + "</mark>")
        pos = m.end()
    out.append(html.escape(text[pos:end]))
    if end < len(text):
        out.append("…")
    return "".join(out)


def document_codes_text(codes: Sequence[str]) -> str:
    """Index text of an article's codes: the code token plus the bare number."""
    toks: list[str] = []
    for c in codes:
        toks.append(code_token(c))
        m = re.search(r"(\d{3,6})$", c)
        if m:
            toks.append(m.group(1))
        if CODE_RE.fullmatch(c):
            toks.extend(tokenize(c.replace("_", " ")))
    return " ".join(dict.fromkeys(toks))


Analyzer = Callable[[str], QueryPlan]
