"""The structured admin editors of SLA policies, keyword classification rules and priority rules:
form fields <-> the JSON the desk stores (the same JSON the raw editors and ``services.do_update_policy`` /
``do_update_rule_set`` take), with validation errors per field.

Pure (no database, no web): the views pass the submitted form as ``{name: [values]}`` and get back
an editor state holding what was typed, the errors next to each field name and, when there are no
errors, the JSON to store. Nothing is stored while any field is wrong, and the state re-renders
every value as typed, so a mistake never loses the rest of the admin's input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imdesk.desk.priority import _LEVEL_RANK
from imdesk.desk.sla import KINDS, PRIORITIES

MAX_MINUTES = 525_600  # one year
MAX_WEIGHT = 100.0
KEYWORD_MAX = 100
POLICY_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CODE = re.compile(r"ERR_IM_(\d{0,4})([X*]*)")

Form = Mapping[str, Sequence[str]]
FieldError = tuple[str, dict[str, Any]]  # (English message, its parameters): translated where shown


def _e(msg: str, **params: Any) -> FieldError:
    return msg, params


def _first(form: Form, key: str) -> str:
    vals = form.get(key) or [""]
    return str(vals[0] if vals else "").strip()


def _int_minutes(raw: str) -> tuple[int | None, FieldError | None]:
    if not raw:
        return None, _e("required")
    if not re.fullmatch(r"\d{1,9}", raw):
        return None, _e("a whole number of minutes")
    v = int(raw)
    if v <= 0:
        return None, _e("must be more than 0")
    if v > MAX_MINUTES:
        return None, _e("at most {n} (one year)", n=MAX_MINUTES)
    return v, None


def _number(raw: str, *, low: float, high: float, allow_zero: bool = False) -> tuple[float | None, FieldError | None]:
    if not raw:
        return None, _e("required")
    try:
        v = float(raw)
    except ValueError:
        return None, _e("a number")
    if v != v or v in (float("inf"), float("-inf")):
        return None, _e("a number")
    if v < low or (v == low and not allow_zero) or v > high:
        return None, _e("between {low} and {high}", low=f"{low:g}", high=f"{high:g}")
    return (int(v) if v.is_integer() else v), None


# --------------------------------------------------------------------------------------------
# SLA policies

@dataclass
class PolicyEditor:
    """One SLA policy form: ``values`` by field name (``name``, ``plan``, ``calendar``, ``title_en``,
    ``title_zh``, ``P0.first_response`` … ``P3.clock``), ``errors`` by the same names."""

    values: dict[str, str]
    is_new: bool = False
    errors: dict[str, FieldError] = field(default_factory=dict)
    data: dict[str, Any] | None = None  # the JSON to store, when valid
    saved: bool = False

    @property
    def name(self) -> str:
        return self.values.get("name", "")

    @property
    def dom_id(self) -> str:
        return "policy-new" if self.is_new else f"policy-{self.name}"


def policy_editor(data: Mapping[str, Any]) -> PolicyEditor:
    """The form of a stored policy (its JSON)."""
    title = data.get("title") or {}
    values = {"name": str(data.get("name") or ""), "plan": str(data.get("plan") or ""),
              "calendar": str(data.get("calendar") or "china"),
              "title_en": str(title.get("en", "")), "title_zh": str(title.get("zh", ""))}
    targets = data.get("targets") or {}
    for p in PRIORITIES:
        t = targets.get(p) or {}
        for k in KINDS:
            values[f"{p}.{k}"] = str(t.get(k, ""))
        values[f"{p}.clock"] = "24x7" if t.get("around_the_clock") else "business"
    return PolicyEditor(values=values)


def new_policy_editor() -> PolicyEditor:
    ed = policy_editor({"calendar": "china"})
    ed.is_new = True
    return ed


def parse_policy_form(form: Form, *, existing: Mapping[str, Any] | None, calendars: Iterable[str],
                      taken_names: Iterable[str] = ()) -> PolicyEditor:
    """Validate a submitted policy form. ``existing`` is the stored JSON of the policy being edited
    (None for a new one); keys the form does not edit are kept as they are."""
    is_new = existing is None
    values = {k: _first(form, k) for k in ("name", "plan", "calendar", "title_en", "title_zh")}
    for p in PRIORITIES:
        for k in (*KINDS, "clock"):
            values[f"{p}.{k}"] = _first(form, f"{p}.{k}")
    ed = PolicyEditor(values=values, is_new=is_new)
    err = ed.errors
    if is_new:
        if not POLICY_NAME.fullmatch(values["name"]):
            err["name"] = _e("lower-case letters, digits, - and _ (at most 64)")
        elif values["name"] in set(taken_names):
            err["name"] = _e("a policy of this name exists")
    else:
        values["name"] = str(existing.get("name") or values["name"])
    if len(values["plan"]) > 32 or _CONTROL.search(values["plan"]):
        err["plan"] = _e("at most {n} characters on one line", n=32)
    cals = set(calendars)
    if values["calendar"] not in cals:
        err["calendar"] = _e("one of {choices}", choices=", ".join(sorted(cals)))
    for key in ("title_en", "title_zh"):
        if len(values[key]) > 200 or _CONTROL.search(values[key]):
            err[key] = _e("at most {n} characters on one line", n=200)
    targets: dict[str, dict[str, Any]] = {}
    for p in PRIORITIES:
        t: dict[str, Any] = {}
        for k in KINDS:
            v, e = _int_minutes(values[f"{p}.{k}"])
            if e:
                err[f"{p}.{k}"] = e
            t[k] = v
        clock = values[f"{p}.clock"]
        if clock not in ("24x7", "business"):
            err[f"{p}.clock"] = _e("24x7 or business")
        t["around_the_clock"] = clock == "24x7"
        if t["first_response"] and t["resolution"] and t["first_response"] > t["resolution"]:
            err.setdefault(f"{p}.first_response", _e("longer than the resolution target"))
        targets[p] = t
    if err:
        return ed
    data = dict(existing or {})
    data.update({"name": values["name"], "plan": values["plan"] or None, "calendar": values["calendar"],
                 "targets": targets})
    title = dict(data.get("title") or {})
    title.update({"en": values["title_en"] or values["name"], "zh": values["title_zh"] or values["name"]})
    data["title"] = title
    ed.data = data
    return ed


# --------------------------------------------------------------------------------------------
# keyword classification rules

@dataclass
class RulesEditor:
    """The classification form: keyword rows (``kw``, ``w``, ``group``), error-code rows (``code``,
    ``code_group``) and the settings; errors keyed ``kw.3``, ``code.0``, ``title_boost`` …"""

    keywords: list[dict[str, str]]
    codes: list[dict[str, str]]
    settings: dict[str, str]
    errors: dict[str, FieldError] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    saved: bool = False


SETTINGS = ("title_boost", "min_score", "error_code_weight", "fallback_group")


def rules_editor(data: Mapping[str, Any]) -> RulesEditor:
    keywords = [{"kw": str(i.get("kw", "")), "w": str(i.get("w", 1)), "group": str(g)}
                for g, items in (data.get("rules") or {}).items() for i in (items or [])]
    codes = [{"code": str(k), "group": str(v)} for k, v in (data.get("error_code_hints") or {}).items()]
    settings = {"title_boost": str(data.get("title_boost", 2.0)), "min_score": str(data.get("min_score", 1.0)),
                "error_code_weight": str(data.get("error_code_weight", 6.0)),
                "fallback_group": str(data.get("fallback_group", "infrastructure"))}
    return RulesEditor(keywords=keywords, codes=codes, settings=settings)


def normalize_code(raw: str) -> str | None:
    """``ERR_IM_5``, ``err_im_5xxx`` or ``ERR_IM_5*`` -> the prefix ``ERR_IM_5``; None if not a code pattern."""
    m = _CODE.fullmatch(raw.strip().upper())
    if not m or len(m.group(1)) + len(m.group(2)) > 4:
        return None
    return f"ERR_IM_{m.group(1)}"


def parse_rules_form(form: Form, *, existing: Mapping[str, Any], groups: Iterable[str]) -> RulesEditor:
    """Validate the submitted classification form; keys it does not edit stay as stored. A keyword
    row with an empty keyword, and an error-code row with an empty pattern, are dropped (that is how
    rows are deleted without JavaScript)."""
    known = set(groups)
    kws, ws, kgroups = form.get("kw") or [], form.get("w") or [], form.get("group") or []
    codes, cgroups = form.get("code") or [], form.get("code_group") or []
    keywords = [{"kw": str(kws[i]).strip(), "w": str(ws[i] if i < len(ws) else "").strip(),
                 "group": str(kgroups[i] if i < len(kgroups) else "").strip()} for i in range(len(kws))]
    code_rows = [{"code": str(codes[i]).strip(), "group": str(cgroups[i] if i < len(cgroups) else "").strip()}
                 for i in range(len(codes))]
    settings = {k: _first(form, k) for k in SETTINGS}
    ed = RulesEditor(keywords=keywords, codes=code_rows, settings=settings)
    err = ed.errors
    rules: dict[str, list[dict[str, Any]]] = {}
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(keywords):
        if not row["kw"]:
            continue
        kw = " ".join(row["kw"].split())
        if len(kw) > KEYWORD_MAX or _CONTROL.search(row["kw"]):
            err[f"kw.{i}"] = _e("at most {n} characters on one line", n=KEYWORD_MAX)
        elif (row["group"], kw.lower()) in seen:
            err[f"kw.{i}"] = _e("listed twice for this group")
        seen.add((row["group"], kw.lower()))
        w, e = _number(row["w"], low=0, high=MAX_WEIGHT)
        if e:
            err[f"w.{i}"] = e
        if row["group"] not in known:
            err[f"group.{i}"] = _e("unknown group")
        if not err.keys() & {f"kw.{i}", f"w.{i}", f"group.{i}"}:
            rules.setdefault(row["group"], []).append({"kw": kw, "w": w})
    hints: dict[str, str] = {}
    for i, row in enumerate(code_rows):
        if not row["code"]:
            continue
        prefix = normalize_code(row["code"])
        if prefix is None:
            err[f"code.{i}"] = _e("like ERR_IM_5 or ERR_IM_5xxx")
        elif prefix in hints:
            err[f"code.{i}"] = _e("listed twice")
        if row["group"] not in known:
            err[f"code_group.{i}"] = _e("unknown group")
        if prefix and f"code.{i}" not in err and f"code_group.{i}" not in err:
            hints[prefix] = row["group"]
    numbers = {}
    for key, low, high, zero in (("title_boost", 0, 10, False), ("min_score", 0, 1000, True),
                                 ("error_code_weight", 0, MAX_WEIGHT, False)):
        v, e = _number(settings[key], low=low, high=high, allow_zero=zero)
        if e:
            err[key] = e
        numbers[key] = v
    if settings["fallback_group"] not in known:
        err["fallback_group"] = _e("unknown group")
    if err:
        return ed
    data = dict(existing)
    data.update({"rules": rules, "error_code_hints": hints, "fallback_group": settings["fallback_group"], **numbers})
    ed.data = data
    return ed


# --------------------------------------------------------------------------------------------
# priority rules (signals: id, dimension, level, keywords; the default priority)

# the levels that mean something to desk.priority.decide, per dimension (highest first)
LEVELS: dict[str, tuple[str, ...]] = {
    "security": ("incident",),
    "impact": tuple(reversed(_LEVEL_RANK["impact"])),
    "urgency": tuple(reversed(_LEVEL_RANK["urgency"])),
    "workaround": ("yes",),
    "nature": ("question",),
}
SIGNAL_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_KEYWORD_SPLIT = re.compile(r"[,，\n\r]+")


@dataclass
class PriorityEditor:
    """The priority form: signal rows (``id``, ``dimension``, ``level``, ``keywords`` as typed: comma
    or newline separated) and the default priority; errors keyed ``sig_id.2``, ``sig_level.0``,
    ``sig_keywords.1``, ``default`` …"""

    signals: list[dict[str, str]]
    default: str
    errors: dict[str, FieldError] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    saved: bool = False


def blank_signal(dimension: str = "impact") -> dict[str, str]:
    return {"id": "", "dimension": dimension, "level": LEVELS.get(dimension, ("",))[0], "keywords": ""}


def priority_editor(data: Mapping[str, Any]) -> PriorityEditor:
    signals = [{"id": str(s.get("id", "")), "dimension": str(s.get("dimension", "")), "level": str(s.get("level", "")),
                "keywords": ", ".join(str(k) for k in s.get("keywords") or [])}
               for s in data.get("signals") or [] if isinstance(s, Mapping)]
    return PriorityEditor(signals=signals, default=str(data.get("default") or "P2"))


def split_keywords(raw: str) -> list[str]:
    """``a, b`` / one per line / the Chinese comma -> the keywords, whitespace collapsed, empties dropped."""
    return [k for k in (" ".join(part.split()) for part in _KEYWORD_SPLIT.split(raw)) if k]


def parse_priority_form(form: Form, *, existing: Mapping[str, Any]) -> PriorityEditor:
    """Validate the submitted priority form; keys it does not edit stay as stored. A row with neither
    an id nor keywords is dropped (how rows are deleted without JavaScript)."""
    cols = {k: form.get(f"sig_{k}") or [] for k in ("id", "dimension", "level", "keywords")}
    rows = [{k: str(v[i] if i < len(v) else "").strip() for k, v in cols.items()} for i in range(len(cols["id"]))]
    ed = PriorityEditor(signals=rows, default=_first(form, "default"))
    err = ed.errors
    signals: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if not row["id"] and not row["keywords"]:
            continue
        if not SIGNAL_ID.fullmatch(row["id"]):
            err[f"sig_id.{i}"] = _e("lower-case letters, digits, - and _ (at most 64)")
        elif row["id"] in seen:
            err[f"sig_id.{i}"] = _e("listed twice")
        seen.add(row["id"])
        levels = LEVELS.get(row["dimension"])
        if levels is None:
            err[f"sig_dimension.{i}"] = _e("one of {choices}", choices=", ".join(LEVELS))
        elif row["level"] not in levels:
            err[f"sig_level.{i}"] = _e("one of {choices}", choices=", ".join(levels))
        keywords = split_keywords(row["keywords"])
        lowered = [k.lower() for k in keywords]
        if not keywords:
            err[f"sig_keywords.{i}"] = _e("at least one keyword")
        elif any(len(k) > KEYWORD_MAX or _CONTROL.search(k) for k in keywords):
            err[f"sig_keywords.{i}"] = _e("each keyword at most {n} characters", n=KEYWORD_MAX)
        elif len(set(lowered)) < len(lowered):
            err[f"sig_keywords.{i}"] = _e("a keyword is listed twice")
        signals.append({"id": row["id"], "dimension": row["dimension"], "level": row["level"], "keywords": keywords})
    if ed.default not in PRIORITIES:
        err["default"] = _e("one of {choices}", choices=", ".join(PRIORITIES))
    if err:
        return ed
    data = dict(existing)
    data.update({"default": ed.default, "signals": signals})
    ed.data = data
    return ed
