"""Test data made through the services (never by writing rows by hand)."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from imdesk.accounts import services
from imdesk.accounts.services import SYSTEM, Actor, actor_for

PASSWORD = "correct-horse-42"
_seq = itertools.count(1)


def make_org(session: Session, name: str | None = None, **kw) -> int:
    org = services.do_create_org(session, SYSTEM, name=name or f"Org {next(_seq)}", **kw)
    return org.id


def org_name(session: Session, org_id: int) -> str:
    from imdesk.accounts.queries import get_org

    return get_org(session, SYSTEM, org_id).name


def make_user(session: Session, role: str = "agent", *, org_id: int | None = None, email: str | None = None,
              password: str | None = PASSWORD, locale: str | None = None, name: str = "") -> Actor:
    org = org_name(session, org_id) if org_id is not None else None
    if role == "customer" and org is None:
        org = org_name(session, make_org(session))
    user = services.do_create_user(session, SYSTEM, email=email or f"user{next(_seq)}@example.com", role=role,
                                   org_name=org, password=password, locale=locale, name=name)
    return actor_for(user)


def make_token(session: Session, actor: Actor) -> str:
    _token, plain = services.do_create_token(session, SYSTEM, actor.email)
    return plain


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
