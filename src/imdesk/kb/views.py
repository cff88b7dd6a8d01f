"""HTML pages of the knowledge base: search, articles (feedback, views, editing, revisions),
the error-code catalogue, the deflection partial for the ticket form, videos and the community."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from imdesk.accounts.services import Actor
from imdesk.core.clock import Clock
from imdesk.core.settings import Settings
from imdesk.kb import community, queries, services, videos
from imdesk.kb.catalogue import load_catalogue
from imdesk.kb.errors import InvalidRange
from imdesk.kb.frontmatter import CATEGORIES
from imdesk.kb.ranges import parse_range
from imdesk.kb.render import render_markdown
from imdesk.kb.search import search
from imdesk.kb.vtt import format_ts
from imdesk.web.deps import get_clock, get_session, get_settings, is_htmx_partial, require_actor, require_staff
from imdesk.web.templating import register_nav, render
from imdesk.web.views import register_panel

router = APIRouter(include_in_schema=False)

register_nav("Knowledge base", "/kb", audience="all", order=30)
register_nav("Community", "/kb/questions", audience="all", order=31)
register_nav("Videos", "/kb/videos", audience="all", order=32)

MODULES = ("gateway", "auth", "msg", "push", "group", "org", "file", "api", "storage", "mq", "cluster", "admin")
SUGGEST_LIMIT = 5


def _ui_lang(request: Request) -> str:
    from imdesk.web.templating import request_locale

    return "zh" if request_locale(request) == "zh_CN" else "en"


def _media_root(settings: Settings) -> Path:
    return Path(settings.data_dir) / "kb" / "videos"


def _attachment_root(settings: Settings) -> Path:
    return Path(settings.data_dir) / "kb" / "attachments"


# --- search -------------------------------------------------------------------------------------


@router.get("/kb")
def kb_search_page(request: Request, q: str = "", lang: str = "", category: str = "", module: str = "",
                   type: str = "", actor: Actor = Depends(require_actor),
                   session: Session = Depends(get_session, scope="function")) -> Response:
    result = None
    error = None
    if q.strip():
        try:
            result = queries.run_search(session, q, limit=20, lang=lang or None, category=category or None,
                                        module=module or None, doc_type=type or None)
        except services.BadInput as exc:
            error = exc.detail
    ctx: dict[str, Any] = {
        "q": q, "lang": lang, "category": category, "module": module, "type": type, "result": result,
        "error": error, "categories": CATEGORIES, "modules": MODULES, "ui_lang": _ui_lang(request),
        "recent": [] if q.strip() else queries.list_articles(session, None, limit=10),
    }
    template = "kb/_results.html" if is_htmx_partial(request) else "kb/search.html"
    return render(request, template, ctx)


# --- articles -----------------------------------------------------------------------------------


@router.get("/kb/articles/{slug}")
def article_page(request: Request, slug: str, s: str = "", actor: Actor = Depends(require_actor),
                 session: Session = Depends(get_session, scope="function")) -> Response:
    article = queries.get_article(session, actor, slug)
    if article.status == "published":
        services.do_record_view(session, article)
    catalogue = load_catalogue()
    codes = [catalogue.get(c.code) or c.code for c in article.codes]
    return render(request, "kb/article.html", {
        "article": article, "html": Markup(render_markdown(article.body)), "codes": codes,
        "suggestion": s[:40], "ui_lang": _ui_lang(request),
        "attachments": services.attachments_of(session, article),
        "revisions": queries.revisions(session, article) if actor.is_staff else [],
    })


@router.post("/kb/articles/{slug}/feedback")
def article_feedback(request: Request, slug: str, helpful: str = Form(...), comment: str = Form(""),
                     actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
                     clock: Clock = Depends(get_clock)) -> Response:
    article = services.do_feedback(session, actor, slug, helpful=helpful == "yes", comment=comment, clock=clock)
    if is_htmx_partial(request):
        return render(request, "kb/_feedback.html", {"article": article, "thanks": True})
    return RedirectResponse(f"/kb/articles/{quote(article.slug)}", status_code=303)


@router.get("/kb/manage")
def manage_page(request: Request, status: str = "", actor: Actor = Depends(require_staff),
                session: Session = Depends(get_session, scope="function")) -> Response:
    articles = queries.list_articles(session, actor, status=status or None, limit=500)
    return render(request, "kb/manage.html", {"articles": articles, "status": status,
                                              "months": queries.deflection_by_month(session, actor)})


@router.get("/kb/articles/{slug}/edit")
def edit_page(request: Request, slug: str, actor: Actor = Depends(require_staff),
              session: Session = Depends(get_session, scope="function")) -> Response:
    article = services.get_article_for_edit(session, slug) if slug != "new" else None
    return render(request, "kb/edit.html", {"article": article, "categories": CATEGORIES,
                                            "revisions": queries.revisions(session, article) if article else [],
                                            "attachments": services.attachments_of(session, article) if article else []})


@router.post("/kb/articles/{slug}/attachments")
async def upload_attachment(slug: str, file: UploadFile = File(...), actor: Actor = Depends(require_staff),
                            session: Session = Depends(get_session, scope="function"), settings: Settings = Depends(get_settings),
                            clock: Clock = Depends(get_clock)) -> Response:
    limit = min(settings.max_upload_bytes, services.MAX_ATTACHMENT_BYTES)
    data = await file.read(limit + 1)
    services.do_add_attachment(session, actor, slug, filename=file.filename or "", content_type=file.content_type or "",
                               data=data, storage=_attachment_root(settings), max_bytes=limit, clock=clock)
    return RedirectResponse(f"/kb/articles/{quote(slug)}/edit", status_code=303)


@router.get("/kb/attachments/{attachment_id}")
def download_attachment(attachment_id: int, actor: Actor = Depends(require_actor),
                        session: Session = Depends(get_session, scope="function"), settings: Settings = Depends(get_settings)) -> Response:
    att, path = services.attachment_path(session, actor, attachment_id, _attachment_root(settings))
    return FileResponse(path, filename=att.filename, media_type="application/octet-stream",
                        headers={"X-Content-Type-Options": "nosniff"})


@router.post("/kb/articles/{slug}/edit")
def edit_save(request: Request, slug: str, new_slug: str = Form(""), title: str = Form(...), body: str = Form(""),
              lang: str = Form("zh"), category: str = Form("scenario"), module: str = Form(""),
              error_codes: str = Form(""), tags: str = Form(""), note: str = Form(""),
              actor: Actor = Depends(require_staff), session: Session = Depends(get_session, scope="function"),
              clock: Clock = Depends(get_clock)) -> Response:
    target = new_slug.strip() if slug == "new" else slug
    data = services.ArticleInput(
        slug=target, title=title, body=body, lang=lang, category=category, module=module.strip() or None,
        error_codes=[c for c in error_codes.replace(",", " ").split() if c],
        tags=[t.strip() for t in tags.split(",") if t.strip()],
    )
    article, _ = services.do_save_article(session, actor, data, note=note, clock=clock)
    return RedirectResponse(f"/kb/articles/{quote(article.slug)}/edit", status_code=303)


@router.post("/kb/articles/{slug}/status")
def status_change(slug: str, status: str = Form(...), actor: Actor = Depends(require_staff),
                  session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    article = services.do_transition_article(session, actor, slug, status, clock=clock)
    return RedirectResponse(f"/kb/articles/{quote(article.slug)}/edit", status_code=303)


@router.post("/kb/drafts-from-ticket")
def draft_from_ticket(title: str = Form(...), body: str = Form(""), ticket_ref: str = Form(...),
                      lang: str = Form("zh"), actor: Actor = Depends(require_staff),
                      session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    article = services.draft_article_from_ticket(session, actor, title=title, body=body, ticket_ref=ticket_ref,
                                                 lang=lang, clock=clock)
    return RedirectResponse(f"/kb/articles/{quote(article.slug)}/edit", status_code=303)


# --- error codes --------------------------------------------------------------------------------


@router.get("/kb/error-codes")
def error_codes_page(request: Request, code: str = "", actor: Actor = Depends(require_actor)) -> Response:
    if code.strip():
        entry = queries.lookup_error_code(code.strip())
        return RedirectResponse(f"/kb/error-codes/{entry.code}", status_code=303)
    return render(request, "kb/error_codes.html", {"entries": list(load_catalogue()), "ui_lang": _ui_lang(request)})


@router.get("/kb/error-codes/{code}")
def error_code_page(request: Request, code: str, actor: Actor = Depends(require_actor),
                    session: Session = Depends(get_session, scope="function")) -> Response:
    entry = queries.lookup_error_code(code)
    if code != entry.code:
        return RedirectResponse(f"/kb/error-codes/{entry.code}", status_code=307)
    return render(request, "kb/error_code.html", {
        "entry": entry, "ui_lang": _ui_lang(request), "articles": queries.articles_for_code(session, entry),
    })


# --- deflection ---------------------------------------------------------------------------------


@router.get("/kb/suggest")
def suggest(request: Request, title: str = "", description: str = "", kb_suggestion: str = "",
            actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
            clock: Clock = Depends(get_clock)) -> Response:
    """HTML partial for the ticket form (``hx-get="/kb/suggest" hx-include="#ticket-form"``)."""
    text = f"{title[:300]} {description[:2000]}".strip()
    hits, codes, token = [], [], kb_suggestion[:40]
    if len(text) >= 2:
        res = search(session, text[:500], limit=SUGGEST_LIMIT)
        hits, codes = res.hits, res.codes
        if hits or codes:
            sugg = services.do_record_suggestions(session, actor, token=token or None, query=text,
                                                  shown=[h.slug for h in hits], clock=clock)
            token = sugg.token
    return render(request, "kb/_suggest.html", {"hits": hits, "codes": codes, "token": token,
                                                "ui_lang": _ui_lang(request)})


@router.get("/kb/go/{slug}")
def suggestion_open(slug: str, s: str = "", actor: Actor = Depends(require_actor),
                    session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    services.do_open_suggestion(session, actor, s, slug[:120], clock=clock)
    target = f"/kb/articles/{quote(slug[:120])}"
    if slug.startswith("ERR") or slug.isdigit():
        target = f"/kb/error-codes/{quote(slug[:80])}"
    return RedirectResponse(f"{target}?s={quote(s[:40])}" if s else target, status_code=303)


@router.post("/kb/solved")
def suggestion_solved(request: Request, s: str = Form(""), actor: Actor = Depends(require_actor),
                      session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    ok = services.do_abandon_ticket(session, actor, s, clock=clock)
    if is_htmx_partial(request):
        return render(request, "kb/_solved.html", {"ok": ok})
    return RedirectResponse("/", status_code=303)


# --- videos -------------------------------------------------------------------------------------


@router.get("/kb/videos")
def videos_page(request: Request, actor: Actor = Depends(require_actor),
                session: Session = Depends(get_session, scope="function")) -> Response:
    items = queries.list_videos(session)
    series: dict[str, list] = {}
    for v in items:
        series.setdefault(v.series or "", []).append(v)
    return render(request, "kb/videos.html", {"series": series, "fmt": format_ts})


@router.get("/kb/videos/{slug}")
def video_page(request: Request, slug: str, actor: Actor = Depends(require_actor),
               session: Session = Depends(get_session, scope="function")) -> Response:
    video = videos.get_video(session, slug)
    progress = videos.progress_of(session, actor, video)
    return render(request, "kb/video.html", {"video": video, "progress": progress, "fmt": format_ts,
                                             "description": Markup(render_markdown(video.description))})


@router.post("/kb/videos/{slug}/file")
async def upload_video(slug: str, file: UploadFile = File(...), actor: Actor = Depends(require_staff),
                       session: Session = Depends(get_session, scope="function"), settings: Settings = Depends(get_settings)) -> Response:
    """Replace a video's file (staff). Anything that is not MP4/WebM/Ogg is refused."""
    import shutil
    import tempfile

    video = videos.get_video(session, slug)
    suffix = Path(file.filename or "").suffix.lower()[:8]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"upload{suffix}"
        with src.open("wb") as out:
            shutil.copyfileobj(file.file, out, length=1024 * 1024)
        video.stored_name, video.content_type, video.size = videos.store_video_file(
            src, _media_root(settings), video.slug, max_bytes=settings.max_upload_bytes)
    return RedirectResponse(f"/kb/videos/{quote(video.slug)}", status_code=303)


