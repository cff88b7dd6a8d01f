"""Front matter parsing/dumping, slugs, Markdown sanitising, WebVTT and Range parsing (pure)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imdesk.kb.errors import FrontMatterError, InvalidRange, InvalidSlug, InvalidTranscript
from imdesk.kb.frontmatter import Document, dump_document, parse_document, parse_duration
from imdesk.kb.ranges import parse_range
from imdesk.kb.render import plain_text, render_markdown
from imdesk.kb.slugs import slugify, validate_slug
from imdesk.kb.vtt import parse_webvtt

GOOD = """---
title: 推送收不到怎么办
category: scenario
module: push
error_codes: [ERR_IM_3001, err_im_3002]
tags: [push, apns]
lang: zh
---
# 正文

内容
"""


def test_parse_good_document_defaults_slug_to_file_name():
    doc = parse_document(GOOD, "kb/push.md", default_slug="push-not-received")
    assert doc.slug == "push-not-received"
    assert doc.title == "推送收不到怎么办"
    assert doc.error_codes == ["ERR_IM_3001", "ERR_IM_3002"]
    assert doc.tags == ["push", "apns"]
    assert doc.body.startswith("# 正文")
    assert doc.body_line == 9


@pytest.mark.parametrize(
    "text,line,needle",
    [
        ("no front matter\n", 1, "must start with"),
        ("---\ntitle: x\n", 1, "not closed"),
        ("---\ntitle: x\ntags: [a, b\n---\nbody", 3, "invalid YAML"),
        ("---\ntitle: x\ncategory: faq\n---\n", 3, "category must be"),
        ("---\ncategory: module\n---\n", 2, "missing required field 'title'"),
        ("---\ntitle: x\nlang: fr\n---\n", 3, "lang must be"),
        ("---\ntitle: x\nslug: ../../etc/passwd\n---\n", 3, "path separator"),
        ("---\ntitle: x\n\nbogus: 1\n---\n", 4, "unknown field 'bogus'"),
        ("---\ntitle: x\ntags: {a: 1}\n---\n", 3, "list of words"),
        ("---\n- a\n- b\n---\n", 2, "mapping"),
    ],
)
def test_malformed_front_matter_names_file_and_line(text, line, needle):
    with pytest.raises(FrontMatterError) as ei:
        parse_document(text, "dir/bad.md", default_slug="bad")
    assert ei.value.file == "dir/bad.md"
    assert ei.value.line == line
    assert ei.value.detail.startswith(f"dir/bad.md:{line}: ")
    assert needle in ei.value.detail


def test_video_document():
    text = "---\ntitle: Java SDK 初始化\ntype: video\nvideo: java-init.mp4\ntranscript: java-init.vtt\nduration: '12:30'\nseries: Java SDK\nseries_order: 1\ntopics: [sdk, java]\n---\n介绍"
    doc = parse_document(text, "v.md", default_slug="java-init")
    assert doc.type == "video" and doc.duration == 750 and doc.series_order == 1
    with pytest.raises(FrontMatterError):
        parse_document(text.replace("java-init.mp4", "../secret.mp4"), "v.md", default_slug="x")


def test_parse_duration():
    assert parse_duration(90) == 90
    assert parse_duration("1:02:03") == 3723
    with pytest.raises(ValueError):
        parse_duration("abc")


words = st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Nd")), min_size=1, max_size=12)


@settings(max_examples=80, deadline=None)
@given(
    title=st.text(min_size=1, max_size=60).filter(lambda s: s.strip() and "\x00" not in s),
    tags=st.lists(words, max_size=4),
    codes=st.lists(st.from_regex(r"ERR_IM_[0-9]{4}", fullmatch=True), max_size=3),
    body=st.text(max_size=200),
    lang=st.sampled_from(["zh", "en"]),
    category=st.sampled_from(["module", "error_code", "scenario"]),
)
def test_dump_then_parse_round_trips(title, tags, codes, body, lang, category):
    doc = Document(slug="a-b-1", title=title.strip(), body=body.strip("\n"), lang=lang, category=category,
                   tags=[t.strip() for t in tags if t.strip()], error_codes=codes)
    back = parse_document(dump_document(doc), "x.md")
    assert (back.title, back.tags, back.error_codes, back.lang, back.category, back.slug) == (
        doc.title, doc.tags, doc.error_codes, doc.lang, doc.category, doc.slug)
    assert back.body.strip() == doc.body.strip()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_parser_never_crashes_with_anything_but_front_matter_error(text):
    try:
        parse_document(text, "f.md", default_slug="f")
    except FrontMatterError as exc:
        assert exc.detail.startswith("f.md:")


@pytest.mark.parametrize("slug", ["../etc", "a/b", "a\\b", "", "A-b", "-a", "a-", "日本", "a..b", "a\x00", "x" * 200, 3])
def test_bad_slugs(slug):
    with pytest.raises(InvalidSlug):
        validate_slug(slug)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_valid_slug_never_escapes_a_folder(s):
    try:
        validate_slug(s)
    except InvalidSlug:
        return
    assert "/" not in s and "\\" not in s and ".." not in s and s.isascii()


def test_slugify():
    assert slugify("Token expired (ERR_IM_1001)!") == "token-expired-err-im-1001"
    assert slugify("推送") == "article"
    validate_slug(slugify("Hello -- World"))


def test_markdown_is_rendered_and_sanitised():
    out = render_markdown(
        "# T\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) **b** <img src=x onerror=alert(1)>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    assert "<h1>T</h1>" in out and "<strong>b</strong>" in out and "<table>" in out
    assert "<script" not in out and 'href="javascript' not in out
    assert "<img" not in out  # raw HTML is shown as text, never as markup
    assert "&lt;script&gt;" in out


def test_plain_text():
    assert plain_text("# Title\n\n**bold** `code` [link](http://x)") == "Title bold code link http://x"


VTT = """WEBVTT

NOTE a comment

intro
00:00.000 --> 00:05.500
<v Speaker>初始化 SDK</v>

00:01:05.000 --> 00:01:10.000 align:start
设置 UserSig
第二行
"""


def test_webvtt():
    cues = parse_webvtt(VTT)
    assert len(cues) == 2
    assert cues[0].ident == "intro" and cues[0].end == 5.5 and cues[0].text == "初始化 SDK"
    assert cues[1].start == 65.0 and cues[1].text == "设置 UserSig 第二行"
    with pytest.raises(InvalidTranscript, match=":1:"):
        parse_webvtt("hello")
    with pytest.raises(InvalidTranscript, match=":3:"):
        parse_webvtt("WEBVTT\n\n00:00 --> 00:01\nx")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120))
def test_webvtt_parser_only_raises_invalid_transcript(text):
    with contextlib.suppress(InvalidTranscript):
        parse_webvtt("WEBVTT\n\n" + text)


def test_range_parsing():
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=90-", 100) == (90, 99)
    assert parse_range("bytes=-10", 100) == (90, 99)
    assert parse_range("bytes=95-200", 100) == (95, 99)
    for bad in ("bytes=100-", "bytes=5-1", "items=0-1", "bytes=-", "bytes=-0"):
        with pytest.raises(InvalidRange):
            parse_range(bad, 100)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.integers(min_value=1, max_value=10_000))
def test_range_is_inside_the_file_or_refused(header, size):
    try:
        r = parse_range(header, size)
    except InvalidRange:
        return
    if r is not None:
        assert 0 <= r[0] <= r[1] < size
