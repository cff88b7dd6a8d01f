"""FastAPI dependencies shared by every domain: database session, settings, clock, and the acting
user (Bearer token or session cookie, with CSRF checked for cookie-authenticated writes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from imdesk.accounts import services as account_services
from imdesk.accounts.services import Actor
from imdesk.core.clock import Clock
from imdesk.core.db import prepare_for_writes, session_scope
from imdesk.core.errors import ErrorCode, ImdeskError, NotAuthenticated, PermissionDenied
from imdesk.core.security import Signer, constant_time_equals
from imdesk.core.settings import Settings

SESSION_COOKIE = "imdesk_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfFailed(PermissionDenied):
    code = ErrorCode.CSRF_FAILED
    title = "CSRF check failed"


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_clock(request: Request) -> Clock:
    return request.app.state.clock


def get_signer(request: Request) -> Signer:
    return request.app.state.signer


async def _sqlite_write_gate(request: Request) -> AsyncIterator[None]:
    """On SQLite, write requests of this process take turns on an async lock before they begin their
    (IMMEDIATE) transaction. SQLite has one writer at a time anyway; without the gate, many concurrent
    writers would each hold a worker thread while waiting for the database lock, starving the threads
    the current writer needs to finish. Reads and PostgreSQL are not gated."""
    settings = request.app.state.settings
    if request.method in SAFE_METHODS or not settings.is_sqlite:
        yield
        return
    lock = getattr(request.app.state, "sqlite_write_lock", None)
    if lock is None:
        lock = request.app.state.sqlite_write_lock = anyio.Lock()
    async with lock:
        yield


def get_session(request: Request, _gate: None = Depends(_sqlite_write_gate, scope="function")) -> Iterator[Session]:
    """One session per request: committed when the route returns normally, rolled back otherwise.

    Always declare it as ``Depends(get_session, scope="function")``: the commit then happens
    *before* the response is sent, so a 201 is only answered for data that is stored, a failed
    commit is an error answer (not a lost write), and the next request sees the change."""
    with session_scope(request.app.state.session_factory) as session:
        if request.method not in SAFE_METHODS:
            prepare_for_writes(session)
        yield session


def read_session_cookie(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    settings: Settings = request.app.state.settings
    data = request.app.state.signer.loads(raw, purpose="session", max_age=settings.session_max_age_s)
    return data if isinstance(data, dict) and "uid" in data and "csrf" in data else None


async def _check_csrf(request: Request, expected: str) -> None:
    supplied = request.headers.get("x-csrf-token")
    if not supplied:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            supplied = value if isinstance(value, str) else None
    if not supplied or not constant_time_equals(supplied, expected):
        raise CsrfFailed("missing or wrong CSRF token; reload the page and try again")


async def optional_actor(request: Request, session: Session = Depends(get_session, scope="function")) -> Actor | None:
    """The acting user, or None. Bearer tokens win over cookies; cookie writes need CSRF."""
    if hasattr(request.state, "actor"):
        return request.state.actor
    actor: Actor | None = None
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("use 'Authorization: Bearer <token>'")
        # database work off the event loop: a blocked pool checkout must never freeze the server
        actor = await run_in_threadpool(account_services.authenticate_token, session, token.strip(),
                                        clock=request.app.state.clock)
        if actor is None:
            raise NotAuthenticated("invalid or revoked API token")
    else:
        data = read_session_cookie(request)
        if data is not None:
            try:
                actor = await run_in_threadpool(account_services.actor_for_user_id, session, int(data["uid"]),
                                                session_epoch=int(data.get("ep", 0)))
            except (ImdeskError, ValueError, TypeError):  # user gone, session ended, or a malformed value
                actor = None
            if actor is not None:
                request.state.csrf_token = data["csrf"]
                if request.method not in SAFE_METHODS:
                    await _check_csrf(request, data["csrf"])
    request.state.actor = actor
    return actor


async def require_actor(actor: Actor | None = Depends(optional_actor)) -> Actor:
    if actor is None:
        raise NotAuthenticated("authentication required")
    return actor


async def require_staff(actor: Actor = Depends(require_actor)) -> Actor:
    if not actor.is_staff:
        raise PermissionDenied("this needs a support-staff role")
    return actor


async def require_admin(actor: Actor = Depends(require_actor)) -> Actor:
    if not actor.is_admin:
        raise PermissionDenied("this needs the admin role")
    return actor


def is_htmx_partial(request: Request) -> bool:
    """The one HTMX partial rule: return a partial when HX-Request is set and not HX-Boosted."""
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"
