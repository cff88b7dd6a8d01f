"""Shell pages: the dashboard at ``/`` — agent workspace or customer portal by role. Domains add
panels with ``register_panel`` (a keyword-only hook returning an HTML fragment or None)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from imdesk.accounts.services import Actor
from imdesk.web.deps import get_session, require_actor
from imdesk.web.templating import render

router = APIRouter(include_in_schema=False)

PanelFn = Callable[..., "str | None"]
_PANELS: list[tuple[int, str, PanelFn]] = []


def register_panel(fn: PanelFn, *, audience: str = "staff", order: int = 50) -> PanelFn:
    """``fn(*, request, session, actor) -> str | None`` renders one dashboard panel."""
    if all(f is not fn for _o, _a, f in _PANELS):
        _PANELS.append((order, audience, fn))
    return fn


def _panels(request: Request, session: Session, actor: Actor) -> list[Markup]:
    audience = "staff" if actor.is_staff else "customer"
    out: list[Markup] = []
    for _order, aud, fn in sorted(_PANELS, key=lambda p: p[0]):
        if aud in (audience, "all"):
            html = fn(request=request, session=session, actor=actor)
            if html:
                out.append(Markup(html))
    return out


@router.get("/")
def dashboard(request: Request, actor: Actor = Depends(require_actor), session: Session = Depends(get_session, scope="function")) -> Response:
    template = "workspace.html" if actor.is_staff else "portal.html"
    ctx: dict[str, Any] = {"panels": _panels(request, session, actor)}
    return render(request, template, ctx)
