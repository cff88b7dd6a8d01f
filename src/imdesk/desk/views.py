"""HTML routes of the desk: agent workspace (queues, ticket page) and customer portal (submit, list,
reply, accept/reject, rate), the signed rating link and the monthly SLA report. HTMX partials are
returned when ``is_htmx_partial(request)``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from imdesk.accounts import queries as account_queries
from imdesk.accounts.services import Actor
from imdesk.core.clock import SHANGHAI, Clock
from imdesk.core.errors import BadInput, ImdeskError
from imdesk.core.settings import Settings
from imdesk.desk import editors, queries, report, services
from imdesk.desk.store import desk_config
from imdesk.kb import services as kb_services
from imdesk.web.deps import (
    get_clock,
    get_session,
    get_settings,
    is_htmx_partial,
    require_actor,
    require_admin,
    require_staff,
)
from imdesk.web.templating import register_nav, render, request_locale
from imdesk.web.views import register_panel

router = APIRouter(include_in_schema=False)

STATUS_LABELS = {
    "new": "New", "triaged": "Triaged", "assigned": "Assigned", "in_progress": "In progress",
    "waiting_customer": "Waiting for customer", "solution_proposed": "Solution proposed",
    "resolved": "Resolved", "closed": "Closed",
}
QUEUE_LABELS = {"mine": "Mine", "group": "My groups", "unassigned": "Unassigned", "breaching": "Breaching soon",
                "open": "All open", "all": "All"}
ACTION_LABELS = {"start": "Start work", "wait_customer": "Wait for customer", "resolve": "Resolve",
                 "close": "Close", "reopen": "Reopen"}
EVENT_LABELS = {
    "created": "Ticket created", "status": "Status changed", "classified": "Classified", "priority": "Priority set",
    "assigned": "Assigned", "unassigned": "Waiting in the group queue", "reply": "Reply", "note": "Internal note",
    "solution": "Solution proposed", "rating": "Rated", "sla_paused": "SLA clock paused",
    "sla_resumed": "SLA clock resumed", "sla_warning": "SLA warning", "sla_breach": "SLA breached",
    "merged": "Merged", "linked": "Linked", "incident": "Part of an incident", "incident_child": "Ticket attached",
    "attachment": "Attachment", "group": "Group changed", "notified": "Notified",
}

register_nav("Ticket queues", "/desk", audience="staff", order=10)
register_nav("SLA report", "/desk/report", audience="staff", order=60)
register_nav("My tickets", "/tickets", audience="customer", order=10)
register_nav("New ticket", "/tickets/new", audience="customer", order=11)


def countdown(due: datetime | None, now: datetime) -> str:
    if due is None:
        return "—"
    secs = int((due - now).total_seconds())
    sign = "-" if secs < 0 else ""
    secs = abs(secs)
    d, rem = divmod(secs, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    if d:
        return f"{sign}{d}d {h}h"
    if h:
        return f"{sign}{h}h {m}m"
    return f"{sign}{m}m"


def _common(session: Session, request: Request, clock: Clock) -> dict[str, Any]:
    cfg = desk_config(session)
    locale = request_locale(request)
    groups = queries.group_names(session)
    return {
        "status_labels": STATUS_LABELS, "queue_labels": QUEUE_LABELS, "event_labels": EVENT_LABELS,
        "action_labels": ACTION_LABELS, "now": clock.now(), "countdown": countdown,
        "group_label": lambda key: next((g["zh"] if locale == "zh_CN" else g["en"]
                                         for g in groups.values() if g["key"] == key), key or "—"),
        "group_keys": sorted(cfg.groups),
    }


# -- agent workspace ----------------------------------------------------------------------------

@router.get("/desk")
def queue_page(request: Request, queue: str = "mine", status: str | None = None, priority: str | None = None,
               group: str | None = None, q: str | None = None, page: int = 1,
               actor: Actor = Depends(require_staff), session: Session = Depends(get_session, scope="function"),
               clock: Clock = Depends(get_clock)) -> Response:
    f = queries.TicketFilter(queue=queue, status=status or None, priority=priority or None, group=group or None,
                             q=q or None, page=page, per_page=50)
    result = queries.list_tickets(session, actor, f, now=clock.now())
    ctx = {"result": result, "f": f, **_common(session, request, clock)}
    if is_htmx_partial(request):
        return render(request, "desk/_queue_table.html", ctx)
    return render(request, "desk/queue.html", ctx)


def _ticket_ctx(session: Session, actor: Actor, ticket_id: int, request: Request, clock: Clock) -> dict[str, Any]:
    ticket = queries.get_ticket(session, actor, ticket_id)
    ctx = {
        "t": queries.ticket_dict(ticket, queries.group_names(session), staff=actor.is_staff),
        "ticket": ticket,
        "events": queries.timeline(session, actor, ticket),
        "links": queries.links(session, actor, ticket),
        "attachments": queries.attachments(session, actor, ticket),
        "rating": queries.rating_of(session, ticket.id),
        "actions": queries.actions_for(actor, ticket),
        **_common(session, request, clock),
    }
    if actor.is_staff:
        ctx["staff"] = account_queries.staff_users(session)
        ctx["canned"] = queries.canned_responses(session, actor)
        org = account_queries.org_info_unscoped(session, ticket.org_id)
        ctx["org"] = org
    return ctx


@router.get("/tickets/{ticket_id:int}")
def ticket_page(ticket_id: int, request: Request, actor: Actor = Depends(require_actor),
                session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    ctx = _ticket_ctx(session, actor, ticket_id, request, clock)
    if is_htmx_partial(request):
        return render(request, "desk/_ticket_body.html", ctx)
    return render(request, "desk/ticket.html", ctx)


def _after_write(request: Request, session: Session, actor: Actor, ticket_id: int, clock: Clock,
                 error: str | None = None) -> Response:
    if is_htmx_partial(request):
        session.flush()
        ctx = _ticket_ctx(session, actor, ticket_id, request, clock)
        ctx["error"] = error
        return render(request, "desk/_ticket_body.html", ctx)
    if error:
        ctx = _ticket_ctx(session, actor, ticket_id, request, clock)
        ctx["error"] = error
        return render(request, "desk/ticket.html", ctx, status_code=422)
    return RedirectResponse(f"/tickets/{ticket_id:int}", status_code=303)


def _guarded(request, session, actor, ticket_id, clock, fn) -> Response:
    """Run a write; a refused write (4xx) re-renders the ticket with the message, nothing stored."""
    try:
        with session.begin_nested():
            fn()
    except ImdeskError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        return _after_write(request, session, actor, ticket_id, clock, error=exc.detail)
    return _after_write(request, session, actor, ticket_id, clock)


@router.post("/tickets/{ticket_id:int}/reply")
def reply_form(ticket_id: int, request: Request, body: str = Form(""), kind: str = Form("reply"),
               actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
               clock: Clock = Depends(get_clock), settings: Settings = Depends(get_settings)) -> Response:
    def run() -> None:
        if kind == "solution":
            services.do_propose_solution(session, actor, ticket_id, body, settings=settings, clock=clock)
        else:
            services.do_add_reply(session, actor, ticket_id, body, internal=kind == "note",
                                  wait_for_customer=kind == "wait", clock=clock)
    return _guarded(request, session, actor, ticket_id, clock, run)


@router.post("/tickets/{ticket_id:int}/status")
def status_form(ticket_id: int, request: Request, action: str = Form(...), reason: str = Form(""),
                actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
                clock: Clock = Depends(get_clock), settings: Settings = Depends(get_settings)) -> Response:
    def run() -> None:
        if action == "accept_solution":
            services.do_accept_solution(session, actor, ticket_id, settings=settings, clock=clock)
        elif action == "reject_solution":
            services.do_reject_solution(session, actor, ticket_id, reason, clock=clock)
        else:
            services.do_change_status(session, actor, ticket_id, action, reason=reason, settings=settings, clock=clock)
    return _guarded(request, session, actor, ticket_id, clock, run)


@router.post("/tickets/{ticket_id:int}/triage")
def triage_form(ticket_id: int, request: Request, priority: str = Form(""), group: str = Form(""),
                assignee_id: str = Form(""), reason: str = Form(""), actor: Actor = Depends(require_staff),
                session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    def run() -> None:
        ticket = queries.get_ticket(session, actor, ticket_id)
        if priority and priority != ticket.priority:
            services.do_set_priority(session, actor, ticket_id, priority, reason=reason, clock=clock)
        gkeys = {v["key"]: k for k, v in queries.group_names(session).items()}
        if group and gkeys.get(group) != ticket.group_id:
            services.do_set_group(session, actor, ticket_id, group, reason=reason, clock=clock)
        if assignee_id == "auto":
            services.do_assign(session, actor, ticket_id, None, clock=clock)
        elif assignee_id.isdigit() and int(assignee_id) != ticket.assignee_id:
            services.do_assign(session, actor, ticket_id, int(assignee_id), clock=clock)
    return _guarded(request, session, actor, ticket_id, clock, run)


RELATIONS = ("merge", "link", "incident", "new_incident")


@router.post("/tickets/{ticket_id:int}/relate")
def relate_form(ticket_id: int, request: Request, relation: str = Form(...), other: str = Form(""),
                actor: Actor = Depends(require_staff), session: Session = Depends(get_session, scope="function"),
                clock: Clock = Depends(get_clock)) -> Response:
    """Merge this ticket into another, link it, attach it to an incident, or declare a new incident."""
    def run() -> None:
        if relation not in RELATIONS:
            raise BadInput(f"relation must be one of {', '.join(RELATIONS)}")
        if relation == "new_incident":
            t = queries.get_ticket(session, actor, ticket_id)
            services.do_create_incident(session, actor, title=t.title, description=t.description, org_id=t.org_id,
                                        ticket_ids=[t.id], priority=t.priority, clock=clock)
            return
        other_id = queries.ticket_id_from_ref(session, actor, other)
        if relation == "merge":
            services.do_merge(session, actor, ticket_id, other_id, clock=clock)
        elif relation == "link":
            services.do_link(session, actor, ticket_id, other_id, clock=clock)
        else:
            services.do_attach_to_incident(session, actor, ticket_id, other_id, clock=clock)
    return _guarded(request, session, actor, ticket_id, clock, run)


@router.post("/tickets/{ticket_id:int}/rate")
def rate_form(ticket_id: int, request: Request, score: str = Form(""), comment: str = Form(""),
              actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
              clock: Clock = Depends(get_clock)) -> Response:
    return _guarded(request, session, actor, ticket_id, clock,
                    lambda: services.do_rate(session, actor, ticket_id, score, comment, clock=clock))


@router.post("/tickets/{ticket_id:int}/attach")
async def attach_form(ticket_id: int, request: Request, file: UploadFile = File(...),
                      actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
                      clock: Clock = Depends(get_clock), settings: Settings = Depends(get_settings)) -> Response:
    data = await file.read(services.ATTACHMENT_MAX + 1)
    return _guarded(request, session, actor, ticket_id, clock,
                    lambda: services.do_add_attachment(session, actor, ticket_id, file.filename or "file", data,
                                                       settings=settings, clock=clock))


# -- customer portal ----------------------------------------------------------------------------

@router.get("/tickets")
def my_tickets(request: Request, status: str | None = None, page: int = 1, actor: Actor = Depends(require_actor),
               session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    f = queries.TicketFilter(queue="all", status=status or None, page=page, per_page=50)
    result = queries.list_tickets(session, actor, f, now=clock.now())
    return render(request, "desk/my_tickets.html", {"result": result, "f": f, **_common(session, request, clock)})


@router.get("/tickets/new")
def new_ticket_page(request: Request, actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
                    clock: Clock = Depends(get_clock)) -> Response:
    orgs = account_queries.list_orgs(session, actor) if actor.is_staff else []
    return render(request, "desk/new_ticket.html", {"form": {}, "error": None, "orgs": orgs,
                                                    **_common(session, request, clock)})


@router.post("/tickets/new")
async def new_ticket_submit(request: Request, actor: Actor = Depends(require_actor),
                            session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock),
                            settings: Settings = Depends(get_settings)) -> Response:
    async with request.form() as form:
        fields = {k: form.get(k) for k in ("title", "description", "priority", "org_id", "kb_suggestion")}
        fields = {k: (v if isinstance(v, str) else None) for k, v in fields.items()}
        uploads = []
        for f in form.getlist("attachments"):
            if getattr(f, "filename", None):
                uploads.append((f.filename, await f.read(services.ATTACHMENT_MAX + 1)))
    org_id = int(fields["org_id"]) if str(fields.get("org_id") or "").isdigit() else None
    try:
        with session.begin_nested():
            ticket = services.create_ticket(session, actor, clock=clock, title=fields["title"],
                                            description=fields["description"] or "", channel="web",
                                            priority=fields["priority"] or None, org_id=org_id)
            for name, data in uploads:
                services.do_add_attachment(session, actor, ticket.id, name, data, settings=settings, clock=clock)
            if fields.get("kb_suggestion"):  # the customer saw KB suggestions and still opened a ticket
                kb_services.do_link_ticket(session, fields["kb_suggestion"], ticket.number, clock=clock)
    except ImdeskError as exc:
        if exc.status >= 500:
            raise
        orgs = account_queries.list_orgs(session, actor) if actor.is_staff else []
        return render(request, "desk/new_ticket.html", {"form": fields, "error": exc.detail, "orgs": orgs,
                                                        **_common(session, request, clock)}, status_code=422)
    return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)


# -- rating link (no login: the signed token is the credential) ------------------------------------

@router.get("/rate/{token}")
def rate_link_page(token: str, request: Request, session: Session = Depends(get_session, scope="function"),
                   clock: Clock = Depends(get_clock), settings: Settings = Depends(get_settings)) -> Response:
    from imdesk.channels.links import LinkInvalid, verify_rating_link

    try:
        verify_rating_link(settings.secret_key, token, now=clock.now())
    except LinkInvalid as exc:
        return render(request, "desk/rate.html", {"error": exc.detail, "token": None, "done": False}, status_code=422)
    return render(request, "desk/rate.html", {"error": None, "token": token, "done": False})


@router.post("/rate/{token}")
def rate_link_submit(token: str, request: Request, score: str = Form(""), comment: str = Form(""),
                     session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock),
                     settings: Settings = Depends(get_settings)) -> Response:
    try:
        with session.begin_nested():
            services.do_rate_via_link(session, token, score, comment, settings=settings, clock=clock)
    except ImdeskError as exc:
        if exc.status >= 500:
            raise
        return render(request, "desk/rate.html", {"error": exc.detail, "token": token, "done": False},
                      status_code=exc.status)
    return render(request, "desk/rate.html", {"error": None, "token": None, "done": True})


# -- monthly SLA report ---------------------------------------------------------------------------

@router.get("/desk/report")
def report_page(request: Request, month: str | None = None, actor: Actor = Depends(require_staff),
                session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    data = report.monthly(session, month or clock.now().strftime("%Y-%m"), now=clock.now())
    return render(request, "desk/report.html", {"r": data, "charts": report.svg_charts(data)})


@router.get("/desk/report.csv")
def report_csv(month: str | None = None, actor: Actor = Depends(require_staff),
               session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    data = report.monthly(session, month or clock.now().strftime("%Y-%m"), now=clock.now())
    return Response(report.to_csv(data), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="sla-report-{data["month"]}.csv"'})


@router.get("/desk/report.json")
def report_json(month: str | None = None, actor: Actor = Depends(require_staff),
                session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    import json as _json

    data = report.monthly(session, month or clock.now().strftime("%Y-%m"), now=clock.now())
    return Response(_json.dumps(data, ensure_ascii=False, indent=1), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="sla-report-{data["month"]}.json"'})


# -- dashboard panels -----------------------------------------------------------------------------

def _staff_panel(*, request: Request, session: Session, actor: Actor) -> str | None:
    from imdesk.web.templating import context_for, environment

    clock = request.app.state.clock
    counts = {}
    for q in ("mine", "unassigned", "breaching"):
        counts[q] = len(queries.list_tickets(session, actor, queries.TicketFilter(queue=q, per_page=200),
                                             now=clock.now())["items"])
    return environment().get_template("desk/_panel_staff.html").render(
        context_for(request, {"counts": counts, "queue_labels": QUEUE_LABELS}))


def _customer_panel(*, request: Request, session: Session, actor: Actor) -> str | None:
    from imdesk.web.templating import context_for, environment

    clock = request.app.state.clock
    result = queries.list_tickets(session, actor, queries.TicketFilter(per_page=5), now=clock.now())
    return environment().get_template("desk/_panel_customer.html").render(
        context_for(request, {"result": result, "status_labels": STATUS_LABELS}))


register_panel(_staff_panel, audience="staff", order=10)
register_panel(_customer_panel, audience="customer", order=10)


# -- administration -----------------------------------------------------------------------------

def _admin_ctx(session: Session, clock: Clock, error: str | None = None, saved: str | None = None, *,
               policy_ed: editors.PolicyEditor | None = None,
               rules_ed: editors.RulesEditor | None = None,
               priority_ed: editors.PriorityEditor | None = None) -> dict[str, Any]:
    """The admin page; ``policy_ed`` / ``rules_ed`` / ``priority_ed`` replace the stored state of the
    editor just submitted (so what the admin typed, and the errors next to it, are shown)."""
    ctx = queries.admin_overview(session, today=clock.now().date())
    eds = [editors.policy_editor(d) for d in ctx["policy_data"].values()] + [editors.new_policy_editor()]
    if policy_ed is not None and policy_ed.is_new and policy_ed.saved:  # stored: now one of the existing ones
        for e in eds:
            e.saved = e.saved or (not e.is_new and e.name == policy_ed.name)
    elif policy_ed is not None:
        eds = [policy_ed if e.dom_id == policy_ed.dom_id else e for e in eds]
    rules_ed = rules_ed or _fresh_rules_editor(ctx["rule_data"].get("classification") or {})
    priority_ed = priority_ed or _fresh_priority_editor(ctx["rule_data"].get("priority_rules") or {})
    return {**ctx, "error": error, "saved": saved, "policy_editors": eds, "rules_ed": rules_ed,
            "priority_ed": priority_ed, **_priority_lookup()}


def _saved_copy(ed: editors.PolicyEditor) -> editors.PolicyEditor:
    out = editors.policy_editor(ed.data or {})
    out.saved = True
    return out


def _fresh_rules_editor(data: dict[str, Any]) -> editors.RulesEditor:
    """The stored rules, plus one empty keyword row and one empty error-code row to fill in (adding
    rows without JavaScript)."""
    ed = editors.rules_editor(data)
    ed.keywords.append({"kw": "", "w": "1", "group": ""})
    ed.codes.append({"code": "", "group": ""})
    return ed


def _fresh_priority_editor(data: dict[str, Any]) -> editors.PriorityEditor:
    """The stored priority rules plus one empty signal row."""
    ed = editors.priority_editor(data)
    ed.signals.append(editors.blank_signal())
    return ed


async def _form_lists(request: Request) -> dict[str, list[str]]:
    async with request.form() as form:
        return {k: [str(v) for v in form.getlist(k)] for k in form}


def _editor_response(request: Request, session: Session, clock: Clock, template: str, ctx_extra: dict[str, Any],
                     *, failed: bool, **admin_kw: Any) -> Response:
    """HTMX: the editor's partial (200, so HTMX swaps it in, errors included). Without HTMX: the
    whole admin page with this editor's state (422 when nothing was saved)."""
    if is_htmx_partial(request):
        return render(request, template, {**ctx_extra, **_lookup_ctx(session)})
    return render(request, "desk/admin.html", _admin_ctx(session, clock, **admin_kw),
                  status_code=422 if failed else 200)


