"""Background jobs of ops: analyse log files and bundles attached to tickets."""

from __future__ import annotations

from imdesk.core.jobs import crontab, huey_periodic, job_context
from imdesk.ops.analysis import run_pending


@huey_periodic(crontab(minute="*"))
def analyse_new_attachments() -> int:
    ctx = job_context()
    return run_pending(ctx.session_factory, clock=ctx.clock)
