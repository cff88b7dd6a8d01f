"""The Jinja2 environment: the shared layouts in ``web/templates`` plus every domain's
``<domain>/templates`` folder; autoescaping on; ``_()`` translates into the request's locale."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from imdesk.core import i18n

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    folders = [PACKAGE_ROOT / "web" / "templates"]
    folders += sorted(p for p in PACKAGE_ROOT.glob("*/templates") if p.is_dir() and p.parent.name != "web")
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def request_locale(request: Request) -> str:
    actor = getattr(request.state, "actor", None)
    user_pref = actor.locale if actor is not None else None
    cookie_pref = request.cookies.get("imdesk_locale")
    return i18n.negotiate(request.headers.get("accept-language"), user_pref or cookie_pref,
                          request.app.state.settings.default_locale)


def context_for(request: Request, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    locale = request_locale(request)
    settings = request.app.state.settings
    actor = getattr(request.state, "actor", None)
    tz = settings.timezone

    def _(message: str, **params: Any) -> str:
        return i18n.gettext(locale, message, **params)

    def fmt_dt(value):
        return i18n.format_datetime(value, locale, tz)

    ctx: dict[str, Any] = {
        "request": request,
        "_": _,
        "locale": locale,
        "html_lang": "zh-CN" if locale == "zh_CN" else "en",
        "actor": actor,
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "fmt_dt": fmt_dt,
        "timezone": tz,
        "nav_items": nav_items(actor),
    }
    if extra:
        ctx.update(extra)
    return ctx


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    html = environment().get_template(template).render(context_for(request, context))
    return HTMLResponse(html, status_code=status_code, headers=headers)


# Navigation entries are registered by domains (Datasette-style hook): (label, href, audience, order).
_NAV: list[tuple[str, str, str, int]] = []


def register_nav(label: str, href: str, *, audience: str = "staff", order: int = 50) -> None:
    """Add a navigation entry; audience is 'staff', 'customer' or 'all'."""
    entry = (label, href, audience, order)
    if entry not in _NAV:
        _NAV.append(entry)


def nav_items(actor: Any) -> list[tuple[str, str]]:
    if actor is None:
        return []
    audience = "staff" if actor.is_staff else "customer"
    return [(label, href) for label, href, aud, _o in sorted(_NAV, key=lambda e: e[3]) if aud in (audience, "all")]