def _lookup_ctx(session: Session) -> dict[str, Any]:
    cfg = desk_config(session)
    return {"calendar_names": sorted(cfg.calendar_configs) + ["24x7"], "group_keys": sorted(cfg.groups)}


def _store(session: Session, ed: editors.PolicyEditor | editors.RulesEditor | editors.PriorityEditor,
           save: Callable[[], None]) -> None:
    """Run ``save`` (a service call storing ``ed.data``) in a savepoint when the form was valid: a
    refusal by the service lands on the form (``_form``) and nothing is stored."""
    if ed.data is None:
        return
    try:
        with session.begin_nested():
            save()
        ed.saved = True
    except ImdeskError as exc:
        if exc.status >= 500:
            raise
        ed.errors["_form"] = (exc.detail, {})


@router.post("/desk/admin/policy")
async def admin_policy(request: Request, actor: Actor = Depends(require_admin),
                       session: Session = Depends(get_session, scope="function"),
                       clock: Clock = Depends(get_clock)) -> Response:
    """Save one SLA policy from the structured editor (``policy`` = the stored name, empty for a new one)."""
    form = await _form_lists(request)
    name = (form.get("policy") or [""])[0]
    overview = queries.admin_overview(session, today=clock.now().date())
    existing = overview["policy_data"].get(name) if name else None
    if name and existing is None:
        raise BadInput(f"unknown SLA policy {name!r}", field="policy")
    ed = editors.parse_policy_form(form, existing=existing, calendars=overview["calendar_names"],
                                   taken_names=overview["policy_data"])
    _store(session, ed, lambda: services.do_update_policy(session, actor, ed.data))
    eds = [ed]
    if ed.saved and ed.is_new:
        eds = [_saved_copy(ed), editors.new_policy_editor()]
    return _editor_response(request, session, clock, "desk/_policy_forms.html", {"policy_editors": eds},
                            failed=not ed.saved, policy_ed=ed)


