"""Accounts endpoints in the tenant-scoping matrix (see tests/scoping.py)."""

from __future__ import annotations

from tests.scoping import Row, staff_ok

ROWS = [
    Row("get own or other org", "GET", lambda s, c: f"/api/v1/orgs/{c.org_a}", staff_ok()),
    Row("list orgs", "GET", lambda s, c: "/api/v1/orgs",
        {**staff_ok(), "other_customer": 200}),
    Row("get customer user", "GET", lambda s, c: f"/api/v1/users/{c.customer_a.user_id}",
        staff_ok(customer_own=200)),
    Row("list users (staff only)", "GET", lambda s, c: "/api/v1/users",
        {**staff_ok(), "own_customer": 403, "other_customer": 403}),
    Row("create org (admin only)", "POST", lambda s, c: "/api/v1/orgs",
        {"anonymous": 401, "own_customer": 403, "other_customer": 403, "agent": 403, "senior_engineer": 403,
         "account_manager": 403, "admin": 201},
        body=lambda s, c: {"name": f"New org {c.extra.setdefault('n', 0) + 1}-{id(c)}"}),
]
