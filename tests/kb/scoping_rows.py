"""Knowledge-base endpoints in the tenant-scoping matrix (see tests/scoping.py).

The knowledge base is shared content: every signed-in user reads published articles, the error-code
catalogue and the community; writing articles is staff-only. A draft is invisible (404) to customers.
Community posts are edited by their author (customer A here) and by staff as moderators: another
customer can read the post, so editing it is refused with 403 (not 404); a hidden question is 404 to
every customer, its author included. The edit history is staff-only.
"""

from __future__ import annotations

from tests.kb.factories import make_article
from tests.scoping import Row

from imdesk.accounts.services import SYSTEM
from imdesk.kb import community

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


AUTHOR_OR_STAFF = {**ALL_READ, "other_customer": 403}


def _question(session, ctx, *, hidden: bool = False):
    q = community.do_ask(session, ctx.customer_a, title="Matrix question 推送", body="iOS")
    if hidden:
        community.do_moderate(session, SYSTEM, q.id, hidden=True)
    return q


def _answer(session, ctx) -> str:
    q = community.do_ask(session, ctx.actors["agent"], title="Matrix question with answer", body="x")
    a = community.do_answer(session, ctx.customer_a, q.id, "Matrix answer")
    return f"/api/v1/kb/answers/{a.id}"


ROWS = [
    Row("kb search", "GET", lambda s, c: "/api/v1/kb/search?q=推送", ALL_READ),
    Row("kb error code", "GET", lambda s, c: "/api/v1/kb/error-codes/err_im_1002", ALL_READ),
    Row("kb published article", "GET", _published, ALL_READ),
    Row("kb draft article", "GET", _draft, {**STAFF_ONLY, "own_customer": 404, "other_customer": 404}),
    Row("kb deflection stats", "GET", lambda s, c: "/api/v1/kb/deflection", STAFF_ONLY),
    Row("kb draft from ticket", "POST", lambda s, c: "/api/v1/kb/drafts-from-ticket",
        {**STAFF_ONLY, **{k: 201 for k in ("agent", "senior_engineer", "account_manager", "admin")}},
        body={"title": "From ticket", "body": "steps", "ticket_ref": "T-1"}),
    Row("kb edit question", "PATCH", lambda s, c: f"/api/v1/kb/questions/{_question(s, c).id}", AUTHOR_OR_STAFF,
        body={"body": "iOS 17", "note": "matrix"}),
    Row("kb edit hidden question", "PATCH", lambda s, c: f"/api/v1/kb/questions/{_question(s, c, hidden=True).id}",
        {**ALL_READ, "own_customer": 404, "other_customer": 404}, body={"body": "iOS 17"}),
    Row("kb edit answer", "PATCH", _answer, AUTHOR_OR_STAFF, body={"body": "Matrix answer, edited"}),
    Row("kb question edit history", "GET", lambda s, c: f"/api/v1/kb/questions/{_question(s, c).id}/history",
        STAFF_ONLY),
]
