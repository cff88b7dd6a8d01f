"""Community Q&A: questions and answers with votes and tags, the staff-marked official answer
(shown first, with a badge), similar questions while asking, links to articles and error codes,
moderation (hide, lock). Questions are indexed by the same search engine."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from imdesk.accounts.services import Actor, record_audit
from imdesk.core.clock import Clock, SystemClock
from imdesk.core.errors import BadInput, PermissionDenied
from imdesk.kb.errors import QuestionLocked, QuestionNotFound
from imdesk.kb.models import Answer, PostEdit, Question, Vote
from imdesk.kb.search import Filters, Hit, remove_doc, search, upsert_doc
from imdesk.kb.text import extract_codes

MAX_TITLE = 300
MAX_BODY = 20_000


def _check_text(title: str | None, body: str, *, need_title: bool) -> None:
    if need_title and (not (title or "").strip() or len(title or "") > MAX_TITLE):
        raise BadInput(f"title must be 1-{MAX_TITLE} characters", code="kb_invalid_question")
    if not (body or "").strip() and not need_title:
        raise BadInput("an answer must not be empty", code="kb_invalid_answer")
    if len(body or "") > MAX_BODY:
        raise BadInput(f"text is longer than {MAX_BODY} characters", code="kb_invalid_question")


def index_question(session: Session, q: Question) -> None:
    if q.hidden:
        remove_doc(session, "question", q.id)
        return
    answers = [a.body for a in session.scalars(select(Answer).where(Answer.question_id == q.id,
                                                                     Answer.hidden.is_(False)))]
    upsert_doc(session, doc_type="question", doc_id=q.id, slug=str(q.id), title=q.title,
               body_text=q.body + "\n" + "\n".join(answers), lang=q.lang, category=None, module=None,
               codes=list(q.error_codes or []), extra_index_text=" ".join(q.tags or []))


def reindex(session: Session) -> int:
    n = 0
    for q in session.scalars(select(Question)):
        index_question(session, q)
        n += 1
    return n


def do_ask(session: Session, actor: Actor, *, title: str, body: str, tags: list[str] | None = None,
           lang: str = "zh", article_slugs: list[str] | None = None, clock: Clock | None = None) -> Question:
    _check_text(title, body, need_title=True)
    now = (clock or SystemClock()).now()
    codes = extract_codes(title + " " + body)
    q = Question(title=title.strip(), body=body or "", author_id=actor.user_id, lang=lang if lang in ("zh", "en") else "zh",
                 tags=_clean_tags(tags), error_codes=codes[:10],
                 article_slugs=list(article_slugs or [])[:10], created_at=now, updated_at=now)
    session.add(q)
    session.flush()
    index_question(session, q)
    record_audit(session, actor, "kb.question.asked", "kb_question", q.id, {}, clock=clock)
    return q


def get_question(session: Session, actor: Actor | None, qid: int) -> Question:
    q = session.get(Question, qid)
    if q is None or (q.hidden and not (actor and actor.is_staff)):
        raise QuestionNotFound(f"no question {qid}")
    return q


def do_answer(session: Session, actor: Actor, qid: int, body: str, *, clock: Clock | None = None) -> Answer:
    q = get_question(session, actor, qid)
    if q.locked:
        raise QuestionLocked("this question is locked")
    _check_text(None, body, need_title=False)
    now = (clock or SystemClock()).now()
    a = Answer(question_id=q.id, author_id=actor.user_id, body=body.strip(), created_at=now, updated_at=now)
    session.add(a)
    session.flush()
    index_question(session, q)
    return a


def check_may_edit(actor: Actor, q: Question, post: Question | Answer) -> None:
    """Authors edit their own posts while the question is open; staff (agents, admins…) edit any
    post as moderators, locked or not."""
    if not (actor.is_staff or (actor.user_id is not None and actor.user_id == post.author_id)):
        raise PermissionDenied(f"only the author or staff may edit this {'question' if post is q else 'answer'}")
    if q.locked and not actor.is_staff:
        raise QuestionLocked("this question is locked")


def may_edit(actor: Actor, q: Question, post: Question | Answer) -> bool:
    try:
        check_may_edit(actor, q, post)
    except (PermissionDenied, QuestionLocked):
        return False
    return True


def _clean_tags(tags: list[str] | None) -> list[str]:
    return [t.strip()[:40] for t in (tags or []) if t and t.strip()][:10]


def do_edit_question(session: Session, actor: Actor, qid: int, *, title: str | None = None, body: str | None = None,
                     tags: list[str] | None = None, note: str = "", clock: Clock | None = None) -> Question:
    """Edit a question's title, body and/or tags (``None`` keeps a field). The previous text goes
    to the edit history; the question is marked edited and re-indexed. A locked question can only
    be edited by staff. Returns the question (unchanged input writes nothing)."""
    q = get_question(session, actor, qid)
    check_may_edit(actor, q, q)
    new_title = q.title if title is None else title.strip()
    new_body = q.body if body is None else (body or "")
    new_tags = list(q.tags or []) if tags is None else _clean_tags(tags)
    _check_text(new_title, new_body, need_title=True)
    if (new_title, new_body, new_tags) == (q.title, q.body, list(q.tags or [])):
        return q
    now = (clock or SystemClock()).now()
    session.add(PostEdit(question_id=q.id, target_type="question", target_id=q.id, editor_id=actor.user_id,
                         by_moderator=actor.user_id != q.author_id, old_title=q.title, old_body=q.body,
                         old_tags=list(q.tags or []), note=(note or "").strip()[:300], created_at=now))
    q.title, q.body, q.tags = new_title, new_body, new_tags
    q.error_codes = extract_codes(new_title + " " + new_body)[:10]
    q.edited_at, q.edited_by, q.updated_at = now, actor.user_id, now
    session.flush()
    index_question(session, q)
    record_audit(session, actor, "kb.question.edited", "kb_question", q.id, {"by_moderator": actor.user_id != q.author_id},
                 clock=clock)
    return q


def get_answer(session: Session, actor: Actor | None, aid: int) -> tuple[Question, Answer]:
    """An answer and its question as ``actor`` may see them (hidden ones only for staff)."""
    a = session.get(Answer, aid)
    if a is None or (a.hidden and not (actor and actor.is_staff)):
        raise QuestionNotFound(f"no answer {aid}")
    return get_question(session, actor, a.question_id), a


def do_edit_answer(session: Session, actor: Actor, aid: int, body: str, *, note: str = "",
                   clock: Clock | None = None) -> Answer:
    """Edit an answer's text (author or staff). An official answer stays official."""
    q, a = get_answer(session, actor, aid)
    check_may_edit(actor, q, a)
    _check_text(None, body, need_title=False)
    new_body = body.strip()
    if new_body == a.body:
        return a
    now = (clock or SystemClock()).now()
    session.add(PostEdit(question_id=q.id, target_type="answer", target_id=a.id, editor_id=actor.user_id,
                         by_moderator=actor.user_id != a.author_id, old_body=a.body, note=(note or "").strip()[:300],
                         created_at=now))
    a.body = new_body
    a.edited_at, a.edited_by, a.updated_at = now, actor.user_id, now
    session.flush()
    index_question(session, q)
    record_audit(session, actor, "kb.answer.edited", "kb_question", q.id,
                 {"answer_id": a.id, "by_moderator": actor.user_id != a.author_id}, clock=clock)
    return a


