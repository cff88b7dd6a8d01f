"""The tenant-scoping matrix: role x endpoint. Every domain adds rows in its own
``tests/<domain>/scoping_rows.py`` defining ``ROWS: list[Row]``; ``tests/accounts/test_scoping_matrix.py``
collects them all and checks every role against every row, on SQLite and PostgreSQL.

A row's ``make(session, ctx)`` creates whatever object the endpoint reads or writes, owned by
``ctx.org_a`` (whose customer is ``ctx.customer_a``), through the services, and returns the path.
``expect`` maps each role key to the HTTP status it must get; role keys:

    anonymous, own_customer (org A), other_customer (org B), agent, senior_engineer, account_manager, admin

The rule the matrix protects: another organisation's object answers 404, never 403 or 200.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from imdesk.accounts.services import Actor

ROLE_KEYS = ("anonymous", "own_customer", "other_customer", "agent", "senior_engineer", "account_manager", "admin")


@dataclass
class MatrixCtx:
    org_a: int
    org_b: int
    actors: dict[str, Actor]  # role key -> actor (no "anonymous")
    extra: dict[str, Any] = field(default_factory=dict)
    clock: Any = None  # the app's clock: objects made for a row live at the same moment as the request

    @property
    def customer_a(self) -> Actor:
        return self.actors["own_customer"]


@dataclass
class Row:
    name: str
    method: str
    make: Callable[[Session, MatrixCtx], str]
    expect: dict[str, int]
    body: Callable[[Session, MatrixCtx], Any] | dict | None = None

    def __post_init__(self) -> None:
        missing = set(ROLE_KEYS) - set(self.expect)
        if missing:
            raise ValueError(f"scoping row {self.name!r} lacks expectations for {sorted(missing)}")


def staff_ok(status_staff: int = 200, *, customer_own: int = 200, other: int = 404) -> dict[str, int]:
    """Common shape: customers see their own org's object, another org's is 404, staff see all."""
    return {"anonymous": 401, "own_customer": customer_own, "other_customer": other, "agent": status_staff,
            "senior_engineer": status_staff, "account_manager": status_staff, "admin": status_staff}
