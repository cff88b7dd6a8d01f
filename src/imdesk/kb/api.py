"""REST routes of the knowledge base under ``/api/v1/kb``: parse → service/query → JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from imdesk.accounts.services import Actor
from imdesk.core.clock import Clock
from imdesk.kb import community, queries, services, videos
from imdesk.kb.models import Answer, Article, Question
from imdesk.kb.render import render_markdown
from imdesk.kb.schemas import (
    AnswerEditIn,
    AnswerIn,
    ArticleIn,
    DraftFromTicketIn,
    FeedbackIn,
    ModerateIn,
    OfficialIn,
    ProgressIn,
    QuestionEditIn,
    QuestionIn,
    StatusIn,
    TicketLinkIn,
    VoteIn,
)
from imdesk.web.deps import get_clock, get_session, require_actor, require_staff

router = APIRouter(prefix="/api/v1/kb", tags=["kb"])


def _lang(actor: Actor) -> str:
    return "en" if (actor.locale or "").startswith("en") else "zh"


def article_json(article: Article, *, with_body: bool = True) -> dict[str, Any]:
    d: dict[str, Any] = {
        "slug": article.slug, "title": article.title, "lang": article.lang, "category": article.category,
        "module": article.module, "error_codes": [c.code for c in article.codes], "tags": list(article.tags or []),
        "product_versions": list(article.product_versions or []), "status": article.status,
        "views": article.views, "helpful_yes": article.helpful_yes, "helpful_no": article.helpful_no,
        "updated_at": article.updated_at.isoformat() if article.updated_at else None,
        "url": f"/kb/articles/{article.slug}",
    }
    if with_body:
        d["body"] = article.body
        d["html"] = render_markdown(article.body)
    return d


@router.get("/search")
def api_search(
    q: str = Query(..., max_length=500, description="Query in Chinese or English; error codes first."),
    limit: int = Query(10, ge=1, le=100),
    lang: str | None = Query(None),
    category: str | None = Query(None),
    module: str | None = Query(None),
    type: str | None = Query(None, description="article | video | question"),
    actor: Actor = Depends(require_actor),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    return queries.search_json(session, q, limit=limit, lang=lang, category=category, module=module, doc_type=type,
                               ui_lang=_lang(actor))


@router.get("/error-codes")
def api_error_codes(actor: Actor = Depends(require_actor)) -> dict[str, Any]:
    from imdesk.kb.catalogue import load_catalogue

    return {"codes": [e.as_dict() for e in load_catalogue()]}


@router.get("/error-codes/{code}")
def api_error_code(code: str, actor: Actor = Depends(require_actor),
                   session: Session = Depends(get_session, scope="function")) -> dict[str, Any]:
    entry = queries.lookup_error_code(code)
    data = entry.as_dict()
    data["articles"] = [{"slug": a.slug, "title": a.title, "lang": a.lang, "url": f"/kb/articles/{a.slug}"}
                        for a in queries.articles_for_code(session, entry)]
    data["url"] = f"/kb/error-codes/{entry.code}"
    return data


@router.get("/articles")
def api_articles(status: str | None = None, lang: str | None = None, category: str | None = None,
                 actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function")) -> dict[str, Any]:
    queries.check_filters(lang, category, None)
    items = queries.list_articles(session, actor, status=status, lang=lang, category=category)
    return {"articles": [article_json(a, with_body=False) for a in items]}


@router.get("/articles/{slug}")
def api_article(slug: str, actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function")):
    return article_json(queries.get_article(session, actor, slug))


@router.post("/articles", status_code=201)
def api_save_article(body: ArticleIn, actor: Actor = Depends(require_staff), session: Session = Depends(get_session, scope="function"),
                     clock: Clock = Depends(get_clock)) -> dict[str, Any]:
    data = body.model_dump()
    note = data.pop("note")
    article, _changed = services.do_save_article(session, actor, services.ArticleInput(**data), note=note, clock=clock)
    return article_json(article)


@router.post("/articles/{slug}/status")
def api_article_status(slug: str, body: StatusIn, actor: Actor = Depends(require_staff),
                       session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)):
    return article_json(services.do_transition_article(session, actor, slug, body.status, clock=clock))


@router.get("/articles/{slug}/revisions")
def api_revisions(slug: str, actor: Actor = Depends(require_staff), session: Session = Depends(get_session, scope="function")):
    article = queries.get_article(session, actor, slug)
    return {"revisions": [{"number": r.number, "title": r.title, "status": r.status, "note": r.note,
                           "author_id": r.author_id, "created_at": r.created_at.isoformat()}
                          for r in queries.revisions(session, article)]}


@router.post("/articles/{slug}/feedback")
def api_feedback(slug: str, body: FeedbackIn, actor: Actor = Depends(require_actor),
                 session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)):
    a = services.do_feedback(session, actor, slug, helpful=body.helpful, comment=body.comment, clock=clock)
    return {"helpful_yes": a.helpful_yes, "helpful_no": a.helpful_no}


@router.post("/drafts-from-ticket", status_code=201)
def api_draft_from_ticket(body: DraftFromTicketIn, actor: Actor = Depends(require_staff),
                          session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)):
    article = services.draft_article_from_ticket(session, actor, title=body.title, body=body.body,
                                                 ticket_ref=body.ticket_ref, lang=body.lang, clock=clock)
    return article_json(article)


@router.post("/suggestions/{token}/ticket")
def api_link_ticket(token: str, body: TicketLinkIn, actor: Actor = Depends(require_actor),
                    session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)):
    return {"linked": services.do_link_ticket(session, token, body.ticket_ref, clock=clock)}


@router.get("/deflection")
def api_deflection(actor: Actor = Depends(require_staff), session: Session = Depends(get_session, scope="function")):
    return {"months": queries.deflection_by_month(session, actor)}


# --- community ------------------------------------------------------------------------------------

def _iso(dt) -> str | None:
    return dt.isoformat() if dt else None


def answer_json(q: Question, a: Answer) -> dict[str, Any]:
    return {"id": a.id, "question_id": a.question_id, "body": a.body, "html": render_markdown(a.body), "score": a.score,
            "official": a.id == q.official_answer_id, "hidden": a.hidden, "edited": a.edited_at is not None,
            "edited_at": _iso(a.edited_at)}


def question_json(session: Session, actor: Actor, q: Question) -> dict[str, Any]:
    return {
        "id": q.id, "title": q.title, "body": q.body, "html": render_markdown(q.body), "tags": list(q.tags or []),
        "error_codes": list(q.error_codes or []), "score": q.score, "hidden": q.hidden, "locked": q.locked,
        "official_answer_id": q.official_answer_id, "url": f"/kb/questions/{q.id}",
        "edited": q.edited_at is not None, "edited_at": _iso(q.edited_at),
        "answers": [answer_json(q, a) for a in community.answers_of(session, actor, q)],
    }


@router.post("/questions", status_code=201)
def api_ask(body: QuestionIn, actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
            clock: Clock = Depends(get_clock)):
    q = community.do_ask(session, actor, title=body.title, body=body.body, tags=body.tags, lang=body.lang,
                         article_slugs=body.article_slugs, clock=clock)
    return question_json(session, actor, q)


@router.get("/questions/similar")
def api_similar(q: str = Query(..., max_length=500), actor: Actor = Depends(require_actor),
                session: Session = Depends(get_session, scope="function")):
    return {"results": [h.as_result() for h in community.similar_questions(session, q)]}


@router.get("/questions/{qid}")
def api_question(qid: int, actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function")):
    return question_json(session, actor, community.get_question(session, actor, qid))


@router.patch("/questions/{qid}")
def api_edit_question(qid: int, body: QuestionEditIn, actor: Actor = Depends(require_actor),
                      session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)):
    q = community.do_edit_question(session, actor, qid, title=body.title, body=body.body, tags=body.tags,
                                   note=body.note, clock=clock)
    return question_json(session, actor, q)


@router.patch("/answers/{aid}")
def api_edit_answer(aid: int, body: AnswerEditIn, actor: Actor = Depends(require_actor),
                    session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)):
    a = community.do_edit_answer(session, actor, aid, body.body, note=body.note, clock=clock)
    return answer_json(community.get_question(session, actor, a.question_id), a)


@router.get("/questions/{qid}/history")
def api_edit_history(qid: int, actor: Actor = Depends(require_staff),
                     session: Session = Depends(get_session, scope="function")):
    return {"edits": [{"target_type": e.target_type, "target_id": e.target_id, "editor_id": e.editor_id,
                       "by_moderator": e.by_moderator, "old_title": e.old_title, "old_body": e.old_body,
                       "old_tags": e.old_tags, "note": e.note, "edited_at": _iso(e.created_at)}
                      for e in community.edit_history(session, actor, qid)]}


@router.post("/questions/{qid}/answers", status_code=201)
def api_answer(qid: int, body: AnswerIn, actor: Actor = Depends(require_actor),
               session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)):
    a = community.do_answer(session, actor, qid, body.body, clock=clock)
    return {"id": a.id, "question_id": a.question_id}


@router.post("/questions/{qid}/vote")
def api_vote_question(qid: int, body: VoteIn, actor: Actor = Depends(require_actor),
                      session: Session = Depends(get_session, scope="function")):
    return {"score": community.do_vote(session, actor, "question", qid, body.value)}


@router.post("/answers/{aid}/vote")
def api_vote_answer(aid: int, body: VoteIn, actor: Actor = Depends(require_actor),
                    session: Session = Depends(get_session, scope="function")):
    return {"score": community.do_vote(session, actor, "answer", aid, body.value)}


@router.post("/questions/{qid}/official")
def api_official(qid: int, body: OfficialIn, actor: Actor = Depends(require_staff),
                 session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)):
    q = community.do_mark_official(session, actor, qid, body.answer_id, clock=clock)
    return question_json(session, actor, q)


@router.post("/questions/{qid}/moderate")
def api_moderate(qid: int, body: ModerateIn, actor: Actor = Depends(require_staff),
                 session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)):
    q = community.do_moderate(session, actor, qid, hidden=body.hidden, locked=body.locked, answer_id=body.answer_id,
                              clock=clock)
    return question_json(session, actor, q)


# --- videos ---------------------------------------------------------------------------------------

@router.get("/videos")
def api_videos(actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function")):
    return {"videos": [{"slug": v.slug, "title": v.title, "duration": v.duration, "series": v.series,
                        "series_order": v.series_order, "topics": list(v.topics or []), "chapters": v.chapters,
                        "url": f"/kb/videos/{v.slug}", "file": f"/kb/videos/{v.slug}/file" if v.stored_name else None}
                       for v in queries.list_videos(session)]}


@router.put("/videos/{slug}/progress")
def api_progress(slug: str, body: ProgressIn, actor: Actor = Depends(require_actor),
                 session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)):
    wp = videos.do_save_progress(session, actor, slug, body.position, clock=clock)
    return {"position": wp.position, "completed": wp.completed}
