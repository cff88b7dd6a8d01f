"""Markdown → safe HTML (markdown-it-py, CommonMark + tables, then nh3 sanitising)."""

from __future__ import annotations

import functools
import html
import re

import nh3
from markdown_it import MarkdownIt

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "mark", "ol", "p", "pre", "s",
    "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
_ATTRS = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "span": {"class"},
    "div": {"class"},
    "th": {"align"},
    "td": {"align"},
}


@functools.lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    # html=False: raw HTML in Markdown is shown as text; nh3 still cleans whatever the renderer emits.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")


def render_markdown(text: str) -> str:
    """Sanitised HTML for ``text``: no scripts, no event handlers, no ``javascript:`` links."""
    raw = _md().render(text or "")
    return nh3.clean(
        raw,
        tags=_TAGS,
        attributes=_ATTRS,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


_FENCE = re.compile(r"^(```|~~~).*$", re.MULTILINE)
_LINE_MARKS = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$|^\s*\|?\s*:?-{3,}.*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
_EMPH = re.compile(r"\*{1,3}|`+|~~|(?<![0-9A-Za-z])_{1,3}|_{1,3}(?![0-9A-Za-z])")


def plain_text(markdown: str) -> str:
    """Markdown without markup (for snippets and the search index); words like ERR_IM_1001 stay whole."""
    text = markdown or ""
    text = _FENCE.sub(" ", text)
    text = _RULE.sub(" ", text)
    text = _LINE_MARKS.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1 \2", text)
    text = _EMPH.sub("", text)
    text = text.replace("|", " ")
    return re.sub(r"\s+", " ", html.unescape(text)).strip()
