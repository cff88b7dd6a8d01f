"""Background jobs of accounts: keep the login rate-limit table small."""

from __future__ import annotations

from datetime import timedelta

from imdesk.accounts import services
from imdesk.core.db import session_scope
from imdesk.core.jobs import crontab, huey_periodic, huey_task, job_context


def prune_login_attempts_now() -> int:
    """Delete failed-login rows older than two rate-limit windows; returns how many went."""
    ctx = job_context()
    cutoff = ctx.clock.now() - timedelta(seconds=2 * ctx.settings.login_window_s)
    with session_scope(ctx.session_factory) as session:
        return services.prune_login_attempts(session, older_than=cutoff)


@huey_task()
def prune_login_attempts() -> int:
    return prune_login_attempts_now()


@huey_periodic(crontab(minute="*/15"))
def prune_login_attempts_periodic() -> None:
    prune_login_attempts_now()