@router.post("/desk/admin/rules")
async def admin_rules(request: Request, actor: Actor = Depends(require_admin),
                      session: Session = Depends(get_session, scope="function"),
                      clock: Clock = Depends(get_clock)) -> Response:
    """Save the keyword classification rules from the structured editor."""
    def parse(form: editors.Form, existing: dict[str, Any], overview: dict[str, Any]) -> editors.RulesEditor:
        return editors.parse_rules_form(form, existing=existing, groups=overview["group_keys"])

    return await _save_rule_set(request, session, actor, clock, "classification", parse, _fresh_rules_editor,
                                "desk/_rules_editor.html", "rules_ed")


@router.get("/desk/admin/rules/row")
def admin_rule_row(request: Request, kind: str = "keyword", actor: Actor = Depends(require_admin),
                   session: Session = Depends(get_session, scope="function")) -> Response:
    """An empty keyword (``kind=keyword``) or error-code (``kind=code``) row for the rules editor."""
    if kind not in ("keyword", "code"):
        raise BadInput("kind must be keyword or code", field="kind")
    row = {"kw": "", "w": "1", "group": ""} if kind == "keyword" else {"code": "", "group": ""}
    return render(request, f"desk/_{kind}_row.html", {"row": row, "i": None, "errors": {}, **_lookup_ctx(session)})


