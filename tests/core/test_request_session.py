"""The request's session commits before the response is sent: a failing commit becomes an error
answer (never a success for data that was not stored)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from imdesk.web.deps import get_session
from tests.factories import make_org


def test_failed_commit_is_an_error_not_a_lost_write(app, session):
    make_org(session, "Taken Name")
    session.commit()
    from imdesk.accounts.models import Organisation  # a test may reach the model directly

    router = APIRouter()

    @router.post("/_test/dup-org")
    def dup(s: Session = Depends(get_session, scope="function")) -> dict:
        s.add(Organisation(name="Taken Name"))  # not flushed: fails only when the session commits
        return {"ok": True}

    app.include_router(router)
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post("/_test/dup-org")
    assert r.status_code == 409 and r.json()["code"] == "conflict"


def test_every_route_declares_the_function_scope():
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src" / "imdesk"
    bad = [f"{p.relative_to(src)}:{i}" for p in src.rglob("*.py")
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if re.search(r"Depends\(get_session\b(?![^)]*scope=\"function\")", line)]
    assert not bad, "use Depends(get_session, scope=\"function\") (commit before the response): " + ", ".join(bad)