def edit_history(session: Session, actor: Actor, qid: int) -> list[PostEdit]:
    """Every edit of a question and its answers, oldest first (staff only)."""
    if not actor.is_staff:
        raise PermissionDenied("the edit history is for staff")
    q = get_question(session, actor, qid)
    return list(session.scalars(select(PostEdit).where(PostEdit.question_id == q.id)
                                .order_by(PostEdit.created_at, PostEdit.id)))


def do_vote(session: Session, actor: Actor, target_type: str, target_id: int, value: int) -> int:
    """Up (+1), down (-1) or withdraw (0) a vote; one vote per user and target. Returns the score."""
    if target_type not in ("question", "answer") or value not in (-1, 0, 1):
        raise BadInput("vote on a question or answer with +1, -1 or 0", code="kb_invalid_vote")
    if actor.user_id is None:
        raise PermissionDenied("voting needs a user")
    target = session.get(Question if target_type == "question" else Answer, target_id)
    if target is None or target.hidden:
        raise QuestionNotFound(f"no {target_type} {target_id}")
    vote = session.scalar(select(Vote).where(Vote.user_id == actor.user_id, Vote.target_type == target_type,
                                             Vote.target_id == target_id))
    old = vote.value if vote else 0
    if vote is None and value != 0:
        session.add(Vote(user_id=actor.user_id, target_type=target_type, target_id=target_id, value=value))
    elif vote is not None:
        if value == 0:
            session.delete(vote)
        else:
            vote.value = value
    target.score += value - old
    return target.score


