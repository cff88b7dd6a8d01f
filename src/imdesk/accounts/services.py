"""The only write path of the accounts domain: ``check_*`` (look up, authorise, validate) then
``do_*`` (mutate, audit row). Plus the ``Actor`` every service of every domain receives."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from imdesk.accounts.errors import (
    DuplicateOrganisation,
    DuplicateUser,
    InvalidAccountInput,
    InvalidCredentials,
    OrganisationNotFound,
    TooManyLoginAttempts,
    UserNotFound,
)
from imdesk.accounts.models import ApiToken, AuditLog, LoginAttempt, Organisation, User
from imdesk.core.clock import Clock, SystemClock
from imdesk.core.db import best_effort_write
from imdesk.core.errors import NotFound, PermissionDenied
from imdesk.core.security import hash_password, needs_rehash, new_api_token, token_digest, verify_password

ROLES = ("customer", "agent", "senior_engineer", "account_manager", "admin")
STAFF_ROLES = frozenset({"agent", "senior_engineer", "account_manager", "admin"})
PLANS = ("standard", "premium", "enterprise")
MIN_PASSWORD_LEN = 8
_PIN_RE = re.compile(r"^\d{4,8}$")


@dataclass(frozen=True)
class Actor:
    """Who is acting: passed to every service; built from a session cookie or an API token."""

    user_id: int | None
    email: str
    role: str
    org_id: int | None
    locale: str | None = None
    name: str = ""

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_customer(self) -> bool:
        return self.role == "customer"


SYSTEM = Actor(user_id=None, email="system@imdesk", role="admin", org_id=None, name="system")


def actor_for(user: User) -> Actor:
    return Actor(user_id=user.id, email=user.email, role=user.role, org_id=user.org_id, locale=user.locale,
                 name=user.name or user.email)


def actor_for_user_id(session: Session, user_id: int, *, session_epoch: int | None = None) -> Actor:
    """The actor of an active user; with ``session_epoch`` (from a web session) the session must
    still be current (not ended by a logout or a password change)."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise UserNotFound(f"no active user with id {user_id}")
    if session_epoch is not None and session_epoch != (user.session_epoch or 0):
        raise UserNotFound("this web session has ended")
    return actor_for(user)


def session_epoch_of(session: Session, user_id: int) -> int:
    user = session.get(User, user_id)
    return (user.session_epoch or 0) if user else 0


def do_end_sessions(session: Session, actor: Actor) -> None:
    """Log out: end every web session of the acting user."""
    if actor.user_id is None:
        return
    user = session.get(User, actor.user_id)
    if user is not None:
        user.session_epoch = (user.session_epoch or 0) + 1
        record_audit(session, actor, "user.logout", "user", user.id, org_id=user.org_id)


# --- audit -------------------------------------------------------------------------------------

def record_audit(session: Session, actor: Actor | None, action: str, object_type: str, object_id: Any,
                 data: dict[str, Any] | None = None, *, org_id: int | None = None, clock: Clock | None = None,
                 note: str = "") -> None:
    session.add(AuditLog(
        at=(clock or SystemClock()).now(), actor_user_id=actor.user_id if actor else None, org_id=org_id,
        action=action, object_type=object_type, object_id=str(object_id), data=data or {}, note=note,
    ))


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only an admin may do this")


# --- organisations -----------------------------------------------------------------------------

def check_create_org(session: Session, actor: Actor, *, name: str, annual_fee: int, plan: str,
                     verification_pin: str | None) -> str:
    _require_admin(actor)
    clean = (name or "").strip()
    if not clean or len(clean) > 200:
        raise InvalidAccountInput("organisation name must be 1-200 characters")
    if annual_fee < 0 or annual_fee > 10**12:
        raise InvalidAccountInput("annual fee must be between 0 and 10^12")
    if plan not in PLANS:
        raise InvalidAccountInput(f"plan must be one of {', '.join(PLANS)}")
    if verification_pin is not None and not _PIN_RE.match(verification_pin):
        raise InvalidAccountInput("verification PIN must be 4-8 digits")
    if session.scalar(select(Organisation.id).where(func.lower(Organisation.name) == clean.lower())):
        raise DuplicateOrganisation(f"organisation {clean!r} already exists")
    return clean


