"""Shared fixtures. Every database test runs on SQLite and, when IMDESK_TEST_PG_URL is set, on
PostgreSQL too (a throw-away database per test run); each test runs inside a transaction that is
rolled back at the end (SQLAlchemy's "join a session into an external transaction" recipe)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from imdesk.core.clock import FixedClock
from imdesk.core.db import make_engine
from imdesk.core.settings import Settings
from imdesk.migrations import upgrade

# CI shares two cores with PostgreSQL, Redis and Chromium: timing is not what property tests check.
hypothesis_settings.register_profile("imdesk", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("imdesk")

PG_URL = os.environ.get("IMDESK_TEST_PG_URL", "")
ENGINE_PARAMS = ["sqlite"] + (["postgresql"] if PG_URL else [])
TEST_SECRET = "test-secret-key-for-imdesk-tests-0123456789"


def _create_pg_database(base_url: str) -> tuple[str, str]:
    url = make_url(base_url)
    name = f"imdesk_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(base_url: str, name: str) -> None:
    admin = create_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _engines(tmp_path_factory) -> Iterator[dict[str, Engine]]:
    engines: dict[str, Engine] = {}
    sqlite_path = tmp_path_factory.mktemp("db") / "test.db"
    engines["sqlite"] = make_engine(f"sqlite:///{sqlite_path}")
    upgrade(engines["sqlite"])
    pg_name = None
    if PG_URL:
        url, pg_name = _create_pg_database(PG_URL)
        engines["postgresql"] = make_engine(url)
        upgrade(engines["postgresql"])
    yield engines
    for e in engines.values():
        e.dispose()
    if pg_name:
        _drop_pg_database(PG_URL, pg_name)


@pytest.fixture(params=ENGINE_PARAMS)
def engine(request, _engines) -> Engine:
    return _engines[request.param]


@pytest.fixture
def db_connection(engine) -> Iterator:
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            yield conn
        finally:
            if trans.is_active:
                trans.rollback()


@pytest.fixture
def session_factory(db_connection) -> sessionmaker[Session]:
    return sessionmaker(bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(session_factory) -> Iterator[Session]:
    s = session_factory()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # Tue 10:00 Asia/Shanghai


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="test", secret_key=TEST_SECRET, database_url="sqlite:///" + str(tmp_path / "unused.db"),
                    data_dir=tmp_path / "data", log_json=False, log_level="WARNING")


@pytest.fixture
def app(settings, session_factory, clock):
    from imdesk.app import create_app
    from imdesk.runtime import import_job_modules

    import_job_modules()
    return create_app(settings, session_factory=session_factory, clock=clock)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c
