"""Cross-check of the ``im_config.yaml`` files found in a bundle, driven by ``config_rules``.

    >>> cfg = parse_config(text, name="bundle.tgz!node1/im_config.yaml", node="node1")
    >>> findings = check_configs(ruleset, [cfg, ...], log_hits)

Each config is read with ruamel.yaml in safe mode (line numbers kept for evidence). A secret
(``auth.jwt_secret``) is compared between nodes by a salted fingerprint and never shown.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from imdesk.core.errors import BadInput
from imdesk.diag.rules import ConfigRule, RuleSet
from imdesk.diag.timeutil import format_duration, parse_duration


@dataclass
class NodeConfig:
    name: str
    node: str
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def evidence(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.name}:{line}" if line else self.name


def _flatten(node: Any, prefix: str, values: dict[str, Any], lines: dict[str, int]) -> None:
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        path = f"{prefix}{key}"
        try:
            line = node.lc.key(key)[0] + 1  # ruamel's line/column, 0-based
            lines[path] = line
        except Exception:  # noqa: BLE001 - plain dicts have no position
            pass
        if isinstance(value, dict):
            _flatten(value, path + ".", values, lines)
        else:
            values[path] = value


def parse_config(text: str, *, name: str, node: str) -> NodeConfig:
    cfg = NodeConfig(name=name, node=node)
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True
    try:
        data = yaml.load(io.StringIO(text))
    except YAMLError as exc:
        cfg.error = f"not valid YAML ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        return cfg
    except Exception as exc:  # noqa: BLE001 - ruamel raises a few non-YAMLError types on garbage
        cfg.error = f"not valid YAML ({type(exc).__name__})"
        return cfg
    if not isinstance(data, dict):
        cfg.error = "not a YAML mapping"
        return cfg
    _flatten(data, "", cfg.values, cfg.lines)
    node_id = cfg.values.get("server.node_id")
    if isinstance(node_id, str) and node_id.strip():
        cfg.node = node_id.strip()
    elif not cfg.node:
        cfg.node = os.path.basename(os.path.dirname(name.split("!")[-1])) or name
    return cfg


@dataclass
class ConfigFinding:
    rule: ConfigRule
    severity: str
    confirmed: bool
    root_cause: str
    fix: str
    evidence: list[str]
    nodes: list[str]
    root_cause_zh: str = ""
    fix_zh: str = ""


def _as_number(value: Any, typ: str | None) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if typ == "duration":
        try:
            return parse_duration(str(value)).total_seconds()
        except BadInput:
            return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _show(value: Any, typ: str | None) -> str:
    if typ == "duration" and isinstance(value, (int, float)):
        from datetime import timedelta

        return format_duration(timedelta(seconds=value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def fingerprint(value: str, salt: str) -> str:
    return hashlib.sha256((salt + "\0" + value).encode("utf-8")).hexdigest()[:12]


def check_configs(
    ruleset: RuleSet,
    configs: list[NodeConfig],
    fired: dict[str, set[str]],
    *,
    peaks: dict[str, tuple[float, str]] | None = None,
) -> list[ConfigFinding]:
    """Findings of the config rules. ``fired``: log rule id -> nodes where it fired (for
    ``confirms``); ``peaks``: per node, the highest connection count seen in the logs and where."""
    good = [c for c in configs if c.error is None]
    out: list[ConfigFinding] = []
    defaults = ruleset.config_defaults
    for rule in ruleset.config_rules:
        chk = rule.check
        kind = chk.get("kind")
        confirmed = any(r in fired for r in rule.confirms)
        sev = rule.severity if confirmed else rule.severity_latent
        if kind == "compare":
            typ = chk.get("type")
            left_key, right_key = str(chk.get("left")), str(chk.get("right"))
            factor = float(chk.get("factor", 1))
            op = _OPS.get(str(chk.get("op", "<")))
            if op is None:
                continue
            bad_nodes, evidence, shown = [], [], None
            for c in good:
                lv = c.values.get(left_key, defaults.get(left_key))
                rv = c.values.get(right_key, defaults.get(right_key))
                a, b = _as_number(lv, typ), _as_number(rv, typ)
                if a is None or b is None:
                    continue
                if op(a, factor * b):
                    bad_nodes.append(c.node)
                    evidence.append(c.evidence(left_key))
                    if shown is None:
                        shown = (_show(lv, None), _show(rv, None))
            if bad_nodes and shown:
                fmt = {"left": shown[0], "right": shown[1]}
                out.append(_with_zh(ConfigFinding(rule, sev, confirmed, _fmt(rule.root_cause, fmt),
                                                  _fmt(rule.fix, fmt), evidence, bad_nodes), fmt))
        elif kind == "differs":
            key = str(chk.get("key"))
            secret = bool(chk.get("secret"))
            groups: dict[str, list[NodeConfig]] = {}
            for c in good:
                v = c.values.get(key, defaults.get(key))
                if v is None:
                    continue
                label = fingerprint(str(v), key) if secret else str(v)
                groups.setdefault(label, []).append(c)
            if len(groups) > 1:
                parts = []
                for label, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
                    nodes = ", ".join(sorted(m.node for m in members))
                    parts.append(f"[{nodes}]" if secret else f"{label!r} on [{nodes}]")
                desc = " vs ".join(parts)
                evidence = [c.evidence(key) for members in groups.values() for c in members]
                nodes = sorted(c.node for members in groups.values() for c in members)
                out.append(_with_zh(ConfigFinding(rule, sev, confirmed, _fmt(rule.root_cause, {"groups": desc}),
                                                  _fmt(rule.fix, {"groups": desc}), evidence, nodes), {"groups": desc}))
        elif kind == "reached":
            key = str(chk.get("key"))
            fired_nodes: set[str] = set()
            for r in rule.confirms:
                fired_nodes |= fired.get(r, set())
            hit_nodes, evidence, limits, peak_best = [], [], [], None
            any_confirmed = any_reached = False
            for c in good:
                limit = _as_number(c.values.get(key, defaults.get(key)), None)
                if limit is None:
                    continue
                code_fired = c.node in fired_nodes or (len(good) == 1 and bool(fired_nodes))
                peak = (peaks or {}).get(c.node) or (peaks or {}).get("")
                lo = float(chk.get("ratio", 1.0)) * limit
                hi = float(chk["below"]) * limit if chk.get("below") is not None else math.inf
                reached = peak is not None and lo <= peak[0] < hi
                if reached or code_fired:
                    hit_nodes.append(c.node)
                    evidence.append(c.evidence(key))
                    if peak:
                        evidence.append(peak[1])
                        if peak_best is None or peak[0] > peak_best[0]:
                            peak_best = peak
                    limits.append(_show(limit, None))
                    any_confirmed |= code_fired
                    any_reached |= reached
            if hit_nodes:
                peak_txt = f" (peak {int(peak_best[0])} connections, {peak_best[1]})" if peak_best else ""
                fmt = {"left": "/".join(sorted(set(limits))), "peak": peak_txt}
                sev_here = rule.severity if (any_reached or any_confirmed) else rule.severity_latent
                out.append(_with_zh(ConfigFinding(rule, sev_here, any_confirmed or any_reached,
                                                  _fmt(rule.root_cause, fmt), _fmt(rule.fix, fmt), evidence,
                                                  hit_nodes), fmt))
    return out


def _with_zh(f: ConfigFinding, values: dict[str, str]) -> ConfigFinding:
    f.root_cause_zh = _fmt(f.rule.root_cause_zh, values)
    f.fix_zh = _fmt(f.rule.fix_zh, values)
    return f


def _fmt(template: str, values: dict[str, str]) -> str:
    out = template
    for k, v in values.items():
        out = out.replace("{" + k + "}", v)
    return out