async def _save_rule_set(request: Request, session: Session, actor: Actor, clock: Clock, name: str,
                         parse: Callable[[editors.Form, dict[str, Any], dict[str, Any]], Any],
                         fresh: Callable[[dict[str, Any]], Any], template: str, key: str,
                         extra: dict[str, Any] | None = None) -> Response:
    """Parse the submitted form of the rule set ``name`` (``parse(form, stored JSON, admin overview)``),
    store it through ``services.do_update_rule_set`` (the JSON editor's path) when valid and answer
    with the editor: the stored state afresh when saved, the typed one with its errors if not."""
    form = await _form_lists(request)
    overview = queries.admin_overview(session, today=clock.now().date())
    ed = parse(form, overview["rule_data"].get(name) or {}, overview)
    _store(session, ed, lambda: services.do_update_rule_set(session, actor, name, ed.data))
    if ed.saved:
        ed = fresh(ed.data or {})
        ed.saved = True
    return _editor_response(request, session, clock, template, {key: ed, **(extra or {})},
                            failed=not ed.saved, **{key: ed})


def _priority_lookup() -> dict[str, Any]:
    return {"dimension_levels": editors.LEVELS, "priorities": editors.PRIORITIES}


@router.post("/desk/admin/priority")
async def admin_priority(request: Request, actor: Actor = Depends(require_admin),
                         session: Session = Depends(get_session, scope="function"),
                         clock: Clock = Depends(get_clock)) -> Response:
    """Save the priority rules (signals and the default priority) from the structured editor."""
    return await _save_rule_set(request, session, actor, clock, "priority_rules",
                                lambda form, existing, _overview: editors.parse_priority_form(form, existing=existing),
                                _fresh_priority_editor, "desk/_priority_editor.html", "priority_ed", _priority_lookup())