def do_create_org(session: Session, actor: Actor, *, name: str, annual_fee: int = 0, plan: str = "standard",
                  verified: bool = False, verification_pin: str | None = None,
                  account_manager_email: str | None = None) -> Organisation:
    clean = check_create_org(session, actor, name=name, annual_fee=annual_fee, plan=plan,
                             verification_pin=verification_pin)
    manager_id = None
    if account_manager_email:
        manager = _user_by_email(session, account_manager_email)
        if manager.role != "account_manager":
            raise InvalidAccountInput(f"{manager.email} is not an account manager")
        manager_id = manager.id
    org = Organisation(name=clean, annual_fee=annual_fee, plan=plan, verified=verified,
                       verification_pin_hash=hash_password(verification_pin) if verification_pin else None,
                       account_manager_id=manager_id)
    session.add(org)
    session.flush()
    record_audit(session, actor, "org.create", "organisation", org.id, {"name": clean, "plan": plan}, org_id=org.id)
    return org


def do_update_org(session: Session, actor: Actor, org_id: int, *, verified: bool | None = None,
                  plan: str | None = None, annual_fee: int | None = None,
                  account_manager_email: str | None = None, verification_pin: str | None = None) -> Organisation:
    _require_admin(actor)
    org = session.get(Organisation, org_id)
    if org is None:
        raise OrganisationNotFound(f"no organisation with id {org_id}")
    changes: dict[str, Any] = {}
    if plan is not None:
        if plan not in PLANS:
            raise InvalidAccountInput(f"plan must be one of {', '.join(PLANS)}")
        org.plan = changes["plan"] = plan
    if annual_fee is not None:
        if annual_fee < 0:
            raise InvalidAccountInput("annual fee must not be negative")
        org.annual_fee = changes["annual_fee"] = annual_fee
    if verified is not None:
        org.verified = changes["verified"] = verified
    if account_manager_email is not None:
        manager = _user_by_email(session, account_manager_email)
        if manager.role != "account_manager":
            raise InvalidAccountInput(f"{manager.email} is not an account manager")
        org.account_manager_id = manager.id
        changes["account_manager"] = manager.email
    if verification_pin is not None:
        if not _PIN_RE.match(verification_pin):
            raise InvalidAccountInput("verification PIN must be 4-8 digits")
        org.verification_pin_hash = hash_password(verification_pin)
        changes["verification_pin"] = "changed"
    record_audit(session, actor, "org.update", "organisation", org.id, changes, org_id=org.id)
    return org


