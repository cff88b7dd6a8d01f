"""REST routes of the desk (contract in DESIGN.md): thin — parse, call a service or query, return JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from imdesk.accounts.services import Actor
from imdesk.core.clock import Clock
from imdesk.core.errors import BadInput
from imdesk.core.settings import Settings
from imdesk.desk import queries, report, services
from imdesk.desk.errors import UploadConflict
from imdesk.desk.schemas import (
    AssignIn,
    DecisionIn,
    GroupIn,
    IncidentIn,
    LinkIn,
    MergeIn,
    PriorityIn,
    RatingIn,
    ReplyIn,
    SolutionIn,
    StatusIn,
    TicketCreate,
    UploadIn,
)
from imdesk.web.deps import get_clock, get_session, get_settings, require_actor, require_staff

router = APIRouter(prefix="/api/v1", tags=["desk"])



def _view(session: Session, actor: Actor, ticket_id: int) -> dict[str, Any]:
    session.flush()
    return queries.ticket_view(session, actor, ticket_id)


@router.post("/tickets", status_code=201)
def create_ticket(body: TicketCreate, actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
                  clock: Clock = Depends(get_clock)) -> dict[str, Any]:
    ticket = services.create_ticket(session, actor, clock=clock, title=body.title, description=body.description,
                                    channel=body.channel, priority=body.priority, org_id=body.org_id)
    return _view(session, actor, ticket.id)


@router.get("/tickets")
def list_tickets(queue: str = "all", status: str | None = None, priority: str | None = None, group: str | None = None,
                 q: str | None = None, org_id: int | None = None, page: int = 1, per_page: int = 25,
                 actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
                 clock: Clock = Depends(get_clock)) -> dict[str, Any]:
    f = queries.TicketFilter(queue=queue, status=status, priority=priority, group=group, q=q, org_id=org_id,
                             page=page, per_page=per_page)
    return queries.list_tickets(session, actor, f, now=clock.now())


@router.get("/tickets/{ticket_id}")
def get_ticket(ticket_id: int, actor: Actor = Depends(require_actor),
               session: Session = Depends(get_session, scope="function")) -> dict[str, Any]:
    return _ticket_detail(session, actor, ticket_id)


def _ticket_detail(session: Session, actor: Actor, ticket_id: int) -> dict[str, Any]:
    out = queries.ticket_view(session, actor, ticket_id)
    ticket = queries.get_ticket(session, actor, ticket_id)
    out["timeline"] = [{k: v for k, v in e.items() if k != "at_dt"} for e in queries.timeline(session, actor, ticket)]
    out["links"] = queries.links(session, actor, ticket)
    out["attachments"] = [{"id": a.id, "filename": a.filename, "size": a.size, "content_type": a.content_type}
                          for a in queries.attachments(session, actor, ticket)]
    rating = queries.rating_of(session, ticket.id)
    out["rating"] = {"score": rating.score, "comment": rating.comment} if rating else None
    return out


@router.post("/tickets/{ticket_id}/replies", status_code=201)
def add_reply(ticket_id: int, body: ReplyIn, actor: Actor = Depends(require_actor),
              session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> dict[str, Any]:
    ev = services.do_add_reply(session, actor, ticket_id, body.body, internal=body.internal,
                               wait_for_customer=body.wait_for_customer, clock=clock)
    return {"id": ev.id, "kind": ev.kind, "public": ev.public, "ticket": _view(session, actor, ticket_id)}


@router.post("/tickets/{ticket_id}/solution", status_code=201)
def propose_solution(ticket_id: int, body: SolutionIn, actor: Actor = Depends(require_actor),
                     session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock),
                     settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    services.do_propose_solution(session, actor, ticket_id, body.body, settings=settings, clock=clock)
    return _view(session, actor, ticket_id)


@router.post("/tickets/{ticket_id}/solution/decision")
def decide_solution(ticket_id: int, body: DecisionIn, actor: Actor = Depends(require_actor),
                    session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock),
                    settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    if body.accept:
        services.do_accept_solution(session, actor, ticket_id, settings=settings, clock=clock)
    else:
        services.do_reject_solution(session, actor, ticket_id, body.reason, clock=clock)
    return _view(session, actor, ticket_id)


@router.post("/tickets/{ticket_id}/rating", status_code=201)
def rate(ticket_id: int, body: RatingIn, actor: Actor = Depends(require_actor),
         session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> dict[str, Any]:
    r = services.do_rate(session, actor, ticket_id, body.score, body.comment, clock=clock)
    return {"ticket_id": ticket_id, "score": r.score, "comment": r.comment}


@router.post("/ratings/{token}", status_code=201)
def rate_via_link(token: str, body: RatingIn, session: Session = Depends(get_session, scope="function"),
                  clock: Clock = Depends(get_clock), settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    """The signed link of the rating e-mail (no login needed; the token is the credential)."""
    r = services.do_rate_via_link(session, token, body.score, body.comment, settings=settings, clock=clock)
    return {"ticket_id": r.ticket_id, "score": r.score, "comment": r.comment}


@router.post("/tickets/{ticket_id}/status")
def change_status(ticket_id: int, body: StatusIn, actor: Actor = Depends(require_actor),
                  session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock),
                  settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    services.do_change_status(session, actor, ticket_id, body.action, reason=body.reason, settings=settings,
                              clock=clock)
    return _view(session, actor, ticket_id)


@router.post("/tickets/{ticket_id}/priority")
def set_priority(ticket_id: int, body: PriorityIn, actor: Actor = Depends(require_actor),
                 session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> dict[str, Any]:
    services.do_set_priority(session, actor, ticket_id, body.priority, reason=body.reason, clock=clock)
    return _view(session, actor, ticket_id)


@router.post("/tickets/{ticket_id}/group")
def set_group(ticket_id: int, body: GroupIn, actor: Actor = Depends(require_actor),
              session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> dict[str, Any]:
    services.do_set_group(session, actor, ticket_id, body.group, reason=body.reason, clock=clock)
    return _view(session, actor, ticket_id)


@router.post("/tickets/{ticket_id}/assign")
def assign(ticket_id: int, body: AssignIn, actor: Actor = Depends(require_actor),
           session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> dict[str, Any]:
    services.do_assign(session, actor, ticket_id, body.assignee_id, clock=clock)
    return _view(session, actor, ticket_id)


@router.post("/tickets/{ticket_id}/merge")
def merge(ticket_id: int, body: MergeIn, actor: Actor = Depends(require_actor),
          session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> dict[str, Any]:
    target = services.do_merge(session, actor, ticket_id, body.into, clock=clock)
    return _view(session, actor, target.id)


@router.post("/tickets/{ticket_id}/links", status_code=201)
def link(ticket_id: int, body: LinkIn, actor: Actor = Depends(require_actor),
         session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> dict[str, Any]:
    services.do_link(session, actor, ticket_id, body.other, clock=clock)
    return {"links": queries.links(session, actor, queries.get_ticket(session, actor, ticket_id))}


@router.post("/incidents", status_code=201)
def create_incident(body: IncidentIn, actor: Actor = Depends(require_staff), session: Session = Depends(get_session, scope="function"),
                    clock: Clock = Depends(get_clock)) -> dict[str, Any]:
    inc = services.do_create_incident(session, actor, title=body.title, description=body.description,
                                      org_id=body.org_id, ticket_ids=body.tickets, priority=body.priority, clock=clock)
    return _view(session, actor, inc.id)


@router.post("/tickets/{ticket_id}/attachments", status_code=201)
async def upload_attachment(ticket_id: int, request: Request, file: UploadFile = File(...), public: bool = Form(True),
                            actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
                            clock: Clock = Depends(get_clock), settings: Settings = Depends(get_settings)):
    data = await file.read(services.ATTACHMENT_MAX + 1)
    att = services.do_add_attachment(session, actor, ticket_id, file.filename or "file", data, settings=settings,
                                     clock=clock, public=public)
    return {"id": att.id, "filename": att.filename, "size": att.size, "content_type": att.content_type,
            "sha256": att.sha256}


@router.get("/attachments/{attachment_id}")
def download_attachment(attachment_id: int, actor: Actor = Depends(require_actor),
                        session: Session = Depends(get_session, scope="function")) -> Response:
    att, data = services.attachment_bytes(session, actor, attachment_id)
    return Response(data, media_type=att.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(att.filename)}",
        "X-Content-Type-Options": "nosniff"})


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


@router.get("/desk/report")
def sla_report(month: str | None = None, actor: Actor = Depends(require_staff),
               session: Session = Depends(get_session, scope="function"),
               clock: Clock = Depends(get_clock)) -> dict[str, Any]:
    """The monthly SLA report (``month=YYYY-MM``, default the current month), as on /desk/report."""
    return report.monthly(session, month or clock.now().strftime("%Y-%m"), now=clock.now())


@router.get("/csat")
def csat(actor: Actor = Depends(require_staff), session: Session = Depends(get_session, scope="function")) -> dict[str, Any]:
    return queries.csat(session)


# -- resumable uploads (bundle upload, issue 6) --------------------------------------------------

@router.post("/uploads", status_code=201)
def start_upload(body: UploadIn, actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
                 clock: Clock = Depends(get_clock), settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    up = services.do_start_upload(session, actor, ticket_id=body.ticket, filename=body.filename, size=body.size,
                                  sha256=body.sha256, settings=settings, clock=clock)
    return {"id": up.token, "offset": up.offset}


@router.head("/uploads/{upload_id}")
def upload_offset(upload_id: str, actor: Actor = Depends(require_actor),
                  session: Session = Depends(get_session, scope="function")) -> Response:
    up = services.get_upload(session, actor, upload_id)
    return Response(status_code=200, headers={"Upload-Offset": str(up.offset), "Upload-Length": str(up.size),
                                              "Cache-Control": "no-store"})


@router.patch("/uploads/{upload_id}")
async def upload_chunk(upload_id: str, request: Request, actor: Actor = Depends(require_actor),
                       session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock),
                       settings: Settings = Depends(get_settings)) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/offset+octet-stream":
        raise BadInput("Content-Type must be application/offset+octet-stream")
    raw = request.headers.get("upload-offset", "")
    if not raw.isdigit():
        raise BadInput("Upload-Offset header must be a non-negative integer")
    chunk = await request.body()
    up = services.do_append_upload(session, actor, upload_id, int(raw), chunk, settings=settings, clock=clock)
    if getattr(up, "checksum_failed", False):
        session.commit()  # keep the reset offset, then report the conflict
        raise UploadConflict("sha256 of the uploaded bytes does not match; upload restarted at offset 0", offset=0)
    headers = {"Upload-Offset": str(up.offset)}
    if up.attachment_id:
        headers["X-Attachment-Id"] = str(up.attachment_id)
    return Response(status_code=204, headers=headers)


@router.put("/desk/agents/{user_id}/absence", status_code=204)
def set_absence(user_id: int, body: dict, actor: Actor = Depends(require_staff),
                session: Session = Depends(get_session, scope="function")) -> Response:
    """``{"start": ISO8601, "end": ISO8601}`` (or both null to clear): routing skips absent agents."""
    from datetime import datetime as _dt

    def parse(v):
        if v is None:
            return None
        try:
            d = _dt.fromisoformat(str(v))
        except ValueError:
            raise BadInput(f"not an ISO 8601 date-time: {v!r}") from None
        if d.tzinfo is None:
            raise BadInput("date-times need an offset, e.g. +08:00")
        return d

    services.do_set_absence(session, actor, user_id, parse(body.get("start")), parse(body.get("end")))
    return Response(status_code=204)
