"""The error-code catalogue of a profile (``profiles/<name>/error_codes.yaml``), read-only.

Lookup accepts the canonical code (``ERR_IM_1002``), its number (``1002``), any case
(``err_im_1002``), hyphens instead of underscores and the symbolic aliases a product defines.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from imdesk.kb.text import edit_distance
from imdesk.profiles import ProfileError, load_profile


@dataclass(frozen=True)
class ErrorCodeEntry:
    code: str
    number: int | None
    aliases: tuple[str, ...]
    area: str
    module: str
    severity: str
    informational: bool
    group: str
    config_keys: tuple[str, ...]
    kb: str | None
    title: dict[str, str]
    meaning: dict[str, str]
    causes: dict[str, list[str]]
    fix: dict[str, str]

    def text(self, field: str, lang: str) -> Any:
        value = getattr(self, field)
        return value.get(lang) or value.get("en") or next(iter(value.values()), "")

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {
            "code": self.code,
            "number": self.number,
            "aliases": list(self.aliases),
            "area": self.area,
            "module": self.module,
            "severity": self.severity,
            "informational": self.informational,
            "group": self.group,
            "config_keys": list(self.config_keys),
            "kb": self.kb,
        }
        for f in ("title", "meaning", "causes", "fix"):
            d[f] = self.text(f, lang) if lang else dict(getattr(self, f))
        return d


def _key(s: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", str(s).upper())


class Catalogue:
    def __init__(self, entries: list[ErrorCodeEntry]) -> None:
        self.entries = entries
        self._by_key: dict[str, ErrorCodeEntry] = {}
        for e in entries:
            self._by_key[_key(e.code)] = e
            if e.number is not None:
                self._by_key.setdefault(str(e.number), e)
            for a in e.aliases:
                self._by_key.setdefault(_key(a), e)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, code: str) -> ErrorCodeEntry | None:
        """Exact lookup (code, number, alias; case, ``_``/``-`` and spaces ignored)."""
        if not isinstance(code, str) or not code.strip() or len(code) > 100:
            return None
        return self._by_key.get(_key(code.strip()))

    def fuzzy(self, code: str) -> list[ErrorCodeEntry]:
        """Entries one or two typos away (``ERR_IM_1020`` → 1002?, ``ERR_IM_10002`` → 1002)."""
        k = _key(code or "")
        if len(k) < 4:
            return []
        limit = 1
        found: list[tuple[int, str, ErrorCodeEntry]] = []
        seen = set()
        for key, e in self._by_key.items():
            if len(key) < 4 or e.code in seen:
                continue
            d = edit_distance(k, key, limit)
            if d <= limit:
                found.append((d, e.code, e))
                seen.add(e.code)
        if not found:
            return []
        best = min(t[0] for t in found)
        return [e for d, _, e in sorted(found, key=lambda t: t[1]) if d == best]


def _entry(raw: dict[str, Any]) -> ErrorCodeEntry:
    def bil(v: Any) -> dict[str, Any]:
        return dict(v) if isinstance(v, dict) else {"en": v or ""}

    return ErrorCodeEntry(
        code=str(raw["code"]),
        number=int(raw["number"]) if raw.get("number") is not None else None,
        aliases=tuple(str(a) for a in raw.get("aliases") or ()),
        area=str(raw.get("area") or ""),
        module=str(raw.get("module") or ""),
        severity=str(raw.get("severity") or "error"),
        informational=bool(raw.get("informational")),
        group=str(raw.get("group") or ""),
        config_keys=tuple(str(k) for k in raw.get("config_keys") or ()),
        kb=raw.get("kb"),
        title=bil(raw.get("title")),
        meaning=bil(raw.get("meaning")),
        causes={k: list(v) for k, v in bil(raw.get("causes")).items()},
        fix=bil(raw.get("fix")),
    )


@functools.lru_cache(maxsize=8)
def load_catalogue(profile: str | None = None) -> Catalogue:
    """The catalogue of ``profile`` (default: the default profile); empty if it ships none."""
    p = load_profile(profile)
    if not p.has("error_codes"):
        return Catalogue([])
    try:
        data = p.data("error_codes")
    except ProfileError:
        return Catalogue([])
    return Catalogue([_entry(c) for c in (data or {}).get("codes", [])])
