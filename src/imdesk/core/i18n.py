"""Translations (Babel .po catalogues, zh_CN and en) and locale negotiation.

Message ids are the English text. Each domain keeps its catalogue beside its code:
``src/imdesk/<domain>/locale/zh_CN/LC_MESSAGES/<domain>.po`` (``core`` and ``web`` keep the shared
strings in ``src/imdesk/core/locale/...``). All catalogues of a locale are merged at start; a
missing translation falls back to the English id. ``tests/meta`` checks that every ``_("...")`` in
templates has a zh_CN translation.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime as _babel_format_datetime
from babel.messages.pofile import read_po

SUPPORTED_LOCALES = ("zh_CN", "en")
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def catalogue_files(locale: str) -> list[Path]:
    return sorted(PACKAGE_ROOT.glob(f"*/locale/{locale}/LC_MESSAGES/*.po"))


@functools.lru_cache(maxsize=8)
def _messages(locale: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for po in catalogue_files(locale):
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        for msg in catalog:
            if msg.id and msg.string and not msg.fuzzy:
                key = msg.id if isinstance(msg.id, str) else msg.id[0]
                merged[key] = msg.string if isinstance(msg.string, str) else msg.string[0]
    return merged


def reload_catalogues() -> None:
    _messages.cache_clear()


def gettext(locale: str, message: str, **params: object) -> str:
    text = _messages(locale).get(message, message) if locale != "en" else message
    return text.format(**params) if params else text


def has_translation(locale: str, message: str) -> bool:
    return message in _messages(locale)


def normalise_locale(value: str | None) -> str | None:
    if not value:
        return None
    v = value.strip().replace("-", "_")
    low = v.lower()
    if low.startswith("zh"):
        return "zh_CN"
    if low.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None, user_pref: str | None, default: str) -> str:
    """User setting first, then the browser's Accept-Language (q-weighted), then the default."""
    pref = normalise_locale(user_pref)
    if pref:
        return pref
    if accept_language:
        candidates: list[tuple[float, int, str]] = []
        for i, part in enumerate(accept_language.split(",")[:20]):
            piece = part.strip()
            if not piece:
                continue
            tag, _, q = piece.partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            loc = normalise_locale(tag)
            if loc and weight > 0:
                candidates.append((-weight, i, loc))
        if candidates:
            return sorted(candidates)[0][2]
    return default if default in SUPPORTED_LOCALES else "zh_CN"


def format_datetime(value: datetime | None, locale: str, tz: str = "Asia/Shanghai") -> str:
    if value is None:
        return ""
    try:
        babel_locale = Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        babel_locale = Locale.parse("en")
    return _babel_format_datetime(value.astimezone(ZoneInfo(tz)), "yyyy-MM-dd HH:mm", locale=babel_locale)
