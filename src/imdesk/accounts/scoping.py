"""Tenant scoping in one place. Every query for customer-visible data goes through
``scope_query``; every single-object read goes through ``ensure_visible``. A customer sees only
their own organisation's data; staff see all. Another organisation's object is *not found*
(404), never *forbidden* (403), so its existence does not leak."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, false

from imdesk.accounts.services import Actor
from imdesk.core.errors import NotFound

S = TypeVar("S", bound=Select[Any])


def scope_query(stmt: S, actor: Actor, org_column: Any) -> S:
    """Restrict ``stmt`` to what ``actor`` may see: ``org_column`` is the owning organisation."""
    if actor.is_staff:
        return stmt
    if actor.org_id is None:
        return stmt.where(false())
    return stmt.where(org_column == actor.org_id)


def can_see_org(actor: Actor, org_id: int | None) -> bool:
    return actor.is_staff or (actor.org_id is not None and org_id == actor.org_id)


def ensure_visible(actor: Actor, org_id: int | None, *, what: str = "object") -> None:
    """Raise NotFound unless ``actor`` may see an object owned by ``org_id``."""
    if not can_see_org(actor, org_id):
        raise NotFound(f"{what} not found")
