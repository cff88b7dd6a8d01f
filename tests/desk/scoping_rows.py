"""Desk endpoints in the tenant-scoping matrix (see tests/scoping.py)."""

from __future__ import annotations

from imdesk.desk import services
from tests.factories import make_user
from tests.scoping import Row, staff_ok


def _ticket(session, ctx) -> int:
    # the app's clock (a Tuesday morning in Shanghai): routing respects working hours, so a ticket
    # made at the wall-clock time of the run could find no agent on duty and stay unassigned
    t = services.create_ticket(session, ctx.customer_a, title="矩阵测试 消息失败", description="some users",
                               clock=ctx.clock)
    return t.id


def _resolved_ticket(session, ctx) -> int:
    tid = _ticket(session, ctx)
    services.do_change_status(session, ctx.actors["admin"], tid, "resolve", reason="done", clock=ctx.clock)
    return tid


ADMIN_ONLY_422 = {"anonymous": 401, "own_customer": 403, "other_customer": 403, "agent": 403, "senior_engineer": 403,
                  "account_manager": 403, "admin": 422}

ROWS = [
    Row("get ticket", "GET", lambda s, c: f"/api/v1/tickets/{_ticket(s, c)}", staff_ok()),
    Row("list tickets", "GET", lambda s, c: "/api/v1/tickets", {**staff_ok(), "other_customer": 200}),
    Row("reply to ticket", "POST", lambda s, c: f"/api/v1/tickets/{_ticket(s, c)}/replies",
        staff_ok(201, customer_own=201), body={"body": "hello 你好"}),
    Row("propose solution (staff)", "POST", lambda s, c: f"/api/v1/tickets/{_ticket(s, c)}/solution",
        staff_ok(201, customer_own=403), body={"body": "try this"}),
    Row("rate ticket (own customer)", "POST", lambda s, c: f"/api/v1/tickets/{_resolved_ticket(s, c)}/rating",
        {**staff_ok(403, customer_own=201)}, body={"score": 5}),
    Row("create ticket", "POST", lambda s, c: "/api/v1/tickets",
        {"anonymous": 401, "own_customer": 201, "other_customer": 201, "agent": 422, "senior_engineer": 422,
         "account_manager": 422, "admin": 422}, body={"title": "矩阵新工单"}),
    Row("change status (staff)", "POST", lambda s, c: f"/api/v1/tickets/{_ticket(s, c)}/status",
        staff_ok(200, customer_own=403), body={"action": "start"}),
    Row("SLA report (staff)", "GET", lambda s, c: (_ticket(s, c), "/api/v1/desk/report?month=2026-11")[1],
        staff_ok(200, customer_own=403, other=403)),
    Row("SLA report JSON export (staff)", "GET", lambda s, c: (_ticket(s, c), "/desk/report.json?month=2026-11")[1],
        staff_ok(200, customer_own=403, other=403)),
    # desk administration (structured editors): admins only; a JSON body is no form, so the admin
    # gets the editor back with its errors (422), nothing stored
    Row("SLA policy editor (admin)", "POST", lambda s, c: "/desk/admin/policy", ADMIN_ONLY_422, body={"name": "x"}),
    Row("classification rules editor (admin)", "POST", lambda s, c: "/desk/admin/rules", ADMIN_ONLY_422,
        body={"kw": "x"}),
    Row("classification rules editor row (admin)", "GET", lambda s, c: "/desk/admin/rules/row?kind=keyword",
        {**ADMIN_ONLY_422, "admin": 200}),
    Row("priority rules editor (admin)", "POST", lambda s, c: "/desk/admin/priority", ADMIN_ONLY_422,
        body={"sig_id": "x"}),
    Row("priority rules editor row (admin)", "GET", lambda s, c: "/desk/admin/priority/row?sig_dimension=urgency",
        {**ADMIN_ONLY_422, "admin": 200}),
    Row("agents' hours page (staff)", "GET", lambda s, c: "/desk/agents", staff_ok(200, customer_own=403, other=403)),
    Row("set another agent's hours (admin)", "POST", lambda s, c: f"/desk/agents/{make_user(s, 'agent').user_id}",
        ADMIN_ONLY_422, body={"calendar": "china"}),
]