@router.get("/desk/admin/priority/row")
def admin_priority_row(request: Request, sig_id: str = "", sig_dimension: str = "impact", sig_level: str = "",
                       sig_keywords: str = "", actor: Actor = Depends(require_admin)) -> Response:
    """A signal row of the priority editor: empty (add a row), or the row as typed with the levels of
    its (changed) dimension, the first of them chosen when the typed level is not one of them."""
    levels = editors.LEVELS.get(sig_dimension)
    if levels is None:
        raise BadInput(f"unknown dimension {sig_dimension!r}: expected one of {', '.join(editors.LEVELS)}",
                       field="sig_dimension")
    row = {"id": sig_id, "dimension": sig_dimension, "level": sig_level if sig_level in levels else levels[0],
           "keywords": sig_keywords}
    return render(request, "desk/_signal_row.html", {"row": row, "i": None, "errors": {}, **_priority_lookup()})


@router.get("/desk/admin")
def admin_page(request: Request, actor: Actor = Depends(require_admin),
               session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)):
    return render(request, "desk/admin.html", _admin_ctx(session, clock))


@router.post("/desk/admin")
async def admin_submit(request: Request, actor: Actor = Depends(require_admin),
                       session: Session = Depends(get_session, scope="function"),
                       clock: Clock = Depends(get_clock)) -> Response:
    import json as _json

    async with request.form() as form:
        what = str(form.get("what") or "")
        data = {k: form.getlist(k) for k in form}
    first = {k: (v[0] if v else "") for k, v in data.items()}
    try:
        with session.begin_nested():
            if what == "group":
                members = [int(x) for x in data.get("members", []) if str(x).isdigit()]
                lead = first.get("lead_user_id", "")
                services.do_update_group(session, actor, first.get("key", ""), name_en=first.get("name_en"),
                                         name_zh=first.get("name_zh"),
                                         lead_user_id=int(lead) if str(lead).isdigit() else None,
                                         member_ids=members, active=first.get("active") == "on")
            elif what in ("classification", "priority_rules", "policy"):
                try:
                    payload = _json.loads(first.get("data") or "")
                except ValueError as exc:
                    from imdesk.core.errors import BadInput

                    raise BadInput(f"not valid JSON: {exc}") from None
                if what == "policy":
                    services.do_update_policy(session, actor, payload)
                else:
                    services.do_update_rule_set(session, actor, what, payload)
            elif what == "override":
                services.do_set_calendar_override(session, actor, first.get("day"), first.get("kind") == "workday",
                                                  first.get("note", ""))
            elif what == "canned":
                services.do_create_canned(session, actor, title=first.get("title"), body=first.get("body"),
                                          group_key=first.get("group") or None)
            else:
                from imdesk.core.errors import BadInput

                raise BadInput(f"unknown form {what!r}")
    except ImdeskError as exc:
        if exc.status >= 500:
            raise
        return render(request, "desk/admin.html", _admin_ctx(session, clock, error=exc.detail), status_code=422)
    return render(request, "desk/admin.html", _admin_ctx(session, clock, saved=what))