@router.get("/kb/videos/{slug}/file")
def video_file(request: Request, slug: str, actor: Actor = Depends(require_actor),
               session: Session = Depends(get_session, scope="function"), settings: Settings = Depends(get_settings)) -> Response:
    video = videos.get_video(session, slug)
    path = videos.video_path(video, _media_root(settings))
    size = path.stat().st_size
    headers = {"Accept-Ranges": "bytes", "Content-Type": video.content_type}
    try:
        rng = parse_range(request.headers.get("range"), size)
    except InvalidRange as exc:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"}, content=exc.detail)
    first, last = rng if rng else (0, size - 1)
    length = last - first + 1

    def chunks(chunk: int = 256 * 1024):
        with path.open("rb") as fh:
            fh.seek(first)
            left = length
            while left > 0:
                data = fh.read(min(chunk, left))
                if not data:
                    break
                left -= len(data)
                yield data

    headers["Content-Length"] = str(length)
    if rng is None:
        return StreamingResponse(chunks(), status_code=200, headers=headers, media_type=video.content_type)
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(chunks(), status_code=206, headers=headers, media_type=video.content_type)


# --- community ----------------------------------------------------------------------------------


@router.get("/kb/questions")
def questions_page(request: Request, tag: str = "", actor: Actor = Depends(require_actor),
                   session: Session = Depends(get_session, scope="function")) -> Response:
    return render(request, "kb/questions.html", {"questions": community.list_questions(session, actor, tag=tag or None),
                                                 "tag": tag})


