"""Background jobs run for real: SQLite storage by default, Redis when IMDESK_QUEUE_URL is a
redis:// URL (IMDESK_TEST_REDIS_URL enables that leg; CI sets it)."""

from __future__ import annotations

import os

import pytest

from imdesk.core import jobs
from imdesk.core.settings import Settings

REDIS_URL = os.environ.get("IMDESK_TEST_REDIS_URL", "")
QUEUES = ["sqlite"] + (["redis"] if REDIS_URL else [])


@jobs.huey_task(retries=2, retry_delay=0)
def _add(a: int, b: int) -> int:
    return a + b


_flaky_calls: list[int] = []


@jobs.huey_task(retries=3, retry_delay=0)
def _flaky(n: int) -> str:
    _flaky_calls.append(n)
    if len(_flaky_calls) < 3:
        raise RuntimeError("transient")
    return "ok"


@jobs.huey_task()
def _count_users() -> int:
    from sqlalchemy import text

    with jobs.job_context().session_factory() as s:
        return s.execute(text("SELECT count(*) FROM users")).scalar_one()


@pytest.fixture(params=QUEUES)
def consumer(request, tmp_path, session_factory):
    queue_url = REDIS_URL if request.param == "redis" else ""
    settings = Settings(env="development", data_dir=tmp_path, queue_url=queue_url,
                        database_url=f"sqlite:///{tmp_path / 'x.db'}")
    huey = jobs.init_jobs(settings, session_factory)
    huey.flush()
    # No periodic scheduler: the domains' periodic jobs would share the test's connection.
    c = jobs.start_consumer_thread(workers=1, periodic=False)
    yield huey
    c.stop(graceful=True)
    huey.flush()
    jobs.close_huey(huey)  # an open Redis socket left to the garbage collector is a ResourceWarning


def test_task_runs_in_consumer(consumer):
    result = _add.enqueue(20, 22)
    assert result.get(blocking=True, timeout=20) == 42


def test_retries_until_success(consumer):
    _flaky_calls.clear()
    result = _flaky.enqueue(1)
    assert result.get(blocking=True, timeout=20) == "ok"
    assert len(_flaky_calls) == 3


def test_tasks_get_the_job_context(consumer, session):
    from tests.factories import make_user

    make_user(session, "agent")
    session.commit()
    assert _count_users.enqueue().get(blocking=True, timeout=20) >= 1


def test_redis_queue_is_chosen_for_redis_url(tmp_path):
    from huey import RedisHuey, SqliteHuey

    s = Settings(data_dir=tmp_path, queue_url="redis://127.0.0.1:6379/15")
    assert isinstance(jobs.make_huey(s), RedisHuey)
    assert isinstance(jobs.make_huey(Settings(data_dir=tmp_path)), SqliteHuey)