register_nav("Desk settings", "/desk/admin", audience="staff", order=90)


# -- agents' working hours and absence ------------------------------------------------------------

AGENT_FIELDS = ("calendar", "work_start", "work_end", "absent_from", "absent_until")
_AGENT_ERRORS = {  # field -> what the form says (translated), whatever the service's English detail
    "calendar": "choose one of the calendars",
    "work_start": "a time of day (HH:MM); give both start and end, or neither; an end before the start is a night shift",
    "work_end": "a time of day (HH:MM); give both start and end, or neither; an end before the start is a night shift",
    "absent_from": "a date and time; give both, the start before the end",
    "absent_until": "a date and time; give both, the start before the end",
}


def _local_input(dt: datetime | None) -> str:
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M") if dt else ""


def _parse_local(value: str, field: str) -> datetime | None:
    """A ``datetime-local`` value, read in Asia/Shanghai (an explicit offset is kept)."""
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"not a date and time: {value!r}", field=field) from None
    return d.replace(tzinfo=SHANGHAI) if d.tzinfo is None else d


def _agents_ctx(session: Session, actor: Actor, clock: Clock, edited: dict[str, Any] | None = None) -> dict[str, Any]:
    agents = queries.agents_overview(session, now=clock.now())
    for a in agents:
        a["form"] = {"calendar": a["calendar"], "work_start": a["work_start"], "work_end": a["work_end"],
                     "absent_from": _local_input(a["absent_from"]), "absent_until": _local_input(a["absent_until"])}
        a["errors"], a["saved"] = {}, False
        a["editable"] = actor.is_admin or actor.user_id == a["id"]
        if edited and edited["id"] == a["id"]:
            a["errors"], a["saved"] = edited["errors"], edited["saved"]
            if edited["errors"]:
                a["form"] = edited["form"]
    return {"agents": agents, "calendar_names": sorted(desk_config(session).calendar_configs) + ["24x7"]}


