"""Knowledge-base endpoints in the tenant-scoping matrix (see tests/scoping.py).

The knowledge base is shared content: every signed-in user reads published articles, the error-code
catalogue and the community; writing articles is staff-only. A draft is invisible (404) to customers.
"""

from __future__ import annotations

from tests.kb.factories import make_article
from tests.scoping import Row

ALL_READ = {"anonymous": 401, "own_customer": 200, "other_customer": 200, "agent": 200, "senior_engineer": 200,
            "account_manager": 200, "admin": 200}
STAFF_ONLY = {"anonymous": 401, "own_customer": 403, "other_customer": 403, "agent": 200, "senior_engineer": 200,
              "account_manager": 200, "admin": 200}


def _published(session, ctx) -> str:
    a = make_article(session, title="Matrix article 推送")
    return f"/api/v1/kb/articles/{a.slug}"


def _draft(session, ctx) -> str:
    a = make_article(session, title="Matrix draft", status="draft")
    return f"/api/v1/kb/articles/{a.slug}"


ROWS = [
    Row("kb search", "GET", lambda s, c: "/api/v1/kb/search?q=推送", ALL_READ),
    Row("kb error code", "GET", lambda s, c: "/api/v1/kb/error-codes/err_im_1002", ALL_READ),
    Row("kb published article", "GET", _published, ALL_READ),
    Row("kb draft article", "GET", _draft, {**STAFF_ONLY, "own_customer": 404, "other_customer": 404}),
    Row("kb deflection stats", "GET", lambda s, c: "/api/v1/kb/deflection", STAFF_ONLY),
    Row("kb draft from ticket", "POST", lambda s, c: "/api/v1/kb/drafts-from-ticket",
        {**STAFF_ONLY, **{k: 201 for k in ("agent", "senior_engineer", "account_manager", "admin")}},
        body={"title": "From ticket", "body": "steps", "ticket_ref": "T-1"}),
]
