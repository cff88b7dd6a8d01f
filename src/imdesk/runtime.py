"""Process wiring shared by ``imdesk serve``, ``imdesk worker`` and the tests: which domain modules
declare background jobs, the ASGI app from settings, and the model-vs-migration check."""

from __future__ import annotations

from imdesk.core.discovery import domain_parts


def import_job_modules() -> list[str]:
    """Import every ``imdesk.<domain>.jobs`` so their tasks are declared before the consumer starts."""
    return [m.__name__ for m in domain_parts("jobs")]


def pending_model_changes(url: str = "sqlite://") -> list[str]:
    """Differences between the models and a database built by the migrations (empty = in step)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from imdesk.core.db import Base, make_engine
    from imdesk.migrations import upgrade
    from imdesk.migrations.env_support import import_all_models, include_object

    import_all_models()
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"include_object": include_object, "compare_type": True})
            return [repr(d) for d in compare_metadata(ctx, Base.metadata)]
    finally:
        engine.dispose()
