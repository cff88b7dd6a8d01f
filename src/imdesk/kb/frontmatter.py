"""Markdown files with YAML front matter: the exchange format of ``imdesk kb import|export``.

    ---
    title: 推送收不到怎么办
    category: scenario            # module | error_code | scenario
    module: push
    error_codes: [ERR_IM_3001]
    tags: [push, apns]
    lang: zh                      # zh | en
    slug: push-not-received-zh    # default: the file name without .md
    product_versions: ["4.x"]
    ---
    Markdown body...

A video tutorial uses the same format with ``type: video`` and ``video``, ``duration``,
``transcript`` (a WebVTT file next to it), ``series``, ``series_order`` and ``topics``.

Every error names the file and the line (1-based, counted in the whole file).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from imdesk.kb.errors import FrontMatterError, InvalidSlug
from imdesk.kb.slugs import validate_slug

CATEGORIES = ("module", "error_code", "scenario")
LANGS = ("zh", "en")
TYPES = ("article", "video")
MAX_FILE_BYTES = 1_000_000
_LIST_FIELDS = ("error_codes", "tags", "product_versions", "topics")
_STR_FIELDS = ("title", "category", "module", "lang", "slug", "type", "video", "transcript", "series", "status")
_KNOWN = set(_LIST_FIELDS) | set(_STR_FIELDS) | {"duration", "series_order", "updated", "summary"}


@dataclass
class Document:
    """A parsed file: validated front matter fields plus the Markdown body."""

    slug: str
    title: str
    body: str
    type: str = "article"
    category: str = "scenario"
    module: str | None = None
    lang: str = "zh"
    error_codes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    product_versions: list[str] = field(default_factory=list)
    status: str = "published"
    # video fields
    video: str | None = None
    transcript: str | None = None
    duration: int | None = None
    series: str | None = None
    series_order: int | None = None
    topics: list[str] = field(default_factory=list)
    source: str = ""
    body_line: int = 1


def _err(source: str, line: int, message: str) -> FrontMatterError:
    return FrontMatterError(f"{source}:{line}: {message}", file=source, line=line)




_yaml_local = threading.local()


def _safe_yaml() -> YAML:
    """One safe loader per thread: a loader is not thread-safe, and setting one up for every file
    costs about a third of the parse time of a typical front matter."""
    loader = getattr(_yaml_local, "safe", None)
    if loader is None:
        loader = _yaml_local.safe = YAML(typ="safe")
    return loader


def _rt_key_line(data: Any, key: str, offset: int) -> int:
    try:
        return int(data.lc.key(key)[0]) + offset
    except Exception:  # noqa: BLE001 - line info is best effort
        return offset


def parse_duration(value: Any) -> int:
    """Seconds from ``754``, ``"12:34"`` or ``"1:02:03"``."""
    if isinstance(value, bool):
        raise ValueError("duration must be seconds or mm:ss")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("duration must not be negative")
        return value
    if isinstance(value, str):
        parts = value.strip().split(":")
        if 1 <= len(parts) <= 3 and all(p.isdigit() for p in parts):
            secs = 0
            for p in parts:
                secs = secs * 60 + int(p)
            return secs
    raise ValueError(f"duration {value!r} must be seconds or mm:ss / hh:mm:ss")


def parse_document(text: str, source: str, default_slug: str | None = None) -> Document:
    """Parse one Markdown file with front matter. Raises :class:`FrontMatterError`."""
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].rstrip("\r") != "---":
        raise _err(source, 1, "file must start with '---' (YAML front matter)")
    end = None
    for i in range(1, len(lines)):
        if lines[i].rstrip("\r") in ("---", "..."):
            end = i
            break
    if end is None:
        raise _err(source, 1, "front matter is not closed with '---'")
    yaml_text = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1 :]).strip("\n")
    offset = 2  # YAML line 0 is file line 2
    try:
        # the fast (C, when available) safe loader; line numbers come from a round-trip parse,
        # done only when a field turns out to be wrong
        data = _safe_yaml().load(io.StringIO(yaml_text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + offset) if mark is not None else offset
        problem = exc.problem or exc.context or "invalid YAML"
        raise _err(source, line, f"invalid YAML: {problem}") from None
    except YAMLError as exc:
        raise _err(source, offset, f"invalid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _err(source, offset, "front matter must be a mapping of fields")

    lines_of: list[Any] = []

    def _key_line(_data: Any, key: str, off: int) -> int:
        if not lines_of:
            try:
                lines_of.append(YAML(typ="rt", pure=True).load(io.StringIO(yaml_text)))
            except YAMLError:
                lines_of.append(None)
        return _rt_key_line(lines_of[0], key, off)

    unknown = [k for k in data if str(k) not in _KNOWN]
    if unknown:
        k = unknown[0]
        raise _err(source, _key_line(data, k, offset), f"unknown field {str(k)!r}")

    def get_str(key: str, required: bool = False) -> str | None:
        if key not in data or data[key] is None:
            if required:
                raise _err(source, offset, f"missing required field {key!r}")
            return None
        v = data[key]
        if isinstance(v, (bool, list, dict)):
            raise _err(source, _key_line(data, key, offset), f"field {key!r} must be text")
        v = str(v).strip()
        if required and not v:
            raise _err(source, _key_line(data, key, offset), f"field {key!r} must not be empty")
        return v

    def get_list(key: str) -> list[str]:
        v = data.get(key)
        if v is None:
            return []
        if isinstance(v, (str, int)) and not isinstance(v, bool):
            v = [v]
        if not isinstance(v, list) or any(isinstance(x, (list, dict, bool)) or x is None for x in v):
            raise _err(source, _key_line(data, key, offset), f"field {key!r} must be a list of words")
        return [str(x).strip() for x in v if str(x).strip()]

    title = get_str("title", required=True) or ""
    if len(title) > 300:
        raise _err(source, _key_line(data, "title", offset), "title is longer than 300 characters")
    doc_type = get_str("type") or "article"
    if doc_type not in TYPES:
        raise _err(source, _key_line(data, "type", offset), f"type must be one of {', '.join(TYPES)}")
    category = get_str("category") or ("scenario" if doc_type == "article" else "scenario")
    if category not in CATEGORIES:
        raise _err(
            source, _key_line(data, "category", offset), f"category must be one of {', '.join(CATEGORIES)}"
        )
    lang = get_str("lang") or "zh"
    if lang not in LANGS:
        raise _err(source, _key_line(data, "lang", offset), f"lang must be one of {', '.join(LANGS)}")
    slug = get_str("slug") or default_slug
    if not slug:
        raise _err(source, offset, "missing field 'slug' and no file name to default to")
    try:
        validate_slug(slug)
    except InvalidSlug as exc:
        raise _err(source, _key_line(data, "slug", offset), exc.detail) from None
    status = get_str("status") or "published"
    if status not in ("draft", "review", "published"):
        raise _err(source, _key_line(data, "status", offset), "status must be draft, review or published")

    doc = Document(
        slug=slug,
        title=title,
        body=body,
        type=doc_type,
        category=category,
        module=get_str("module"),
        lang=lang,
        error_codes=[c.upper() if not c.isdigit() else c for c in get_list("error_codes")],
        tags=get_list("tags"),
        product_versions=get_list("product_versions"),
        status=status,
        source=source,
        body_line=end + 2,
    )
    if doc_type == "video":
        doc.video = get_str("video", required=True)
        doc.transcript = get_str("transcript")
        doc.series = get_str("series")
        doc.topics = get_list("topics")
        for key in ("video", "transcript"):
            p = getattr(doc, key)
            if p and (p.startswith(("/", "\\")) or ".." in p.replace("\\", "/").split("/")):
                raise _err(source, _key_line(data, key, offset), f"{key} path {p!r} must stay inside the folder")
        if "duration" in data and data["duration"] is not None:
            try:
                doc.duration = parse_duration(data["duration"])
            except ValueError as exc:
                raise _err(source, _key_line(data, "duration", offset), str(exc)) from None
        if "series_order" in data and data["series_order"] is not None:
            so = data["series_order"]
            if isinstance(so, bool) or not isinstance(so, int):
                raise _err(source, _key_line(data, "series_order", offset), "series_order must be an integer")
            doc.series_order = so
    return doc


def _q(value: str) -> str:
    """A YAML double-quoted scalar; characters YAML forbids raw are written as escapes."""
    import json
    import unicodedata

    out = []
    for ch in json.dumps(value, ensure_ascii=False):
        if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") or ch in "\u2028\u2029\ufeff":
            cp = ord(ch)
            out.append(f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}")
        else:
            out.append(ch)
    return "".join(out)


def _yaml_scalar_list(items: list[str]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"


def dump_document(doc: Document) -> str:
    """The file text for ``doc`` (what ``imdesk kb export`` writes); ``parse_document`` reads it back."""
    s = _q

    out = ["---", f"title: {s(doc.title)}", f"slug: {doc.slug}"]
    if doc.type != "article":
        out.append(f"type: {doc.type}")
    out.append(f"category: {doc.category}")
    if doc.module:
        out.append(f"module: {s(doc.module)}")
    out.append(f"lang: {doc.lang}")
    out.append(f"error_codes: {_yaml_scalar_list(doc.error_codes)}")
    out.append(f"tags: {_yaml_scalar_list(doc.tags)}")
    if doc.product_versions:
        out.append(f"product_versions: {_yaml_scalar_list(doc.product_versions)}")
    if doc.status != "published":
        out.append(f"status: {doc.status}")
    if doc.type == "video":
        out.append(f"video: {s(doc.video or '')}")
        if doc.transcript:
            out.append(f"transcript: {s(doc.transcript)}")
        if doc.duration is not None:
            out.append(f"duration: {doc.duration}")
        if doc.series:
            out.append(f"series: {s(doc.series)}")
        if doc.series_order is not None:
            out.append(f"series_order: {doc.series_order}")
        if doc.topics:
            out.append(f"topics: {_yaml_scalar_list(doc.topics)}")
    out.append("---")
    return "\n".join(out) + "\n" + doc.body.strip("\n") + "\n"


__all__ = ["CATEGORIES", "LANGS", "Document", "dump_document", "parse_document", "parse_duration"]
