"""The only write path of the knowledge base: ``check_*`` (authorise, validate) then ``do_*``.

Articles move draft → review → published (and back to draft); every save writes a revision;
published articles are in the search index, others are not.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from imdesk.accounts.services import Actor, record_audit
from imdesk.core.clock import Clock, SystemClock
from imdesk.core.db import best_effort_write
from imdesk.core.errors import BadInput, PermissionDenied
from imdesk.kb.errors import ArticleNotFound, FileTooLarge, FrontMatterError, InvalidTransition
from imdesk.kb.frontmatter import CATEGORIES, LANGS, MAX_FILE_BYTES, Document, dump_document, parse_document
from imdesk.kb.models import Article, ArticleCode, Feedback, Revision, Suggestion
from imdesk.kb.queryplan import code_key
from imdesk.kb.render import plain_text
from imdesk.kb.search import doc_values, insert_docs, optimize_index, remove_doc, synonyms_for, upsert_doc
from imdesk.kb.slugs import slugify, validate_slug

STATUSES = ("draft", "review", "published")
TRANSITIONS = {
    "draft": {"review", "published"},
    "review": {"draft", "published"},
    "published": {"draft"},
}
MAX_BODY_CHARS = 200_000


def _require_staff(actor: Actor) -> None:
    if not actor.is_staff:
        raise PermissionDenied("only support staff may edit the knowledge base")


def _clock(clock: Clock | None) -> Clock:
    return clock or SystemClock()


# --- articles -----------------------------------------------------------------------------------


@dataclass
class ArticleInput:
    slug: str
    title: str
    body: str
    lang: str = "zh"
    category: str = "scenario"
    module: str | None = None
    error_codes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    product_versions: list[str] = field(default_factory=list)
    status: str | None = None


def check_save_article(session: Session, actor: Actor, data: ArticleInput) -> ArticleInput:
    _require_staff(actor)
    return check_article_input(data)


def check_article_input(data: ArticleInput) -> ArticleInput:
    """Validate and normalise an article (pure: no database, no actor)."""
    validate_slug(data.slug)
    title = (data.title or "").strip()
    if not title or len(title) > 300:
        raise BadInput("title must be 1-300 characters", code="kb_invalid_article")
    if len(data.body or "") > MAX_BODY_CHARS:
        raise FileTooLarge(f"article body is longer than {MAX_BODY_CHARS} characters")
    if data.lang not in LANGS:
        raise BadInput(f"lang must be one of {', '.join(LANGS)}", code="kb_invalid_article")
    if data.category not in CATEGORIES:
        raise BadInput(f"category must be one of {', '.join(CATEGORIES)}", code="kb_invalid_article")
    if data.status is not None and data.status not in STATUSES:
        raise BadInput(f"status must be one of {', '.join(STATUSES)}", code="kb_invalid_article")
    codes = []
    for c in data.error_codes:
        c = str(c).strip().upper()
        if not c or len(c) > 80 or not code_key(c):
            raise BadInput(f"invalid error code {c[:40]!r}", code="kb_invalid_article")
        codes.append(c)
    data.title = title
    data.error_codes = list(dict.fromkeys(codes))
    data.tags = [t.strip()[:60] for t in data.tags if t and t.strip()][:30]
    return data


def _article_doc_values(data: ArticleInput) -> dict:
    """Search-document columns of a new published article (what ``_index_article`` would write)."""
    return doc_values(slug=data.slug, title=data.title, body_text=plain_text(data.body or ""), lang=data.lang,
                      category=data.category, module=data.module, codes=list(data.error_codes),
                      extra_index_text=" ".join(data.tags))


def _index_article(session: Session, article: Article, existing: dict | None = None) -> None:
    if article.status != "published":
        remove_doc(session, "article", article.id)
        return
    upsert_doc(
        session,
        existing=existing,
        doc_type="article",
        doc_id=article.id,
        slug=article.slug,
        title=article.title,
        body_text=plain_text(article.body),
        lang=article.lang,
        category=article.category,
        module=article.module,
        codes=[c.code for c in article.codes],
        extra_index_text=" ".join(article.tags),
    )


def _set_codes(article: Article, codes: list[str]) -> None:
    wanted = {code_key(c): c for c in codes}
    article.codes[:] = [c for c in article.codes if c.code_key in wanted]
    have = {c.code_key for c in article.codes}
    for i, (k, c) in enumerate(wanted.items()):
        if k not in have:
            article.codes.append(ArticleCode(code=c, code_key=k, position=i))
    for c in article.codes:
        c.position = list(wanted).index(c.code_key)


def do_save_article(
    session: Session, actor: Actor, data: ArticleInput, *, note: str = "", clock: Clock | None = None,
    audit: bool = True,
) -> tuple[Article, str]:
    """Create or update the article ``data.slug``. Returns ``(article, outcome)``, outcome one of
    ``"created"``, ``"updated"``, ``"unchanged"`` (nothing written, e.g. an unchanged re-import)."""
    data = check_save_article(session, actor, data)
    now = _clock(clock).now()
    article = session.scalar(select(Article).where(Article.slug == data.slug))
    created = article is None
    if article is None:
        article = Article(slug=data.slug, status=data.status or "draft", author_id=actor.user_id, created_at=now,
                          updated_at=now)
        session.add(article)
    fields = dict(title=data.title, body=data.body or "", lang=data.lang, category=data.category, module=data.module,
                  tags=data.tags, product_versions=data.product_versions)
    changed = created or any(getattr(article, k) != v for k, v in fields.items())
    changed = changed or [c.code for c in article.codes] != data.error_codes
    if data.status and data.status != article.status:
        changed = True
        if data.status == "published" and article.published_at is None:
            article.published_at = now
        article.status = data.status
    if created and article.status == "published":
        article.published_at = now
    if not changed:
        return article, "unchanged"
    for k, v in fields.items():
        setattr(article, k, v)
    _set_codes(article, data.error_codes)
    article.updated_at = now
    session.flush()
    number = 1 if created else (
        session.scalar(select(func.max(Revision.number)).where(Revision.article_id == article.id)) or 0) + 1
    session.add(Revision(article_id=article.id, number=number, title=article.title, body=article.body,
                         status=article.status, author_id=actor.user_id, note=note[:300], created_at=now))
    _index_article(session, article, {} if created else None)
    if audit:
        record_audit(session, actor, "kb.article.created" if created else "kb.article.updated", "kb_article",
                     article.id, {"slug": article.slug, "status": article.status}, clock=clock)
    return article, "created" if created else "updated"


def get_article_for_edit(session: Session, slug: str) -> Article:
    article = session.scalar(select(Article).where(Article.slug == slug))
    if article is None:
        raise ArticleNotFound(f"no article {slug!r}")
    return article


def do_transition_article(session: Session, actor: Actor, slug: str, to_status: str, *,
                          clock: Clock | None = None) -> Article:
    _require_staff(actor)
    article = get_article_for_edit(session, validate_slug(slug))
    if to_status not in STATUSES:
        raise BadInput(f"status must be one of {', '.join(STATUSES)}", code="kb_invalid_article")
    if to_status not in TRANSITIONS[article.status]:
        raise InvalidTransition(f"cannot move an article from {article.status} to {to_status}")
    if to_status == "published" and not actor.is_staff:
        raise PermissionDenied("only staff may publish")
    now = _clock(clock).now()
    article.status = to_status
    article.updated_at = now
    if to_status == "published":
        article.published_at = now
    number = (session.scalar(select(func.max(Revision.number)).where(Revision.article_id == article.id)) or 0) + 1
    session.add(Revision(article_id=article.id, number=number, title=article.title, body=article.body,
                         status=to_status, author_id=actor.user_id, note=f"status → {to_status}", created_at=now))
    _index_article(session, article)
    record_audit(session, actor, f"kb.article.{to_status}", "kb_article", article.id, {"slug": slug}, clock=clock)
    return article


def draft_article_from_ticket(session: Session, actor: Actor, *, title: str, body: str, ticket_ref: str,
                              lang: str = "zh", clock: Clock | None = None) -> Article:
    """Turn a resolved ticket into a draft article (one click in the agent workspace)."""
    _require_staff(actor)
    ref = str(ticket_ref or "").strip()[:64]
    if not ref:
        raise BadInput("ticket_ref is required", code="kb_invalid_article")
    base = slugify(f"ticket {ref} {title}", fallback="ticket")[:100].strip("-") or "ticket"
    slug = base
    n = 2
    while session.scalar(select(Article.id).where(Article.slug == slug)) is not None:
        slug = f"{base}-{n}"
        n += 1
    text_body = (body or "").strip() + f"\n\n> Source: ticket {ref}\n"
    article, _ = do_save_article(
        session, actor,
        ArticleInput(slug=slug, title=title, body=text_body, lang=lang if lang in LANGS else "zh",
                     status="draft"),
        note=f"from ticket {ref}", clock=clock,
    )
    article.source_ticket_ref = ref
    return article


def do_record_view(session: Session, article: Article) -> None:
    """Count a page view: an atomic increment (no lost updates), written on a best-effort basis
    because it happens while serving a read (on SQLite the write lock may be busy)."""
    with best_effort_write(session):
        session.execute(update(Article).where(Article.id == article.id).values(views=Article.views + 1))


def do_feedback(session: Session, actor: Actor | None, slug: str, *, helpful: bool, comment: str = "",
                clock: Clock | None = None) -> Article:
    article = session.scalar(select(Article).where(Article.slug == slug, Article.status == "published"))
    if article is None:
        raise ArticleNotFound(f"no published article {slug!r}")
    if len(comment or "") > 1000:
        raise BadInput("comment is longer than 1000 characters", code="kb_invalid_feedback")
    session.add(Feedback(article_id=article.id, user_id=actor.user_id if actor else None, helpful=bool(helpful),
                         comment=(comment or "").strip(), created_at=_clock(clock).now()))
    if helpful:
        article.helpful_yes += 1
    else:
        article.helpful_no += 1
    return article


# --- import / export ----------------------------------------------------------------------------


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    videos: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + self.videos


def _read(path: Path, root: Path) -> tuple[str, str]:
    rel = str(path.relative_to(root))
    if path.stat().st_size > MAX_FILE_BYTES:
        raise FrontMatterError(f"{rel}:1: file is larger than {MAX_FILE_BYTES // 1000} kB", file=rel, line=1)
    try:
        return rel, path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FrontMatterError(f"{rel}:1: file is not UTF-8 text", file=rel, line=1) from None


@dataclass
class _Prepared:
    """One file read, parsed and validated (in a worker process during a bulk import)."""

    rel: str
    doc: Document | None = None
    data: ArticleInput | None = None  # the validated article (articles only)
    new: bool = False  # no article with this slug existed when the import started
    index: dict | None = None  # search-document columns of a new published article
    error: str | None = None  # the file cannot be read or parsed
    invalid: str | None = None  # the article fails validation (reported after the duplicate-slug check)


def _prepare(path: Path, root: Path, existing: frozenset[str]) -> _Prepared:
    """Everything about one file that needs no database: read, parse, validate and, for a new
    published article, segment its text for the search index (most of an import's time)."""
    rel = str(path.relative_to(root))
    try:
        rel, content = _read(path, root)
        doc = parse_document(content, rel, default_slug=path.stem.lower())
    except FrontMatterError as exc:
        return _Prepared(rel, error=exc.detail)
    except BadInput as exc:
        return _Prepared(rel, error=f"{rel}: {exc.detail}")
    prep = _Prepared(rel, doc=doc)
    if doc.type == "video":
        return prep
    try:
        prep.data = check_article_input(_input_from_doc(doc))
    except BadInput as exc:
        prep.invalid = f"{rel}: {exc.detail}"
        return prep
    prep.new = prep.data.slug not in existing
    if prep.new and (prep.data.status or "draft") == "published":
        prep.index = _article_doc_values(prep.data)
    return prep


_worker_args: tuple[Path, frozenset[str]] | None = None


def _init_worker(root: Path, existing: frozenset[str]) -> None:
    global _worker_args
    _worker_args = (root, existing)


def _prepare_in_worker(path: Path) -> _Prepared:
    assert _worker_args is not None
    return _prepare(path, *_worker_args)


POOL_MIN_FILES = 200


def _prepared_files(files: list[Path], root: Path, existing: frozenset[str], workers: int) -> Iterator[_Prepared]:
    """``_prepare`` of every file, in order: in ``workers`` forked processes for a large import
    (they inherit the loaded segmenter; the main process meanwhile writes to the database), else here."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if workers > 1 and len(files) >= POOL_MIN_FILES and "fork" in multiprocessing.get_all_start_methods():
        # an executor, not multiprocessing.Pool: a worker that dies raises BrokenProcessPool
        # instead of leaving the import waiting forever
        executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                       initializer=_init_worker, initargs=(root, existing))
        try:
            yield from executor.map(_prepare_in_worker, files, chunksize=8)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
    else:
        for path in files:
            yield _prepare(path, root, existing)


IMPORT_BATCH = 500


def _insert_new_articles(session: Session, actor: Actor, batch: list[_Prepared], now: datetime) -> None:
    """Create new articles in bulk: the rows ``do_save_article`` writes for a new slug (article,
    codes, revision 1, search document), a few statements per batch instead of several per file."""
    rows = []
    for p in batch:
        d = p.data
        status = d.status or "draft"
        rows.append(dict(slug=d.slug, title=d.title, body=d.body or "", lang=d.lang, category=d.category,
                         module=d.module, tags=d.tags, product_versions=d.product_versions, status=status, views=0,
                         helpful_yes=0, helpful_no=0, author_id=actor.user_id,
                         published_at=now if status == "published" else None, created_at=now, updated_at=now))
    ids = session.scalars(insert(Article).returning(Article.id, sort_by_parameter_order=True), rows).all()
    codes, revisions, docs = [], [], []
    for article_id, p, row in zip(ids, batch, rows, strict=True):
        codes += [dict(article_id=article_id, code=c, code_key=code_key(c), position=i)
                  for i, c in enumerate(p.data.error_codes)]
        revisions.append(dict(article_id=article_id, number=1, title=row["title"], body=row["body"],
                              status=row["status"], author_id=actor.user_id, note=f"import {p.rel}"[:300],
                              created_at=now))
        if p.index is not None:
            docs.append(dict(doc_type="article", doc_id=article_id, **p.index))
    if codes:
        session.execute(insert(ArticleCode), codes)
    session.execute(insert(Revision), revisions)
    insert_docs(session, docs)


def import_directory(session: Session, actor: Actor, root: Path, *, clock: Clock | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     media_root: Path | None = None, workers: int = 1) -> ImportReport:
    """Import every ``*.md`` under ``root`` (idempotent by slug). A malformed file is reported with
    its file and line and skipped; the rest imports.

    New articles are written in batches; reading, parsing and segmenting run in ``workers``
    processes when there are many files (the CLI uses both cores)."""
    _require_staff(actor)
    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root} is not a folder", code="kb_import_folder")
    files = sorted(p for p in root.rglob("*.md") if p.is_file())
    report = ImportReport()
    seen: dict[str, str] = {}
    existing = frozenset(session.scalars(select(Article.slug)))
    synonyms_for(None)  # load the product words before forking, so that workers segment alike
    pending: list[_Prepared] = []

    def save_one(prep: _Prepared) -> None:
        with session.begin_nested():
            _, outcome = do_save_article(session, actor, prep.data, note=f"import {prep.rel}", clock=clock,
                                         audit=False)
        setattr(report, outcome, getattr(report, outcome) + 1)

    def flush_pending() -> None:
        try:
            with session.begin_nested():
                _insert_new_articles(session, actor, pending, _clock(clock).now())
            report.created += len(pending)
        except SQLAlchemyError:  # e.g. a slug created meanwhile: one savepoint per file finds the culprit
            for prep in pending:
                try:
                    save_one(prep)
                except BadInput as exc:
                    report.errors.append(f"{prep.rel}: {exc.detail}")
        pending.clear()

    for i, prep in enumerate(_prepared_files(files, root, existing, workers), 1):
        try:
            if prep.error is not None:
                report.errors.append(prep.error)
                continue
            doc = prep.doc
            if doc.slug in seen:
                raise FrontMatterError(f"{prep.rel}:1: slug {doc.slug!r} is also used by {seen[doc.slug]}",
                                       file=prep.rel, line=1)
            seen[doc.slug] = prep.rel
            if doc.type == "video":
                from imdesk.kb import videos

                with session.begin_nested():
                    videos.do_import_video(session, actor, doc, (root / prep.rel).parent, media_root=media_root,
                                           clock=clock)
                report.videos += 1
            elif prep.invalid is not None:
                report.errors.append(prep.invalid)
            elif prep.new:
                pending.append(prep)
                if len(pending) >= IMPORT_BATCH:
                    flush_pending()
            else:
                save_one(prep)
        except FrontMatterError as exc:
            report.errors.append(exc.detail)
        except BadInput as exc:
            report.errors.append(f"{prep.rel}: {exc.detail}")
        finally:
            if progress:
                progress(i, len(files))
    if pending:
        flush_pending()
    if report.created + report.updated + report.videos >= 100:
        optimize_index(session)
    record_audit(session, actor, "kb.import", "kb", root.name[:64] or "-",
                 {"folder": str(root)[:500], "created": report.created, "updated": report.updated,
                  "unchanged": report.unchanged, "videos": report.videos, "errors": len(report.errors)}, clock=clock)
    return report


def _input_from_doc(doc: Document) -> ArticleInput:
    return ArticleInput(slug=doc.slug, title=doc.title, body=doc.body, lang=doc.lang, category=doc.category,
                        module=doc.module, error_codes=doc.error_codes, tags=doc.tags,
                        product_versions=doc.product_versions, status=doc.status)


def export_directory(session: Session, actor: Actor, root: Path) -> int:
    """Write every article as ``<root>/<slug>.md`` in the import format. Returns the count."""
    _require_staff(actor)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    n = 0
    for article in session.scalars(select(Article).order_by(Article.slug)):
        doc = Document(slug=validate_slug(article.slug), title=article.title, body=article.body, lang=article.lang,
                       category=article.category, module=article.module,
                       error_codes=[c.code for c in article.codes], tags=list(article.tags or []),
                       product_versions=list(article.product_versions or []), status=article.status)
        (root / f"{article.slug}.md").write_text(dump_document(doc), encoding="utf-8")
        n += 1
    from imdesk.kb import videos

    n += videos.export_videos(session, root)
    return n


def reindex_all(session: Session, *, progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild the search documents of every published article, video and question."""
    from sqlalchemy.orm import selectinload

    from imdesk.kb import community, videos
    from imdesk.kb.models import SearchDoc

    existing = {(d.doc_type, d.doc_id): d for d in session.scalars(select(SearchDoc).where(SearchDoc.doc_type == "article"))}
    articles = list(session.scalars(select(Article).where(Article.status == "published")
                                    .options(selectinload(Article.codes))))
    total = len(articles)
    for i, a in enumerate(articles, 1):
        _index_article(session, a, existing)
        if progress and (i % 100 == 0 or i == total):
            progress(i, total)
    total += videos.reindex(session) + community.reindex(session)
    optimize_index(session)
    return total


# --- deflection ---------------------------------------------------------------------------------


def do_record_suggestions(session: Session, actor: Actor | None, *, token: str | None, query: str,
                          shown: Iterable[str], clock: Clock | None = None) -> Suggestion:
    """Record (or update) the suggestion session of one ticket form: what was shown."""
    now = _clock(clock).now()
    sugg = None
    if token:
        sugg = session.scalar(select(Suggestion).where(Suggestion.token == str(token)[:40]))
        if sugg is not None and actor is not None and sugg.user_id not in (None, actor.user_id):
            sugg = None
    shown = list(dict.fromkeys(shown))
    if sugg is None:
        sugg = Suggestion(token=secrets.token_urlsafe(18), user_id=actor.user_id if actor else None,
                          org_id=actor.org_id if actor else None, created_at=now, updated_at=now, shown=[])
        session.add(sugg)
    sugg.query = query[:500]
    merged = list(dict.fromkeys([*(sugg.shown or []), *shown]))[:50]
    sugg.shown = merged
    sugg.shown_count = len(merged)
    sugg.updated_at = now
    session.flush()
    return sugg


def _suggestion(session: Session, actor: Actor | None, token: str) -> Suggestion | None:
    sugg = session.scalar(select(Suggestion).where(Suggestion.token == str(token or "")[:40]))
    if sugg is None or (actor is not None and sugg.user_id not in (None, actor.user_id)):
        return None
    return sugg


def do_open_suggestion(session: Session, actor: Actor | None, token: str, slug: str, *,
                       clock: Clock | None = None) -> None:
    sugg = _suggestion(session, actor, token)
    if sugg is not None:
        now = _clock(clock).now()
        sugg.opened_slug = slug
        sugg.opened_at = sugg.opened_at or now
        sugg.updated_at = now


def do_abandon_ticket(session: Session, actor: Actor | None, token: str, *, clock: Clock | None = None) -> bool:
    """The customer says the article solved it and leaves the ticket form: a self-service resolution."""
    sugg = _suggestion(session, actor, token)
    if sugg is None or sugg.ticket_ref:
        return False
    now = _clock(clock).now()
    sugg.abandoned_at = sugg.abandoned_at or now
    sugg.updated_at = now
    return True


def do_link_ticket(session: Session, token: str, ticket_ref: str, *, clock: Clock | None = None) -> bool:
    """Called when the ticket form is submitted anyway (the desk passes the form's ``kb_suggestion``)."""
    sugg = session.scalar(select(Suggestion).where(Suggestion.token == str(token or "")[:40]))
    if sugg is None:
        return False
    sugg.ticket_ref = str(ticket_ref)[:64]
    sugg.abandoned_at = None
    sugg.updated_at = _clock(clock).now()
    return True


def month_key(dt: datetime) -> str:
    return f"{dt.year:04d}-{dt.month:02d}"


# --- attachments --------------------------------------------------------------------------------

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def safe_filename(name: str) -> str:
    """The last path component of ``name`` with control characters and separators removed."""
    import re as _re

    base = str(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _re.sub(r"[\x00-\x1f\x7f]", "", base).strip().lstrip(".")
    if not base:
        raise BadInput("the file needs a name", code="kb_invalid_attachment")
    return base[-200:]


def do_add_attachment(session: Session, actor: Actor, slug: str, *, filename: str, content_type: str,
                      data: bytes, storage: Path, max_bytes: int = MAX_ATTACHMENT_BYTES,
                      clock: Clock | None = None):
    """Store a file for an article under ``storage`` (``<data_dir>/kb/attachments``)."""
    from imdesk.kb.models import Attachment

    _require_staff(actor)
    article = get_article_for_edit(session, validate_slug(slug))
    name = safe_filename(filename)
    if len(data) > max_bytes:
        raise FileTooLarge(f"{name} is larger than {max_bytes // (1024 * 1024)} MB")
    if not data:
        raise BadInput(f"{name} is empty", code="kb_invalid_attachment")
    att = Attachment(article_id=article.id, filename=name, content_type=(content_type or "application/octet-stream")[:120],
                     size=len(data), stored_name="", created_at=_clock(clock).now())
    session.add(att)
    session.flush()
    att.stored_name = f"{att.id:08d}.bin"
    storage.mkdir(parents=True, exist_ok=True)
    (storage / att.stored_name).write_bytes(data)
    record_audit(session, actor, "kb.attachment.added", "kb_article", article.id, {"file": name}, clock=clock)
    return att


def attachments_of(session: Session, article: Article) -> list:
    from imdesk.kb.models import Attachment

    return list(session.scalars(select(Attachment).where(Attachment.article_id == article.id)
                                .order_by(Attachment.id)))


def attachment_path(session: Session, actor: Actor, attachment_id: int, storage: Path):
    from imdesk.kb.models import Attachment

    att = session.get(Attachment, attachment_id)
    if att is None:
        raise ArticleNotFound(f"no attachment {attachment_id}")
    article = session.get(Article, att.article_id)
    if article is None or (article.status != "published" and not actor.is_staff):
        raise ArticleNotFound(f"no attachment {attachment_id}")
    path = (storage / att.stored_name).resolve()
    if storage.resolve() not in path.parents or not path.is_file():
        raise ArticleNotFound(f"attachment {attachment_id} has no file")
    return att, path
