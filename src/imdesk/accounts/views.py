"""HTML routes of accounts: login, logout, language switch."""

from __future__ import annotations

from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from imdesk.accounts import queries, services
from imdesk.accounts.errors import InvalidCredentials, TooManyLoginAttempts
from imdesk.accounts.services import Actor
from imdesk.core.errors import ImdeskError
from imdesk.core.security import new_csrf_token
from imdesk.web.deps import (
    SESSION_COOKIE,
    get_session,
    optional_actor,
    read_session_cookie,
    require_actor,
    require_admin,
    require_staff,
)
from imdesk.web.templating import register_nav, render

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "imdesk_login_csrf"


def _safe_next(value: str | None) -> str:
    if not value:
        return "/"
    parsed = urlparse(value)
    if parsed.scheme or parsed.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


@router.get("/login")
def login_page(request: Request, next: str | None = None, actor: Actor | None = Depends(optional_actor)) -> Response:
    if actor is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    token = new_csrf_token()
    request.state.csrf_token = token
    resp = render(request, "accounts/login.html", {"next": _safe_next(next), "error": None})
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax",
                    secure=request.app.state.settings.cookie_secure, max_age=3600)
    return resp


@router.post("/login")
def login_submit(request: Request, email: str = Form(""), password: str = Form(""), csrf_token: str = Form(""),
                 next: str = Form("/"), session: Session = Depends(get_session, scope="function")) -> Response:
    settings = request.app.state.settings
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    error = None
    status = 400
    if not expected or csrf_token != expected:
        error = "Your session expired; please try again."
    else:
        client = request.client.host if request.client else "-"
        try:
            user = services.authenticate_password(session, email, password, client=client, settings=settings,
                                                  clock=request.app.state.clock)
        except TooManyLoginAttempts:
            error, status = "Too many failed logins. Try again in a few minutes.", 429
        except InvalidCredentials:
            error, status = "Wrong e-mail or password.", 401
        else:
            csrf = new_csrf_token()
            cookie = request.app.state.signer.dumps({"uid": user.id, "csrf": csrf, "ep": user.session_epoch or 0},
                                                    purpose="session")
            resp = RedirectResponse(_safe_next(next), status_code=303)
            resp.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="lax", secure=settings.cookie_secure,
                            max_age=settings.session_max_age_s)
            resp.delete_cookie(LOGIN_CSRF_COOKIE)
            return resp
    # Commit the recorded failure before answering (the session dependency would roll back on raise).
    session.commit()
    token = new_csrf_token()
    request.state.csrf_token = token
    resp = render(request, "accounts/login.html", {"next": _safe_next(next), "error": error, "email": email},
                  status_code=status)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=settings.cookie_secure,
                    max_age=3600)
    return resp


@router.post("/logout")
def logout(request: Request, actor: Actor | None = Depends(optional_actor),
           session: Session = Depends(get_session, scope="function")) -> Response:
    if actor is not None and read_session_cookie(request) is not None:
        services.do_end_sessions(session, actor)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp


@router.post("/locale")
async def switch_locale(request: Request, locale: str = Form("zh_CN"), next: str = Form("/"),
                        actor: Actor | None = Depends(optional_actor),
                        session: Session = Depends(get_session, scope="function")) -> Response:
    if locale not in ("zh_CN", "en"):
        locale = "zh_CN"
    if actor is not None and read_session_cookie(request) is not None:
        services.do_set_user_locale(session, actor, locale)
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie("imdesk_locale", locale, samesite="lax", max_age=365 * 86400)
    return resp


# --- administration pages ----------------------------------------------------------------------

register_nav("Organisations", "/admin/orgs", audience="staff", order=80)
register_nav("Users", "/admin/users", audience="staff", order=81)
register_nav("API tokens", "/account/tokens", audience="all", order=90)


def _form_error(exc: ImdeskError) -> str:
    return exc.detail


@router.get("/admin/orgs")
def admin_orgs(request: Request, actor: Actor = Depends(require_staff), session: Session = Depends(get_session, scope="function"),
               error: str | None = None) -> Response:
    orgs = queries.list_orgs(session, actor)
    managers = queries.list_users(session, actor, role="account_manager")
    return render(request, "accounts/orgs.html", {"orgs": orgs, "managers": managers, "error": error,
                                                   "plans": services.PLANS})


@router.post("/admin/orgs")
def admin_orgs_create(request: Request, name: str = Form(""), annual_fee: str = Form("0"), plan: str = Form("standard"),
                      verified: str | None = Form(None), account_manager: str = Form(""), pin: str = Form(""),
                      actor: Actor = Depends(require_admin), session: Session = Depends(get_session, scope="function")) -> Response:
    try:
        fee = int(annual_fee or 0)
    except ValueError:
        fee = -1
    try:
        services.do_create_org(session, actor, name=name, annual_fee=fee, plan=plan, verified=bool(verified),
                               verification_pin=pin or None, account_manager_email=account_manager or None)
    except ImdeskError as exc:
        session.rollback()
        return admin_orgs(request, actor, session, error=_form_error(exc))
    return RedirectResponse("/admin/orgs", status_code=303)


@router.get("/admin/users")
def admin_users(request: Request, actor: Actor = Depends(require_staff), session: Session = Depends(get_session, scope="function"),
                error: str | None = None) -> Response:
    return render(request, "accounts/users.html", {
        "users": queries.list_users(session, actor), "orgs": queries.list_orgs(session, actor),
        "roles": services.ROLES, "error": error})


@router.post("/admin/users")
def admin_users_create(request: Request, email: str = Form(""), role: str = Form("customer"), org: str = Form(""),
                       name: str = Form(""), password: str = Form(""), actor: Actor = Depends(require_admin),
                       session: Session = Depends(get_session, scope="function")) -> Response:
    try:
        services.do_create_user(session, actor, email=email, role=role, org_name=org or None,
                                password=password or None, name=name)
    except ImdeskError as exc:
        session.rollback()
        return admin_users(request, actor, session, error=_form_error(exc))
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/account/tokens")
def my_tokens(request: Request, actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function"),
              new_token: str | None = None) -> Response:
    return render(request, "accounts/tokens.html",
                  {"tokens": queries.list_tokens(session, actor, None if actor.is_admin else actor.email),
                   "new_token": new_token})


@router.post("/account/tokens")
def my_tokens_create(request: Request, name: str = Form(""), actor: Actor = Depends(require_actor),
                     session: Session = Depends(get_session, scope="function")) -> Response:
    _token, plain = services.do_create_token(session, actor, actor.email, name=name)
    session.flush()
    return my_tokens(request, actor, session, new_token=plain)


@router.post("/account/tokens/{token_id}/revoke")
def my_tokens_revoke(token_id: int, actor: Actor = Depends(require_actor),
                     session: Session = Depends(get_session, scope="function")) -> Response:
    services.do_revoke_token(session, actor, token_id, clock=None)
    return RedirectResponse("/account/tokens", status_code=303)