@router.get("/kb/questions/similar")
def similar_partial(request: Request, title: str = "", body: str = "", actor: Actor = Depends(require_actor),
                    session: Session = Depends(get_session, scope="function")) -> Response:
    hits = community.similar_questions(session, f"{title[:300]} {body[:500]}".strip()[:500])
    return render(request, "kb/_similar.html", {"hits": hits})


@router.post("/kb/questions")
def ask(title: str = Form(...), body: str = Form(""), tags: str = Form(""), actor: Actor = Depends(require_actor),
        session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    q = community.do_ask(session, actor, title=title, body=body,
                         tags=[t.strip() for t in tags.split(",") if t.strip()], clock=clock)
    return RedirectResponse(f"/kb/questions/{q.id}", status_code=303)


def _editor_names(session: Session, actor: Actor, ids: set[int | None]) -> dict[int, str]:
    from imdesk.accounts.queries import get_user
    from imdesk.core.errors import NotFound

    names: dict[int, str] = {}
    for uid in ids - {None}:
        try:
            u = get_user(session, actor, uid)
            names[uid] = u.name or u.email
        except NotFound:
            names[uid] = f"#{uid}"
    return names


@router.get("/kb/questions/{qid}")
def question_page(request: Request, qid: int, actor: Actor = Depends(require_actor),
                  session: Session = Depends(get_session, scope="function")) -> Response:
    q = community.get_question(session, actor, qid)
    answers = community.answers_of(session, actor, q)
    history = community.edit_history(session, actor, q.id) if actor.is_staff else []
    return render(request, "kb/question.html", {
        "q": q, "answers": answers, "md": lambda t: Markup(render_markdown(t)),
        "similar": community.similar_questions(session, q.title, exclude=q.id),
        "can_edit": lambda post: community.may_edit(actor, q, post),
        "history": history, "editors": _editor_names(session, actor, {e.editor_id for e in history}),
    })


def _edit_form(request: Request, ctx: dict[str, Any]) -> Response:
    """The edit form: in place (HTMX partial) or as a page of its own without JavaScript."""
    return render(request, "kb/_edit_post.html" if is_htmx_partial(request) else "kb/edit_post.html", ctx)


@router.get("/kb/questions/{qid}/edit")
def edit_question_form(request: Request, qid: int, actor: Actor = Depends(require_actor),
                       session: Session = Depends(get_session, scope="function")) -> Response:
    q = community.get_question(session, actor, qid)
    community.check_may_edit(actor, q, q)
    return _edit_form(request, {"kind": "question", "q": q, "post": q})


@router.post("/kb/questions/{qid}/edit")
def edit_question(qid: int, title: str = Form(...), body: str = Form(""), tags: str = Form(""), note: str = Form(""),
                  actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
                  clock: Clock = Depends(get_clock)) -> Response:
    community.do_edit_question(session, actor, qid, title=title, body=body,
                               tags=[t.strip() for t in tags.split(",") if t.strip()], note=note, clock=clock)
    return RedirectResponse(f"/kb/questions/{qid}", status_code=303)


@router.get("/kb/answers/{aid}/edit")
def edit_answer_form(request: Request, aid: int, actor: Actor = Depends(require_actor),
                     session: Session = Depends(get_session, scope="function")) -> Response:
    q, a = community.get_answer(session, actor, aid)
    community.check_may_edit(actor, q, a)
    return _edit_form(request, {"kind": "answer", "q": q, "post": a})


@router.post("/kb/answers/{aid}/edit")
def edit_answer(aid: int, body: str = Form(...), note: str = Form(""), actor: Actor = Depends(require_actor),
                session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    a = community.do_edit_answer(session, actor, aid, body, note=note, clock=clock)
    return RedirectResponse(f"/kb/questions/{a.question_id}#answer-{a.id}", status_code=303)


@router.post("/kb/questions/{qid}/answers")
def answer(qid: int, body: str = Form(...), actor: Actor = Depends(require_actor),
           session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    community.do_answer(session, actor, qid, body, clock=clock)
    return RedirectResponse(f"/kb/questions/{qid}", status_code=303)


@router.post("/kb/questions/{qid}/vote")
def vote(qid: int, target: str = Form("question"), target_id: int = Form(0), value: int = Form(1),
         actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function")) -> Response:
    if target == "answer" and not target_id:
        raise services.BadInput("which answer? (target_id missing)", code="kb_invalid_vote")
    community.do_vote(session, actor, target, qid if target == "question" else target_id, value)
    return RedirectResponse(f"/kb/questions/{qid}", status_code=303)


@router.post("/kb/questions/{qid}/official")
def official(qid: int, answer_id: int = Form(...), actor: Actor = Depends(require_staff),
             session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    community.do_mark_official(session, actor, qid, answer_id, clock=clock)
    return RedirectResponse(f"/kb/questions/{qid}", status_code=303)


@router.post("/kb/questions/{qid}/moderate")
def moderate(qid: int, action: str = Form(...), answer_id: int = Form(0), actor: Actor = Depends(require_staff),
             session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    flags = {"hide": {"hidden": True}, "unhide": {"hidden": False}, "lock": {"locked": True},
             "unlock": {"locked": False}}.get(action)
    if flags is None:
        raise services.BadInput("action must be hide, unhide, lock or unlock", code="kb_invalid_moderation")
    community.do_moderate(session, actor, qid, answer_id=answer_id or None, clock=clock, **flags)
    return RedirectResponse(f"/kb/questions/{qid}" if action != "hide" or answer_id else "/kb/questions",
                            status_code=303)


# --- dashboard panel ------------------------------------------------------------------------------


def _portal_panel(*, request: Request, session: Session, actor: Actor) -> str | None:
    from imdesk.web.templating import context_for, environment

    return environment().get_template("kb/_panel.html").render(context_for(request, {}))


register_panel(_portal_panel, audience="all", order=40)
