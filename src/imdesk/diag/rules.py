"""The declarative rule catalogue of a profile (``profiles/<name>/rules.yaml``), validated and compiled.

    >>> rs = load_rules(load_profile("im_server"))
    >>> [r.id for r in rs.match(record)]          # the log rules a record matches
    >>> rs.prefilter                              # literals a line must hold to match some log rule

The YAML file documents its own schema at its top. A rule inherits title, root cause, fix,
config keys and KB slug from the error catalogue entry of its first code, so product facts live in
one place (``error_codes.yaml``). Loading refuses a malformed catalogue with one clear
:class:`BadInput` naming the rule, never a traceback.

Regexes are matched case-insensitively for ASCII letters only (``re.IGNORECASE | re.ASCII``), so a
line's bytes lower-cased with ``bytes.lower()`` hold a rule's literal whenever the rule can match.
The required literals of every regex are derived from its syntax tree (:func:`required_literals`):
a set such that every match contains one of them. A rule whose regex has no such set of literals of
at least :data:`MIN_LITERAL` characters is listed in :attr:`RuleSet.unfiltered`; the analyser then
parses every line (the full path) rather than risk missing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from re import _constants as _sre
from re import _parser as _sre_parse
from typing import Any

from imdesk.core.errors import BadInput
from imdesk.diag.formats import Record
from imdesk.diag.timeutil import parse_duration

SEVERITIES = ("critical", "error", "warning", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}  # 0 = most severe
DEFAULT_WEIGHTS = {"critical": 1000, "error": 100, "warning": 10, "info": 1}


@dataclass
class Rule:
    id: str
    title: str
    title_zh: str
    severity: str
    codes: frozenset[str]
    regex: re.Pattern[str] | None
    template: re.Pattern[str] | None
    prefilter: tuple[str, ...]
    modules: frozenset[str]
    threshold_count: int
    threshold_window: float  # seconds
    isolated: str
    root_cause: str
    fix: str
    fix_zh: str
    config_keys: list[str]
    kb: list[str]
    explains: list[str]
    root_cause_zh: str = ""
    informational: bool = False
    explains_within: float = 900.0  # seconds: a symptom must start within this of the cause's span


@dataclass
class ConfigRule:
    id: str
    title: str
    title_zh: str
    check: dict[str, Any]
    confirms: list[str]
    severity: str
    severity_latent: str
    code: str | None
    root_cause: str
    fix: str
    config_keys: list[str]
    kb: list[str]
    root_cause_zh: str = ""
    fix_zh: str = ""


@dataclass
class RuleSet:
    rules: list[Rule]
    config_rules: list[ConfigRule]
    weights: dict[str, int]
    window: float
    config_defaults: dict[str, Any]
    catalogue: dict[str, dict[str, Any]]
    by_id: dict[str, Rule] = field(default_factory=dict)
    by_code: dict[str, list[Rule]] = field(default_factory=dict)
    regex_rules: list[Rule] = field(default_factory=list)
    template_rules: list[Rule] = field(default_factory=list)
    prefilter: tuple[str, ...] = ()
    unfiltered: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.by_id = {r.id: r for r in self.rules}
        for r in self.rules:
            for c in r.codes:
                self.by_code.setdefault(c, []).append(r)
            if r.regex is not None:
                self.regex_rules.append(r)
            if r.template is not None:
                self.template_rules.append(r)
        lits: list[str] = []
        for r in self.regex_rules:
            for p in r.prefilter:
                if p not in lits:
                    lits.append(p)
        self.prefilter = tuple(lits)
        # a regex rule without safe literals: the analyser must parse every line
        self.unfiltered = tuple(r.id for r in self.regex_rules if not r.prefilter)
        self._blits = {p: _lower_bytes(p) for p in lits}
        self._lits_re = (re.compile(b"|".join(re.escape(b) for b in sorted(set(self._blits.values()), key=len,
                                                                           reverse=True)))
                         if lits else None)
        self._rule_lits = [(r, frozenset(r.prefilter)) for r in self.regex_rules]

    def line_literals(self) -> tuple[str, ...]:
        """What a raw line must hold to match some log rule: the regex rules' literals and the codes.

        A code rule matches when the record's code *is* one of its codes, so the code itself is a
        required literal. Template rules need none: they only see records of level WARN and above
        or records another rule matched, which the analyser selects anyway.
        """
        out = list(self.prefilter)
        for c in sorted(self.by_code):
            low = c.lower()
            if low not in out:
                out.append(low)
        return tuple(out)

    def match(self, rec: Record) -> list[tuple[Rule, str | None]]:
        """``(rule, target)`` for each log rule the record matches (target: a captured address)."""
        out: list[tuple[Rule, str | None]] = []
        if rec.code:
            for r in self.by_code.get(rec.code, ()):
                if not r.modules or rec.module in r.modules:
                    out.append((r, None))
        if self._lits_re is not None or self.unfiltered:
            text = rec.text
            found = self._present(_lower_bytes(text)) if self._lits_re is not None else set()
            if not found and not self.unfiltered:
                return out
            for r, lits in self._rule_lits:
                if (lits and not (found & lits)) or any(out_r is r for out_r, _ in out):
                    continue
                if r.modules and rec.module not in r.modules:
                    continue
                m = r.regex.search(text)  # type: ignore[union-attr]
                if m is not None:
                    target = m.groupdict().get("target") if m.re.groupindex else None
                    out.append((r, target))
        return out

    def _present(self, low: bytes) -> set[str]:
        """The literals in an ASCII-lower-cased text (overlapping ones included)."""
        assert self._lits_re is not None
        if self._lits_re.search(low) is None:
            return set()
        return {x for x, b in self._blits.items() if b in low}


# -- required literals ------------------------------------------------------------------------------
MIN_LITERAL = 3  # shorter literals select too many lines to be worth it: such a rule is "unfiltered"
_MAX_SET = 64  # the most alternatives a literal set may have before it is given up
_MAX_CLASS = 10  # a character class of more characters is "any character"
_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}


def _lower_bytes(text: str) -> bytes:
    """UTF-8 bytes with ASCII letters lower-cased (what ``bytes.lower()`` does to a raw line)."""
    return text.encode("utf-8", "surrogatepass").lower()


def _lower(text: str) -> str:
    """ASCII letters lower-cased, every other character kept (``re.ASCII`` case folding)."""
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class _Lits:
    exact: frozenset[str] | None  # every string the node can match (None: too many or unknown)
    cover: frozenset[str] | None  # every match contains one of these (None: unknown)


def _quality(lits: frozenset[str] | None) -> tuple[int, int]:
    if lits is None:
        return (-1, 0)
    return (min((len(x) for x in lits), default=1 << 30), -len(lits))


def _best(*cands: frozenset[str] | None) -> frozenset[str] | None:
    best = max(cands, key=_quality)
    return best if best is not None else None


def _product(a: frozenset[str], b: frozenset[str]) -> frozenset[str] | None:
    if len(a) * len(b) > _MAX_SET:
        return None
    return frozenset(x + y for x in a for y in b)


def _seq(items: Any) -> _Lits:
    exact: frozenset[str] | None = frozenset({""})
    run: frozenset[str] | None = frozenset({""})
    cands: list[frozenset[str] | None] = []
    for op, av in items:
        info = _node(op, av)
        cands.append(info.cover)
        if info.exact is None:
            cands.append(run)
            run = frozenset({""})
            exact = None
            continue
        joined = _product(run, info.exact) if run is not None else None
        if joined is None:  # too many combinations: keep what the run had, start again
            cands.append(run)
            joined = info.exact
        run = joined
        if exact is not None:
            exact = _product(exact, info.exact)
    cands.append(run)
    return _Lits(exact, _best(*cands))


def _branch(seqs: list[Any]) -> _Lits:
    infos = [_seq(s) for s in seqs]
    exact: frozenset[str] | None = None
    if all(i.exact is not None for i in infos):
        u = frozenset().union(*(i.exact for i in infos))  # type: ignore[misc]
        exact = u if len(u) <= _MAX_SET else None
    covers = [_best(i.cover, i.exact) for i in infos]
    cover = frozenset().union(*covers) if all(c is not None for c in covers) else None  # type: ignore[misc]
    return _Lits(exact, cover)


def _class(items: Any) -> frozenset[str] | None:
    chars: set[str] = set()
    for op, av in items:
        if op is _sre.LITERAL:
            chars.add(_lower(chr(av)))
        elif op is _sre.RANGE and av[1] - av[0] < _MAX_CLASS:
            chars.update(_lower(chr(c)) for c in range(av[0], av[1] + 1))
        else:  # NEGATE, CATEGORY (\d, \s...), a wide range
            return None
    return frozenset(chars) if len(chars) <= _MAX_CLASS else None


def _node(op: Any, av: Any) -> _Lits:
    if op is _sre.LITERAL:
        return _Lits(frozenset({_lower(chr(av))}), None)
    if op is _sre.IN:
        return _Lits(_class(av), None)
    if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):  # zero-width: matches the empty string here
        return _Lits(frozenset({""}), None)
    if op is _sre.SUBPATTERN:
        return _seq(av[-1])
    if op is _sre.ATOMIC_GROUP:
        return _seq(av)
    if op is _sre.BRANCH:
        return _branch(av[1])
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
        lo, hi, sub = av
        info = _seq(sub)
        if lo == 0:
            opt = info.exact | {""} if hi == 1 and info.exact is not None else None
            return _Lits(opt, None)
        exact = None
        if lo == hi and info.exact is not None and len(info.exact) ** lo <= _MAX_SET:
            exact = frozenset({""})
            for _ in range(lo):
                exact = _product(exact, info.exact)  # type: ignore[arg-type]
        return _Lits(exact, _best(info.cover, info.exact))
    # ANY, NOT_LITERAL, CATEGORY, GROUPREF, GROUPREF_EXISTS...: anything, as far as we know
    return _Lits(None, None)


def required_literals(pattern: re.Pattern[str]) -> tuple[str, ...]:
    """Literals (ASCII-lower-cased) such that every match of ``pattern`` contains one of them.

    Derived from the regex's syntax tree: runs of literal characters, small character classes and
    alternations are expanded into sets of strings; optional parts (``?``, ``*``, ``{0,n}``) give
    nothing; a repeated part (``+``, ``{n,m}``) gives what it holds; of the candidates in a
    sequence the one whose shortest literal is longest wins; every branch of an alternation must
    give one. A literal spanning a line break keeps its longest line-free piece (rules see a record
    with its continuation lines joined by ``\\n``). Empty when there is no safe set with literals of
    at least :data:`MIN_LITERAL` characters.
    """
    tree = _sre_parse.parse(pattern.pattern, pattern.flags)
    info = _seq(tree)
    lits = _best(info.cover, info.exact)
    if lits is None:
        return ()
    pieces = set()
    for x in lits:
        pieces.add(max(x.split("\n"), key=len) if "\n" in x else x)
    if not pieces or min(len(x) for x in pieces) < MIN_LITERAL:
        return ()
    # a literal holding another one is redundant: a line with it holds the shorter one too
    return tuple(sorted(x for x in pieces if not any(y != x and y in x for y in pieces)))


def _bilingual(value: Any, lang: str) -> str:
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("en") or "")
    return str(value or "")


def _str_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"{where}: expected a list of strings")
    return list(value)


def _compile(pattern: Any, where: str) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    if not isinstance(pattern, str):
        raise BadInput(f"{where}: regex must be a string")
    try:
        return re.compile(pattern, re.IGNORECASE | re.ASCII | re.MULTILINE)
    except re.error as exc:
        raise BadInput(f"{where}: invalid regex ({exc})") from None


def _severity(value: Any, where: str, default: str) -> str:
    v = value if value is not None else default
    if v not in SEVERITIES:
        raise BadInput(f"{where}: severity must be one of {', '.join(SEVERITIES)}, not {v!r}")
    return v


def _seconds(value: Any, where: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return parse_duration(str(value)).total_seconds()
    except BadInput:
        raise BadInput(f"{where}: invalid duration {value!r}") from None


def build_rules(data: Any, catalogue_data: Any) -> RuleSet:
    """A :class:`RuleSet` from parsed ``rules.yaml`` and ``error_codes.yaml``."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise BadInput("rules.yaml: expected a mapping with a 'rules' list")
    catalogue: dict[str, dict[str, Any]] = {}
    if isinstance(catalogue_data, dict):
        for entry in catalogue_data.get("codes") or []:
            if isinstance(entry, dict) and isinstance(entry.get("code"), str):
                catalogue[entry["code"]] = entry
    window = _seconds(data.get("window"), "rules.yaml window", 300.0)
    correlation = _seconds(data.get("correlation_window"), "rules.yaml correlation_window", 900.0)
    weights = dict(DEFAULT_WEIGHTS)
    weights.update({k: int(v) for k, v in (data.get("severity_weights") or {}).items() if k in SEVERITIES})
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["rules"]):
        where = f"rules.yaml rule #{i + 1}"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise BadInput(f"{where}: every rule needs a string 'id'")
        rid = raw["id"]
        where = f"rules.yaml rule {rid}"
        if rid in seen:
            raise BadInput(f"{where}: duplicate id")
        seen.add(rid)
        codes = _str_list(raw.get("codes"), where + " codes")
        for c in codes:
            if c not in catalogue:
                raise BadInput(f"{where}: code {c} is not in the error catalogue")
        regex = _compile(raw.get("regex"), where)
        template = _compile(raw.get("template"), where + " template")
        if not codes and regex is None and template is None:
            raise BadInput(f"{where}: needs codes, regex or template")
        if "prefilter" in raw:
            raise BadInput(f"{where}: 'prefilter' is no longer written by hand: the literals a line must hold "
                           "are derived from the regex")
        prefilter = required_literals(regex) if regex is not None else ()
        cat = catalogue.get(codes[0], {}) if codes else {}
        threshold = raw.get("threshold") or {}
        if not isinstance(threshold, dict):
            raise BadInput(f"{where}: threshold must be a mapping {{count, window}}")
        kb = raw.get("kb", cat.get("kb"))
        rules.append(
            Rule(
                id=rid,
                title=str(raw.get("title") or _bilingual(cat.get("title"), "en") or rid),
                title_zh=str(raw.get("title_zh") or _bilingual(cat.get("title"), "zh") or ""),
                severity=_severity(raw.get("severity"), where, str(cat.get("severity") or "error")),
                codes=frozenset(codes),
                regex=regex,
                template=template,
                prefilter=prefilter,
                modules=frozenset(_str_list(raw.get("modules"), where + " modules")),
                threshold_count=int(threshold.get("count", 1)),
                threshold_window=_seconds(threshold.get("window"), where + " threshold window", window),
                isolated=_severity(raw.get("isolated"), where + " isolated", "warning"),
                root_cause=str(raw.get("root_cause") or " ".join(_bilingual_list(cat.get("causes"), "en"))),
                root_cause_zh=str(raw.get("root_cause_zh") or "".join(_bilingual_list(cat.get("causes"), "zh"))),
                fix=str(raw.get("fix") or _bilingual(cat.get("fix"), "en")),
                fix_zh=str(raw.get("fix_zh") or _bilingual(cat.get("fix"), "zh")),
                config_keys=_str_list(raw.get("config_keys", cat.get("config_keys")), where + " config_keys"),
                kb=[kb] if isinstance(kb, str) else _str_list(kb, where + " kb"),
                explains=_str_list(raw.get("explains"), where + " explains"),
                explains_within=_seconds(raw.get("explains_within"), where + " explains_within", correlation),
                informational=bool(cat.get("informational", False)),
            )
        )
    for r in rules:
        for e in r.explains:
            if e not in seen:
                raise BadInput(f"rules.yaml rule {r.id}: explains unknown rule {e}")
    config_rules: list[ConfigRule] = []
    for i, raw in enumerate(data.get("config_rules") or []):
        where = f"rules.yaml config rule #{i + 1}"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not isinstance(raw.get("check"), dict):
            raise BadInput(f"{where}: needs a string 'id' and a 'check' mapping")
        where = f"rules.yaml config rule {raw['id']}"
        kind = raw["check"].get("kind")
        if kind not in ("compare", "differs", "reached"):
            raise BadInput(f"{where}: check.kind must be compare, differs or reached")
        confirms = _str_list(raw.get("confirms"), where + " confirms")
        for c in confirms:
            if c not in seen:
                raise BadInput(f"{where}: confirms unknown rule {c}")
        code = raw.get("code")
        cat = catalogue.get(code, {}) if isinstance(code, str) else {}
        kb = raw.get("kb", cat.get("kb"))
        config_rules.append(
            ConfigRule(
                id=raw["id"],
                title=str(raw.get("title") or raw["id"]),
                title_zh=str(raw.get("title_zh") or ""),
                check=dict(raw["check"]),
                confirms=confirms,
                severity=_severity(raw.get("severity"), where, "error"),
                severity_latent=_severity(raw.get("severity_latent"), where, "warning"),
                code=code if isinstance(code, str) else None,
                root_cause=str(raw.get("root_cause") or ""),
                fix=str(raw.get("fix") or ""),
                root_cause_zh=str(raw.get("root_cause_zh") or ""),
                fix_zh=str(raw.get("fix_zh") or ""),
                config_keys=_str_list(raw.get("config_keys"), where + " config_keys"),
                kb=[kb] if isinstance(kb, str) else _str_list(kb, where + " kb"),
            )
        )
    defaults = data.get("config_defaults") or {}
    if not isinstance(defaults, dict):
        raise BadInput("rules.yaml: config_defaults must be a mapping")
    return RuleSet(rules, config_rules, weights, window, dict(defaults), catalogue)


def _bilingual_list(value: Any, lang: str) -> list[str]:
    if isinstance(value, dict):
        v = value.get(lang) or value.get("en") or []
        return [str(x) for x in v] if isinstance(v, list) else [str(v)]
    if isinstance(value, list):
        return [str(x) for x in value]
    return [str(value)] if value else []


def load_rules(profile) -> RuleSet:
    """The compiled catalogue of a profile (cached per profile root)."""
    key = str(profile.root)
    rs = _CACHE.get(key)
    if rs is None:
        catalogue = profile.data("error_codes") if profile.has("error_codes") else {}
        rs = build_rules(profile.data("rules"), catalogue)
        _CACHE[key] = rs
    return rs


_CACHE: dict[str, RuleSet] = {}
