"""Key-by-key comparison of a config with the official example or another node's config
(``imdesk config diff``).

Both sides are compared on their *effective* values: a key absent from a file has the schema
default. Secret keys are compared by a keyed fingerprint (HMAC-SHA256 with a key made for this
run), never printed. Keys the schema marks ``same_on_all_nodes`` that differ between two nodes are
flagged, because they break a cluster (``auth.jwt_secret`` → ERR_IM_1003, ``mq.consumer_group``
→ ERR_IM_5101).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from imdesk.diag.config_check import Entry, Schema, load_values, parse_yaml, walk
from imdesk.profiles import Profile, load_profile

_RUN_KEY = secrets.token_bytes(32)


def fingerprint(value: Any, key: bytes = _RUN_KEY) -> str:
    """A short keyed fingerprint: equal values give equal fingerprints within one run only."""
    digest = hmac.new(key, repr(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return f"fp:{digest[:12]}"


@dataclass
class DiffEntry:
    key: str
    status: str  # same | differs | only_left | only_right
    left: str | None
    right: str | None
    left_line: int | None = None
    right_line: int | None = None
    left_default: bool = False
    right_default: bool = False
    secret: bool = False
    must_match: bool = False

    @property
    def cluster_breaking(self) -> bool:
        return self.must_match and self.status == "differs"


@dataclass
class DiffResult:
    left: str
    right: str
    entries: list[DiffEntry] = field(default_factory=list)
    unknown_left: list[str] = field(default_factory=list)
    unknown_right: list[str] = field(default_factory=list)

    @property
    def differences(self) -> list[DiffEntry]:
        return [e for e in self.entries if e.status != "same"]

    def exit_code(self) -> int:
        return 1 if self.differences or self.unknown_left or self.unknown_right else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "right": self.right,
            "differences": [asdict(e) | {"cluster_breaking": e.cluster_breaking} for e in self.differences],
            "same": sum(1 for e in self.entries if e.status == "same"),
            "unknown_keys": {"left": self.unknown_left, "right": self.unknown_right},
        }


def _display(value: Any, secret: bool) -> str:
    if secret:
        return fingerprint(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_display(v, False) for v in value) + "]"
    if value is None:
        return "null"
    if value == "":
        return '""'
    return str(value)


def _unknown(text_values: dict[str, Entry], schema: Schema, path: str) -> list[str]:
    from imdesk.diag.config_check import read_config_file

    root, _ = parse_yaml(read_config_file(path))
    if root is None:
        return []
    _, _, findings = walk(root, schema)
    return sorted({f.key for f in findings if f.rule_id == "IMCFG-UNKNOWN-KEY" and f.key})


def diff_files(left: str | os.PathLike[str], right: str | os.PathLike[str] | None = None, *,
               profile: Profile | None = None) -> DiffResult:
    """Compare ``left`` with ``right`` (default: the profile's official example)."""
    profile = profile or load_profile()
    schema = Schema.of(profile)
    right_path = right if right is not None else profile.path("example_config.yaml")
    lvals, _ = load_values(left, profile)
    rvals, _ = load_values(right_path, profile)
    result = DiffResult(left=str(left), right=str(right) if right is not None else "official example")
    for key, spec in schema.keys.items():
        secret = bool(spec.get("secret"))
        has_default = "default" in spec
        le, re_ = lvals.get(key), rvals.get(key)
        lv = le.value if le is not None else spec.get("default")
        rv = re_.value if re_ is not None else spec.get("default")
        lpresent = le is not None or has_default
        rpresent = re_ is not None or has_default
        if not lpresent and not rpresent:
            continue
        if lpresent and rpresent:
            status = "same" if _norm(lv) == _norm(rv) else "differs"
        elif lpresent:
            status = "only_left"
        else:
            status = "only_right"
        result.entries.append(DiffEntry(
            key=key,
            status=status,
            left=_display(lv, secret) if lpresent else None,
            right=_display(rv, secret) if rpresent else None,
            left_line=le.line if le is not None else None,
            right_line=re_.line if re_ is not None else None,
            left_default=le is None and has_default,
            right_default=re_ is None and has_default,
            secret=secret,
            must_match=bool(spec.get("same_on_all_nodes")) and right is not None,
        ))
    result.unknown_left = _unknown(lvals, schema, str(left))
    result.unknown_right = _unknown(rvals, schema, str(right_path))
    return result


def _norm(value: Any) -> Any:
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, bool) or value is None:
        return value
    return str(value)


def render_text(result: DiffResult, *, lang: str = "en") -> str:
    zh = lang.startswith("zh")
    lines = [f"--- {result.left}", f"+++ {result.right}"]
    for e in result.differences:
        mark = " !! must be equal on every node" if e.cluster_breaking else ""
        if zh and mark:
            mark = " !! 集群内所有节点必须相同"
        left = (e.left or "(unset)") + (" (default)" if e.left_default else "")
        right = (e.right or "(unset)") + (" (default)" if e.right_default else "")
        where = f" [line {e.left_line}]" if e.left_line else ""
        lines.append(f"~ {e.key}{where}: {left}  →  {right}{mark}")
    for k in result.unknown_left:
        lines.append(f"? {k}: unknown key only in {result.left}" if not zh else f"? {k}：未知键（{result.left}）")
    for k in result.unknown_right:
        lines.append(f"? {k}: unknown key only in {result.right}" if not zh else f"? {k}：未知键（{result.right}）")
    same = sum(1 for e in result.entries if e.status == "same")
    if zh:
        lines.append(f"{len(result.differences)} 个键不同，{same} 个相同；密钥只比较指纹，不显示内容。")
    else:
        lines.append(f"{len(result.differences)} key(s) differ, {same} same; secrets compared by fingerprint only.")
    return "\n".join(lines)
