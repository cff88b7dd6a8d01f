"""The notification outbox: enqueue in the caller's transaction, deliver from the worker.

``enqueue_email`` writes a row (nothing is sent during a request). ``deliver_due`` sends the rows
whose time has come; a failure schedules the next attempt with exponential backoff
(:func:`backoff`), a permanent failure or too many attempts marks the row ``dead``. A periodic
job (``deliver_outbox_job``) runs it every minute in ``imdesk worker`` / ``imdesk serve``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imdesk.channels import smtp
from imdesk.channels.models import OutboxMessage
from imdesk.core.clock import Clock, SystemClock
from imdesk.core.jobs import crontab, huey_periodic, huey_task

log = logging.getLogger("imdesk.channels.outbox")

BASE_DELAY_S = 30
MAX_DELAY_S = 3600
MAX_ATTEMPTS = 12


def backoff(attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``: 30 s, 60 s, 120 s ... capped at one hour."""
    return timedelta(seconds=min(MAX_DELAY_S, BASE_DELAY_S * 2 ** max(0, attempts - 1)))


def enqueue_email(session: Session, *, to: str, subject: str, text: str, html: str | None = None,
                  ref: str = "", clock: Clock | None = None) -> OutboxMessage:
    now = (clock or SystemClock()).now()
    msg = OutboxMessage(kind="email", to_address=to, subject=subject[:300], body_text=text, body_html=html,
                        ref=ref[:100], status="pending", attempts=0, next_attempt_at=now, created_at=now)
    session.add(msg)  # flushed with the caller's unit of work
    return msg


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0


def deliver_due(session: Session, cfg: smtp.SmtpConfig, *, clock: Clock | None = None,
                limit: int = 100) -> DeliveryReport:
    now = (clock or SystemClock()).now()
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    ).all()
    report = DeliveryReport()
    for row in rows:
        row.attempts += 1
        try:
            smtp.send(cfg, smtp.build_message(cfg, to=row.to_address, subject=row.subject,
                                              text=row.body_text, html=row.body_html))
        except smtp.DeliveryFailed as exc:
            row.last_error = str(exc)[:2000]
            if exc.permanent or row.attempts >= MAX_ATTEMPTS:
                row.status = "dead"
                report.dead += 1
                log.warning("outbox %s dead after %s attempts: %s", row.id, row.attempts, exc)
            else:
                row.next_attempt_at = now + backoff(row.attempts)
                report.retried += 1
            continue
        row.status, row.sent_at, row.last_error = "sent", now, ""
        report.sent += 1
    session.flush()
    return report


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")) or 0


def messages_for(session: Session, ref_prefix: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.ref.startswith(ref_prefix))
                                .order_by(OutboxMessage.id)))


def _run_delivery() -> DeliveryReport:
    from imdesk.core.jobs import job_context

    ctx = job_context()
    with ctx.session_factory() as session:
        report = deliver_due(session, smtp.SmtpConfig.from_settings(ctx.settings), clock=ctx.clock)
        session.commit()
    return report


@huey_periodic(crontab(minute="*"))
def deliver_outbox_job() -> None:
    _run_delivery()


@huey_task()
def deliver_outbox_now() -> None:
    _run_delivery()


