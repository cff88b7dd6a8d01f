"""Slugs: the stable, URL- and file-safe name of an article, video or question."""

from __future__ import annotations

import re
import unicodedata

from imdesk.kb.errors import InvalidSlug

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,118}[a-z0-9])?$")
MAX_LEN = 120


def validate_slug(slug: object) -> str:
    """Return ``slug`` if it is a safe slug (lower-case ASCII letters, digits, inner hyphens).

    Anything that could escape a directory (``..``, ``/``, ``\\``, NUL, absolute paths) or is not
    plain ASCII raises :class:`InvalidSlug` with a message that quotes the offending value.
    """
    if not isinstance(slug, str):
        raise InvalidSlug(f"slug must be a string, got {type(slug).__name__}")
    if not slug:
        raise InvalidSlug("slug must not be empty")
    if len(slug) > MAX_LEN:
        raise InvalidSlug(f"slug is longer than {MAX_LEN} characters")
    if "/" in slug or "\\" in slug or ".." in slug or "\x00" in slug:
        raise InvalidSlug(f"slug {slug[:60]!r} contains a path separator or '..'")
    if not SLUG_RE.match(slug):
        raise InvalidSlug(
            f"slug {slug[:60]!r} may only contain lower-case letters a-z, digits and inner hyphens"
        )
    return slug


def slugify(text: str, fallback: str = "article") -> str:
    """A slug from a title: ASCII words joined by hyphens; ``fallback`` when nothing is left."""
    norm = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    s = re.sub(r"[^a-z0-9]+", "-", norm).strip("-")[:MAX_LEN].strip("-")
    return s or fallback
