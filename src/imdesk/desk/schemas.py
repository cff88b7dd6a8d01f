"""Pydantic v2 models for the desk's API input. Validation of content (empty, too long, unknown
priority...) happens in the services so API, UI and CLI give the same answers; these models only
fix the shape. Field types are permissive on purpose (``Any`` where a wrong type must still reach
the service and come back as a clear 422 with the service's message)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TicketCreate(_In):
    title: Any = None
    description: Any = ""
    channel: Any = "api"
    priority: Any = None
    org_id: int | None = None


class ReplyIn(_In):
    body: Any = None
    internal: bool = False
    wait_for_customer: bool = False


class SolutionIn(_In):
    body: Any = None


class DecisionIn(_In):
    accept: bool
    reason: Any = ""


class RatingIn(_In):
    score: Any = None
    comment: Any = ""


class StatusIn(_In):
    action: str
    reason: Any = ""


class PriorityIn(_In):
    priority: Any = None
    reason: Any = None


class GroupIn(_In):
    group: Any = None
    reason: Any = ""


class AssignIn(_In):
    assignee_id: int | None = None


class MergeIn(_In):
    into: int


class LinkIn(_In):
    other: int


class IncidentIn(_In):
    title: Any = None
    description: Any = ""
    org_id: int
    tickets: list[int] = []
    priority: str = "P1"


class UploadIn(_In):
    filename: Any = None
    size: Any = None
    sha256: Any = None
    ticket: Any = None
