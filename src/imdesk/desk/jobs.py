"""Background jobs of the desk: the SLA check (every minute), auto-close (hourly) and the
classifier training (nightly)."""

from __future__ import annotations

import logging

from imdesk.core.jobs import crontab, huey_periodic, job_context

log = logging.getLogger("imdesk.desk.jobs")


@huey_periodic(crontab(minute="*"))
def sla_check_job() -> None:
    from imdesk.desk.services import run_sla_check

    ctx = job_context()
    with ctx.session_factory() as session:
        run = run_sla_check(session, clock=ctx.clock)
        session.commit()
    if run.breaches or run.warnings:
        log.info("sla check: %s warnings, %s breaches, %s escalated", run.warnings, run.breaches, run.escalated)


@huey_periodic(crontab(minute="7"))
def auto_close_job() -> None:
    from imdesk.desk.services import run_auto_close

    ctx = job_context()
    with ctx.session_factory() as session:
        run_auto_close(session, clock=ctx.clock, settings=ctx.settings)
        session.commit()


@huey_periodic(crontab(minute="30", hour="3"))
def train_classifier_job() -> None:
    from imdesk.desk.services import train_classifier

    ctx = job_context()
    with ctx.session_factory() as session:
        row = train_classifier(session, clock=ctx.clock)
        session.commit()
    if row is not None:
        log.info("classifier trained on %s samples, accuracy %s", row.samples, row.accuracy)
