"""Background jobs of the knowledge base: nightly merge of the full-text index segments."""

from __future__ import annotations

from imdesk.core.jobs import crontab, huey_periodic, job_context


@huey_periodic(crontab(minute="23", hour="3"))
def optimize_search_index_job() -> None:
    from imdesk.kb.search import optimize_index

    ctx = job_context()
    with ctx.session_factory() as session:
        optimize_index(session)
        session.commit()
