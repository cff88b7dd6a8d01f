"""The read side of the knowledge base, shared by API, pages and CLI.

The knowledge base is shared content (not tenant data): published articles, videos and the
community are visible to every signed-in user; drafts, revisions and moderation to staff only.
Deflection statistics are per organisation for customers (through the scoping helpers).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imdesk.accounts.scoping import scope_query
from imdesk.accounts.services import Actor
from imdesk.kb.catalogue import ErrorCodeEntry, load_catalogue
from imdesk.kb.errors import ArticleNotFound, ErrorCodeNotFound, InvalidQuery
from imdesk.kb.frontmatter import CATEGORIES, LANGS
from imdesk.kb.models import Article, ArticleCode, Revision, Suggestion, Video
from imdesk.kb.queryplan import code_key
from imdesk.kb.search import Filters, SearchResult, search
from imdesk.kb.services import month_key

MAX_QUERY = 500


def check_filters(lang: str | None, category: str | None, module: str | None, doc_type: str | None = None) -> Filters:
    if lang and lang not in LANGS:
        raise InvalidQuery(f"lang must be one of {', '.join(LANGS)}")
    if category and category not in CATEGORIES:
        raise InvalidQuery(f"category must be one of {', '.join(CATEGORIES)}")
    if module and len(module) > 40:
        raise InvalidQuery("module is too long")
    if doc_type and doc_type not in ("article", "video", "question"):
        raise InvalidQuery("type must be article, video or question")
    return Filters(category=category or None, module=module or None, lang=lang or None, doc_type=doc_type or None)


def run_search(session: Session, q: str, *, limit: int = 10, lang: str | None = None, category: str | None = None,
               module: str | None = None, doc_type: str | None = None, profile: str | None = None) -> SearchResult:
    if q is None or not q.strip():
        raise InvalidQuery("the query must not be empty")
    if len(q) > MAX_QUERY:
        raise InvalidQuery(f"the query is longer than {MAX_QUERY} characters")
    if not 1 <= int(limit) <= 100:
        raise InvalidQuery("limit must be between 1 and 100")
    return search(session, q, limit=limit, filters=check_filters(lang, category, module, doc_type), profile=profile)


def search_json(session: Session, q: str, *, limit: int = 10, lang: str | None = None, category: str | None = None,
                module: str | None = None, doc_type: str | None = None, ui_lang: str = "zh") -> dict[str, Any]:
    res = run_search(session, q, limit=limit, lang=lang, category=category, module=module, doc_type=doc_type)
    return {
        "results": [h.as_result() for h in res.hits],
        "error_codes": [{"code": e.code, "title": e.text("title", ui_lang), "url": f"/kb/error-codes/{e.code}"}
                        for e in res.codes],
        "took_ms": round(res.took_ms, 2),
    }


def lookup_error_code(code: str, profile: str | None = None) -> ErrorCodeEntry:
    cat = load_catalogue(profile)
    entry = cat.get(code)
    if entry is None:
        near = cat.fuzzy(code) if isinstance(code, str) else []
        hint = f"; did you mean {', '.join(e.code for e in near[:3])}?" if near else ""
        raise ErrorCodeNotFound(f"unknown error code {str(code)[:60]!r}{hint}",
                                suggestions=[e.code for e in near[:3]])
    return entry


def articles_for_code(session: Session, entry: ErrorCodeEntry) -> list[Article]:
    ids = set(session.scalars(select(ArticleCode.article_id).where(ArticleCode.code_key == code_key(entry.code))))
    stmt = select(Article).where(Article.status == "published")
    stmt = stmt.where(Article.id.in_(ids) | (Article.slug == entry.kb)) if entry.kb else stmt.where(Article.id.in_(ids))
    return list(session.scalars(stmt.order_by(Article.slug)))


def get_article(session: Session, actor: Actor | None, slug: str) -> Article:
    article = session.scalar(select(Article).where(Article.slug == slug))
    if article is None or (article.status != "published" and not (actor and actor.is_staff)):
        raise ArticleNotFound(f"no article {slug[:80]!r}")
    return article


def list_articles(session: Session, actor: Actor | None, *, status: str | None = None, lang: str | None = None,
                  category: str | None = None, limit: int = 200) -> list[Article]:
    stmt = select(Article).order_by(Article.updated_at.desc(), Article.id.desc()).limit(limit)
    if not (actor and actor.is_staff):
        stmt = stmt.where(Article.status == "published")
    elif status:
        stmt = stmt.where(Article.status == status)
    if lang:
        stmt = stmt.where(Article.lang == lang)
    if category:
        stmt = stmt.where(Article.category == category)
    return list(session.scalars(stmt))


def revisions(session: Session, article: Article) -> list[Revision]:
    return list(session.scalars(select(Revision).where(Revision.article_id == article.id)
                                .order_by(Revision.number.desc())))


def list_videos(session: Session) -> list[Video]:
    return list(session.scalars(select(Video).order_by(Video.series.nulls_last(), Video.series_order, Video.title)))


def deflection_by_month(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Per month: suggestion sessions, sessions where an article was opened, sessions that ended
    without a ticket because the article helped (self-service resolution), and the rate."""
    stmt = scope_query(select(Suggestion), actor, Suggestion.org_id).where(Suggestion.shown_count > 0)
    months: dict[str, dict[str, int]] = {}
    for s in session.scalars(stmt):
        m = months.setdefault(month_key(s.created_at), {"sessions": 0, "opened": 0, "resolved": 0, "tickets": 0})
        m["sessions"] += 1
        m["opened"] += 1 if s.opened_at else 0
        m["resolved"] += 1 if s.abandoned_at and not s.ticket_ref else 0
        m["tickets"] += 1 if s.ticket_ref else 0
    return [{"month": k, **v, "rate": (v["resolved"] / v["sessions"]) if v["sessions"] else 0.0}
            for k, v in sorted(months.items())]


def count_articles(session: Session) -> int:
    return session.scalar(select(func.count(Article.id))) or 0
