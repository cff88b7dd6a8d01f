"""Alembic environment: imports every domain's models so autogenerate and checks see them all."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from imdesk.core.db import Base
from imdesk.migrations.env_support import import_all_models, include_object

import_all_models()
target_metadata = Base.metadata
config = context.config


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
    connection = config.attributes.get("connection")
    opts = dict(target_metadata=target_metadata, include_object=include_object, compare_type=True,
                render_as_batch=True)
    if connection is not None:
        context.configure(connection=connection, **opts)
        with context.begin_transaction():
            context.run_migrations()
        return
    with engine.connect() as conn:
        context.configure(connection=conn, **opts)
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()


run()
