"""Priority P0-P3 from impact x urgency (pure: no database, no web).

The signals (admin-editable, seeded from the profile's ``priority_rules.yaml``) are keyword lists
in four dimensions: ``security`` (incident), ``impact`` (all > many > some), ``urgency``
(down > degraded), ``workaround`` and ``nature`` (question). :func:`decide` applies the matrix
documented in the YAML file and returns the priority, the signals that fired and a reason, all of
which land on the ticket's timeline. A customer's suggested priority is recorded and the triage
may raise or lower it; the reason says which.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imdesk.core.errors import BadInput
from imdesk.desk.classify import Keyword, compile_keyword, keyword_hits, normalize, tokens

PRIORITIES = ("P0", "P1", "P2", "P3")
_LEVEL_RANK = {"impact": ["some", "many", "all"], "urgency": ["degraded", "down"]}


def parse_priority(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    v = str(value).strip().upper()
    if v not in PRIORITIES:
        raise BadInput(f"unknown priority {value!r}: expected one of P0, P1, P2, P3", field="priority")
    return v


@dataclass(frozen=True)
class Signal:
    id: str
    dimension: str
    level: str
    keywords: tuple[Keyword, ...]


@dataclass
class PriorityRules:
    signals: list[Signal]
    default: str = "P2"

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> PriorityRules:
        sigs = []
        for raw in cfg.get("signals") or []:
            sigs.append(Signal(
                id=str(raw["id"]),
                dimension=str(raw["dimension"]),
                level=str(raw.get("level", "")),
                keywords=tuple(compile_keyword(k, 1) for k in raw.get("keywords") or []),
            ))
        default = parse_priority(cfg.get("default", "P2")) or "P2"
        return cls(sigs, default)


@functools.lru_cache(maxsize=4)
def default_rules(profile: str | None = None) -> PriorityRules:
    from imdesk.profiles import load_profile

    return PriorityRules.from_config(load_profile(profile).data("priority_rules"))


@dataclass
class PriorityDecision:
    priority: str
    computed: str
    signals: list[str]
    reason: str
    suggested: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"priority": self.priority, "computed": self.computed, "suggested": self.suggested,
                "signals": self.signals, "reason": self.reason}


def fired_signals(rules: PriorityRules, title: str, description: str) -> list[Signal]:
    text = f"{title}\n{description}"
    norm = normalize(text)
    toks = set(tokens(text))
    return [s for s in rules.signals if keyword_hits(s.keywords, norm, toks)]


def decide(
    title: str, description: str, rules: PriorityRules | None = None, *, suggested: str | None = None,
    verified_org: bool = False,
) -> PriorityDecision:
    rules = rules or default_rules()
    suggested = parse_priority(suggested)
    fired = fired_signals(rules, title, description)
    dims: dict[str, str] = {}
    for s in fired:
        rank = _LEVEL_RANK.get(s.dimension)
        cur = dims.get(s.dimension)
        if cur is None or (rank and s.level in rank and cur in rank and rank.index(s.level) > rank.index(cur)):
            dims[s.dimension] = s.level
    impact, urgency = dims.get("impact"), dims.get("urgency")
    workaround = "workaround" in dims
    if "security" in dims:
        computed, why = "P0", "data-security incident"
    elif impact == "all" and urgency == "down":
        computed, why = "P0", "the IM system is unavailable for the whole organisation"
    elif impact == "all" or (impact == "many" and urgency in ("down", "degraded")) or (impact is None and urgency == "down"):
        if workaround:
            computed, why = "P2", "major function affected but a workaround exists"
        else:
            computed, why = "P1", "a major function broken or badly degraded for many users, no workaround"
    elif impact in ("many", "some") or urgency is not None:
        computed, why = "P2", "a function failing for some users" + (" (workaround exists)" if workaround else "")
    elif "nature" in dims:
        computed, why = "P3", "question, advice, feature request or commercial matter"
    else:
        computed, why = rules.default, "no impact or urgency signal: default priority"
    final, reason = computed, why
    if suggested and suggested != computed:
        # The customer's suggestion stands unless the text clearly contradicts it: security and
        # organisation-wide outages are never lowered; a suggested P0/P1 without any impact or
        # urgency signal is lowered to the computed priority.
        if PRIORITIES.index(suggested) < PRIORITIES.index(computed):  # customer suggests higher
            if impact or urgency or verified_org:
                final, reason = suggested, f"{why}; raised to the customer's suggested {suggested}"
            else:
                reason = f"{why}; customer suggested {suggested}, lowered to {computed} (no impact or urgency signal)"
        else:  # customer suggests lower
            if computed == "P0":
                reason = f"{why}; customer suggested {suggested}, kept {computed}"
            else:
                final, reason = suggested, f"{why}; lowered to the customer's suggested {suggested}"
    return PriorityDecision(final, computed, [f"{s.id}" for s in fired], reason, suggested)
