"""REST routes of accounts: thin — parse, call a service or query, return a schema."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from imdesk.accounts import queries, services
from imdesk.accounts.schemas import LocaleIn, MeOut, OrgCreate, OrgOut, UserCreate, UserOut
from imdesk.accounts.services import Actor
from imdesk.web.deps import get_session, require_actor, require_admin, require_staff

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.get("/me", response_model=MeOut)
def me(actor: Actor = Depends(require_actor)) -> MeOut:
    return MeOut(id=actor.user_id, email=actor.email, role=actor.role, org_id=actor.org_id, locale=actor.locale)


@router.put("/me/locale", status_code=204)
def set_locale(body: LocaleIn, actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function")) -> None:
    services.do_set_user_locale(session, actor, body.locale)


@router.get("/orgs", response_model=list[OrgOut])
def list_orgs(actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function")):
    return [OrgOut(**asdict(o)) for o in queries.list_orgs(session, actor)]


@router.get("/orgs/{org_id}", response_model=OrgOut)
def get_org(org_id: int, actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function")):
    return OrgOut(**asdict(queries.get_org(session, actor, org_id)))


@router.post("/orgs", response_model=OrgOut, status_code=201)
def create_org(body: OrgCreate, actor: Actor = Depends(require_admin), session: Session = Depends(get_session, scope="function")):
    org = services.do_create_org(session, actor, name=body.name, annual_fee=body.annual_fee, plan=body.plan,
                                 verified=body.verified, verification_pin=body.verification_pin,
                                 account_manager_email=body.account_manager_email)
    return OrgOut(**asdict(queries.get_org(session, actor, org.id)))


@router.get("/users", response_model=list[UserOut])
def list_users(role: str | None = None, actor: Actor = Depends(require_staff), session: Session = Depends(get_session, scope="function")):
    return [UserOut(**{k: v for k, v in asdict(u).items() if k != "is_active"})
            for u in queries.list_users(session, actor, role=role)]


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: int, actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function")):
    u = queries.get_user(session, actor, user_id)
    return UserOut(**{k: v for k, v in asdict(u).items() if k != "is_active"})


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, actor: Actor = Depends(require_admin), session: Session = Depends(get_session, scope="function")):
    user = services.do_create_user(session, actor, email=body.email, role=body.role, org_name=body.org,
                                   password=body.password, name=body.name, locale=body.locale)
    u = queries.get_user(session, actor, user.id)
    return UserOut(**{k: v for k, v in asdict(u).items() if k != "is_active"})
