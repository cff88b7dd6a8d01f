"""Read side of accounts, shared by API, UI and CLI (other domains use these, never the models)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imdesk.accounts.models import ApiToken, Organisation, User
from imdesk.accounts.scoping import ensure_visible, scope_query
from imdesk.accounts.services import Actor
from imdesk.core.errors import NotFound, PermissionDenied


@dataclass(frozen=True)
class OrgInfo:
    id: int
    name: str
    verified: bool
    annual_fee: int
    plan: str
    account_manager_id: int | None
    account_manager_email: str | None


@dataclass(frozen=True)
class UserInfo:
    id: int
    email: str
    name: str
    role: str
    org_id: int | None
    org_name: str | None
    locale: str | None
    is_active: bool


def _org_info(session: Session, org: Organisation) -> OrgInfo:
    manager_email = None
    if org.account_manager_id:
        manager_email = session.scalar(select(User.email).where(User.id == org.account_manager_id))
    return OrgInfo(org.id, org.name, org.verified, org.annual_fee, org.plan, org.account_manager_id, manager_email)


def get_org(session: Session, actor: Actor, org_id: int) -> OrgInfo:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    ensure_visible(actor, org.id, what="organisation")
    return _org_info(session, org)


def org_info_unscoped(session: Session, org_id: int | None) -> OrgInfo | None:
    """For system jobs (routing, SLA): no actor, never exposed to customers directly."""
    if org_id is None:
        return None
    org = session.get(Organisation, org_id)
    return _org_info(session, org) if org else None


def list_orgs(session: Session, actor: Actor) -> list[OrgInfo]:
    stmt = scope_query(select(Organisation).order_by(Organisation.name), actor, Organisation.id)
    return [_org_info(session, o) for o in session.scalars(stmt)]


def _user_info(user: User, org_name: str | None) -> UserInfo:
    return UserInfo(user.id, user.email, user.name, user.role, user.org_id, org_name, user.locale, user.is_active)


def list_users(session: Session, actor: Actor, *, role: str | None = None, org_id: int | None = None) -> list[UserInfo]:
    stmt = select(User, Organisation.name).outerjoin(Organisation, Organisation.id == User.org_id).order_by(User.email)
    stmt = scope_query(stmt, actor, User.org_id)
    if role:
        stmt = stmt.where(User.role == role)
    if org_id is not None:
        stmt = stmt.where(User.org_id == org_id)
    return [_user_info(u, name) for u, name in session.execute(stmt)]


def get_user(session: Session, actor: Actor, user_id: int) -> UserInfo:
    row = session.execute(select(User, Organisation.name).outerjoin(Organisation, Organisation.id == User.org_id)
                          .where(User.id == user_id)).first()
    if row is None:
        raise NotFound("user not found")
    user, org_name = row
    if not actor.is_staff and user.id != actor.user_id:
        raise NotFound("user not found")
    return _user_info(user, org_name)


def user_by_email(session: Session, email: str) -> UserInfo | None:
    row = session.execute(select(User, Organisation.name).outerjoin(Organisation, Organisation.id == User.org_id)
                          .where(User.email == (email or "").strip().lower())).first()
    return _user_info(*row) if row else None


def staff_users(session: Session, *, roles: tuple[str, ...] = ("agent", "senior_engineer")) -> list[UserInfo]:
    rows = session.execute(select(User).where(User.role.in_(roles), User.is_active.is_(True)).order_by(User.id))
    return [_user_info(u, None) for (u,) in rows]


def list_tokens(session: Session, actor: Actor, email: str | None = None) -> list[dict]:
    stmt = select(ApiToken, User.email).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if email:
        stmt = stmt.where(User.email == email.strip().lower())
    if not actor.is_admin:
        if actor.user_id is None:
            raise PermissionDenied("no user")
        stmt = stmt.where(ApiToken.user_id == actor.user_id)
    return [
        {"id": t.id, "user": e, "name": t.name, "prefix": t.display_prefix, "created_at": t.created_at,
         "last_used_at": t.last_used_at, "revoked": t.revoked_at is not None}
        for t, e in session.execute(stmt)
    ]


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0