def verify_org_pin(session: Session, org_id: int, pin: str) -> bool:
    """Hotline verification: the PIN an enterprise caller gives, checked against the stored hash."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise OrganisationNotFound(f"no organisation with id {org_id}")
    return verify_password(org.verification_pin_hash, pin or "")


def org_by_name(session: Session, name: str) -> Organisation:
    org = session.scalar(select(Organisation).where(func.lower(Organisation.name) == (name or "").strip().lower()))
    if org is None:
        raise OrganisationNotFound(f"no organisation named {name!r}")
    return org


# --- users -------------------------------------------------------------------------------------

def normalise_email(email: str) -> str:
    try:
        return validate_email((email or "").strip(), check_deliverability=False, globally_deliverable=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidAccountInput(f"invalid e-mail address {email!r}: {exc}") from None


def _user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        raise UserNotFound(f"no user with e-mail {email!r}")
    return user


def check_create_user(session: Session, actor: Actor, *, email: str, role: str, org_name: str | None,
                      password: str | None) -> tuple[str, int | None]:
    _require_admin(actor)
    clean = normalise_email(email)
    if role not in ROLES:
        raise InvalidAccountInput(f"role must be one of {', '.join(ROLES)}")
    if role == "customer" and not org_name:
        raise InvalidAccountInput("a customer must belong to an organisation (--org NAME)")
    if password is not None and len(password) < MIN_PASSWORD_LEN:
        raise InvalidAccountInput(f"password must be at least {MIN_PASSWORD_LEN} characters")
    if password is not None and len(password) > 1024:
        raise InvalidAccountInput("password is too long")
    if session.scalar(select(User.id).where(User.email == clean)):
        raise DuplicateUser(f"user {clean} already exists")
    org_id = org_by_name(session, org_name).id if org_name else None
    return clean, org_id


def do_create_user(session: Session, actor: Actor, *, email: str, role: str, org_name: str | None = None,
                   password: str | None = None, name: str = "", locale: str | None = None) -> User:
    clean, org_id = check_create_user(session, actor, email=email, role=role, org_name=org_name, password=password)
    if locale is not None and locale not in ("zh_CN", "en"):
        raise InvalidAccountInput("locale must be zh_CN or en")
    user = User(email=clean, role=role, org_id=org_id, name=(name or "").strip()[:200],
                password_hash=hash_password(password) if password else None, locale=locale)
    session.add(user)
    session.flush()
    record_audit(session, actor, "user.create", "user", user.id, {"email": clean, "role": role}, org_id=org_id)
    return user


def do_set_user_locale(session: Session, actor: Actor, locale: str) -> None:
    if actor.user_id is None:
        raise UserNotFound("no user")
    if locale not in ("zh_CN", "en"):
        raise InvalidAccountInput("locale must be zh_CN or en")
    user = session.get(User, actor.user_id)
    if user is None:
        raise UserNotFound("no user")
    user.locale = locale


def do_set_password(session: Session, actor: Actor, email: str, password: str) -> None:
    user = _user_by_email(session, email)
    if not (actor.is_admin or actor.user_id == user.id):
        raise PermissionDenied("you may only change your own password")
    if len(password) < MIN_PASSWORD_LEN:
        raise InvalidAccountInput(f"password must be at least {MIN_PASSWORD_LEN} characters")
    user.password_hash = hash_password(password)
    user.session_epoch = (user.session_epoch or 0) + 1  # a new password ends every open session
    record_audit(session, actor, "user.password", "user", user.id, org_id=user.org_id)


# --- login -------------------------------------------------------------------------------------

def _recent_failures(session: Session, key: str, since: datetime) -> int:
    return session.scalar(select(func.count()).select_from(LoginAttempt)
                          .where(LoginAttempt.key == key, LoginAttempt.at >= since)) or 0


def authenticate_password(session: Session, email: str, password: str, *, client: str, settings: Any,
                          clock: Clock | None = None) -> User:
    """Check a web login. Same error and similar timing for unknown user and wrong password;
    rate-limited per account and per client address (failures are stored, shared by processes)."""
    clock = clock or SystemClock()
    now = clock.now()
    window_start = now - timedelta(seconds=settings.login_window_s)
    email_key = "email:" + (email or "").strip().lower()[:254]
    client_key = "client:" + (client or "-")[:200]
    limit = settings.login_max_attempts
    if (_recent_failures(session, email_key, window_start) >= limit
            or _recent_failures(session, client_key, window_start) >= limit * 4):
        raise TooManyLoginAttempts("too many failed logins; try again in a few minutes")
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    ok = verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None or not user.is_active:
        session.add_all([LoginAttempt(key=email_key, at=now), LoginAttempt(key=client_key, at=now)])
        raise InvalidCredentials("wrong e-mail or password")
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == email_key))
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return user


def prune_login_attempts(session: Session, *, older_than: datetime) -> int:
    return session.execute(delete(LoginAttempt).where(LoginAttempt.at < older_than)).rowcount or 0


# --- API tokens --------------------------------------------------------------------------------

def do_create_token(session: Session, actor: Actor, email: str, *, name: str = "") -> tuple[ApiToken, str]:
    """Create an API token for ``email``; returns the row and the plain token (shown once)."""
    user = _user_by_email(session, email)
    if not (actor.is_admin or actor.user_id == user.id):
        raise PermissionDenied("you may only create tokens for yourself")
    plain = new_api_token()
    token = ApiToken(user_id=user.id, name=(name or "")[:100], digest=token_digest(plain), display_prefix=plain[:10])
    session.add(token)
    session.flush()
    record_audit(session, actor, "token.create", "api_token", token.id, {"user": user.email}, org_id=user.org_id)
    return token, plain


def do_revoke_token(session: Session, actor: Actor, token_id: int, *, clock: Clock | None = None) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token with id {token_id}")
    if not (actor.is_admin or actor.user_id == token.user_id):
        raise NotFound(f"no API token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = (clock or SystemClock()).now()
        record_audit(session, actor, "token.revoke", "api_token", token.id)
    return token


def authenticate_token(session: Session, plain: str, *, clock: Clock | None = None) -> Actor | None:
    if not plain or len(plain) > 200:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.digest == token_digest(plain)))
    if token is None or token.revoked_at is not None:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    now = (clock or SystemClock()).now()
    # Write last-used at most once a minute, so busy tokens do not turn every read into a write.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        with best_effort_write(session):
            token.last_used_at = now
    return actor_for(user)