def do_mark_official(session: Session, actor: Actor, qid: int, answer_id: int | None,
                     *, clock: Clock | None = None) -> Question:
    if not actor.is_staff:
        raise PermissionDenied("only staff mark the official answer")
    q = get_question(session, actor, qid)
    if answer_id is not None:
        a = session.get(Answer, answer_id)
        if a is None or a.question_id != q.id:
            raise QuestionNotFound(f"no answer {answer_id} on question {qid}")
    q.official_answer_id = answer_id
    record_audit(session, actor, "kb.question.official", "kb_question", q.id, {"answer_id": answer_id}, clock=clock)
    return q


def do_moderate(session: Session, actor: Actor, qid: int, *, hidden: bool | None = None, locked: bool | None = None,
                answer_id: int | None = None, clock: Clock | None = None) -> Question:
    if not actor.is_staff:
        raise PermissionDenied("only staff moderate the community")
    q = get_question(session, actor, qid)
    if answer_id is not None:
        a = session.get(Answer, answer_id)
        if a is None or a.question_id != q.id:
            raise QuestionNotFound(f"no answer {answer_id} on question {qid}")
        if hidden is not None:
            a.hidden = hidden
    else:
        if hidden is not None:
            q.hidden = hidden
        if locked is not None:
            q.locked = locked
    index_question(session, q)
    record_audit(session, actor, "kb.question.moderated", "kb_question", q.id,
                 {"hidden": hidden, "locked": locked, "answer_id": answer_id}, clock=clock)
    return q


def answers_of(session: Session, actor: Actor | None, q: Question) -> list[Answer]:
    """Official answer first, then by score; hidden answers only for staff."""
    stmt = select(Answer).where(Answer.question_id == q.id)
    if not (actor and actor.is_staff):
        stmt = stmt.where(Answer.hidden.is_(False))
    answers = list(session.scalars(stmt))
    answers.sort(key=lambda a: (a.id != q.official_answer_id, -a.score, a.id))
    return answers


def similar_questions(session: Session, text: str, *, limit: int = 5, exclude: int | None = None) -> list[Hit]:
    if not (text or "").strip():
        return []
    hits = search(session, text, limit=limit + 1, filters=Filters(doc_type="question")).hits
    return [h for h in hits if h.slug != str(exclude)][:limit]


def list_questions(session: Session, actor: Actor | None, *, tag: str | None = None, limit: int = 50) -> list[Question]:
    stmt = select(Question).order_by(Question.created_at.desc(), Question.id.desc()).limit(limit)
    if not (actor and actor.is_staff):
        stmt = stmt.where(Question.hidden.is_(False))
    qs = list(session.scalars(stmt))
    if tag:
        qs = [q for q in qs if tag in (q.tags or [])]
    return qs
