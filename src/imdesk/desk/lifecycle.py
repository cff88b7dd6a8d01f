"""The ticket lifecycle as a state machine (pure).

    new → triaged → assigned → in_progress ⇄ waiting_customer → solution_proposed → resolved → closed

with reopen from ``solution_proposed`` / ``resolved`` back to ``in_progress`` (the customer rejects
the solution or writes again; the reopen count and reason land on the timeline). Every transition has a name (the action), the states it leaves from and the state it goes
to; anything else is :class:`imdesk.desk.errors.InvalidTransition` (HTTP 409).

The SLA clock pauses in ``waiting_customer`` and stops for good in ``resolved`` / ``closed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    SOLUTION_PROPOSED = "solution_proposed"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = frozenset({
    Status.NEW, Status.TRIAGED, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_CUSTOMER,
    Status.SOLUTION_PROPOSED,
})
SLA_RUNNING = OPEN_STATUSES - {Status.WAITING_CUSTOMER}


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[Status]
    target: Status
    customer_visible: bool = True


_WORKING = frozenset({Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_CUSTOMER})

TRANSITIONS: dict[str, Transition] = {t.action: t for t in [
    Transition("triage", frozenset({Status.NEW}), Status.TRIAGED, customer_visible=False),
    Transition("assign", frozenset({Status.NEW, Status.TRIAGED, Status.ASSIGNED, Status.IN_PROGRESS,
                                    Status.WAITING_CUSTOMER}), Status.ASSIGNED, customer_visible=False),
    Transition("start", frozenset({Status.ASSIGNED}), Status.IN_PROGRESS),
    Transition("wait_customer", frozenset({Status.ASSIGNED, Status.IN_PROGRESS}),
               Status.WAITING_CUSTOMER),
    Transition("customer_replied", frozenset({Status.WAITING_CUSTOMER}), Status.IN_PROGRESS),
    Transition("propose_solution", _WORKING, Status.SOLUTION_PROPOSED),
    Transition("accept_solution", frozenset({Status.SOLUTION_PROPOSED}), Status.RESOLVED),
    Transition("resolve", _WORKING | {Status.SOLUTION_PROPOSED}, Status.RESOLVED),
    Transition("reopen", frozenset({Status.SOLUTION_PROPOSED, Status.RESOLVED}), Status.IN_PROGRESS),
    Transition("close", frozenset({Status.RESOLVED}), Status.CLOSED),
]}


def transition(current: str | Status, action: str) -> Status:
    """The state ``action`` leads to from ``current``; InvalidTransition (409) otherwise."""
    from imdesk.desk.errors import InvalidTransition

    t = TRANSITIONS.get(action)
    if t is None:
        raise InvalidTransition(f"unknown action {action!r}", action=action, status_from=str(current))
    cur = Status(current)
    if cur not in t.sources:
        allowed = sorted(a for a, tr in TRANSITIONS.items() if cur in tr.sources)
        raise InvalidTransition(
            f"cannot {action.replace('_', ' ')} a ticket that is {cur.value}",
            action=action, status_from=cur.value, allowed=allowed,
        )
    return t.target


def allowed_actions(current: str | Status) -> list[str]:
    cur = Status(current)
    return [a for a, t in TRANSITIONS.items() if cur in t.sources]


def is_open(status: str | Status) -> bool:
    return Status(status) in OPEN_STATUSES