@router.get("/desk/agents")
def agents_page(request: Request, actor: Actor = Depends(require_staff),
                session: Session = Depends(get_session, scope="function"), clock: Clock = Depends(get_clock)) -> Response:
    """Working calendar, hours and absence of every agent (routing assigns by them); admins edit
    anyone's, agents their own."""
    return render(request, "desk/agents.html", _agents_ctx(session, actor, clock))


@router.post("/desk/agents/{user_id:int}")
async def agent_form(user_id: int, request: Request, actor: Actor = Depends(require_staff),
                     session: Session = Depends(get_session, scope="function"),
                     clock: Clock = Depends(get_clock)) -> Response:
    form = await _form_lists(request)
    values = {k: (form.get(k) or [""])[0].strip() for k in AGENT_FIELDS}
    if (form.get("action") or [""])[0] == "clear_absence":
        values["absent_from"] = values["absent_until"] = ""
    errors: dict[str, Any] = {}
    try:
        with session.begin_nested():
            services.do_set_working_hours(session, actor, user_id, calendar=values["calendar"],
                                          start=values["work_start"], end=values["work_end"])
            services.do_set_absence(session, actor, user_id, _parse_local(values["absent_from"], "absent_from"),
                                    _parse_local(values["absent_until"], "absent_until"))
    except ImdeskError as exc:
        if exc.status >= 500 or exc.status in (401, 403, 404):
            raise
        field = exc.extra.get("field")
        errors[field if field in _AGENT_ERRORS else "_form"] = (_AGENT_ERRORS.get(field, exc.detail), {})
    ctx = _agents_ctx(session, actor, clock, {"id": user_id, "errors": errors, "saved": not errors, "form": values})
    if is_htmx_partial(request):
        agent = next((a for a in ctx["agents"] if a["id"] == user_id), None)
        if agent is None:
            raise BadInput(f"user {user_id} is not an agent or senior engineer", field="user_id")
        return render(request, "desk/_agent_form.html", {"a": agent, "calendar_names": ctx["calendar_names"]})
    return render(request, "desk/agents.html", ctx, status_code=422 if errors else 200)


register_nav("Working hours and absence", "/desk/agents", audience="staff", order=80)
