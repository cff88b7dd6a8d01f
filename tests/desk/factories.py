"""Desk test data, made through the desk services."""

from __future__ import annotations

from imdesk.accounts.services import Actor
from imdesk.desk import services


def make_ticket(session, actor: Actor, *, title: str = "消息发送失败 message send fails",
                description: str = "部分用户发送消息失败 some users cannot send messages", clock=None,
                org_id: int | None = None, **kw):
    return services.create_ticket(session, actor, clock=clock, title=title, description=description,
                                  org_id=org_id, **kw)
