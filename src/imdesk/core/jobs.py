"""Background jobs with Huey: SQLite storage (a file in data_dir) by default, Redis when
``IMDESK_QUEUE_URL=redis://...``. Domains declare tasks with ``huey_task``/``huey_periodic``;
the queue is bound to settings once by ``init_jobs(settings, session_factory)``.

Tasks receive nothing global: they call ``job_context()`` for the session factory, settings and
clock of the process that runs them (``imdesk serve`` in-process consumer or ``imdesk worker``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab  # noqa: F401  (crontab re-exported)
from sqlalchemy.orm import Session, sessionmaker

from imdesk.core.clock import Clock, SystemClock


@dataclass
class JobContext:
    settings: Any
    session_factory: sessionmaker[Session]
    clock: Clock


_huey: Huey | None = None
_ctx: JobContext | None = None
_pending: list[tuple[str, tuple, dict, Any]] = []
_lock = threading.Lock()


def make_huey(settings: Any, *, immediate: bool = False) -> Huey:
    if settings.queue_url:
        return RedisHuey("imdesk", url=settings.queue_url, immediate=immediate, store_intermediate_errors=False)
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("imdesk", filename=str(data_dir / "queue.db"), immediate=immediate,
                      store_intermediate_errors=False)


def init_jobs(settings: Any, session_factory: sessionmaker[Session], *, clock: Clock | None = None,
              immediate: bool = False) -> Huey:
    """Bind the queue and job context for this process and register every declared task."""
    global _huey, _ctx
    with _lock:
        if _huey is not None:
            close_huey(_huey)
        _huey = make_huey(settings, immediate=immediate)
        _ctx = JobContext(settings=settings, session_factory=session_factory, clock=clock or SystemClock())
        for kind, args, kwargs, fn in _pending:
            wrapped = getattr(_huey, kind)(*args, **kwargs)(fn)
            fn._imdesk_task = wrapped  # type: ignore[attr-defined]
    return _huey


def close_huey(huey: Huey) -> None:
    """Release the queue's connections (Huey's Redis storage leaves its pool open on ``close``)."""
    huey.storage.close()
    pool = getattr(huey.storage, "pool", None)
    if pool is not None:
        pool.disconnect()


def get_huey() -> Huey:
    if _huey is None:
        raise RuntimeError("jobs not initialised: call init_jobs(settings, session_factory) first")
    return _huey


def job_context() -> JobContext:
    if _ctx is None:
        raise RuntimeError("jobs not initialised")
    return _ctx


def _declare(kind: str, *args: Any, **kwargs: Any):
    def deco(fn):
        with _lock:
            _pending.append((kind, args, kwargs, fn))
            if _huey is not None:
                fn._imdesk_task = getattr(_huey, kind)(*args, **kwargs)(fn)

        def enqueue(*a: Any, **kw: Any):
            task = getattr(fn, "_imdesk_task", None)
            if task is None:
                raise RuntimeError("jobs not initialised")
            return task(*a, **kw)

        fn.enqueue = enqueue  # type: ignore[attr-defined]
        return fn

    return deco


def huey_task(*args: Any, **kwargs: Any):
    """Declare a background task: ``@huey_task(retries=5, retry_delay=30)``; call ``fn.enqueue(...)``."""
    return _declare("task", *args, **kwargs)


def huey_periodic(schedule, **kwargs: Any):
    """Declare a periodic task: ``@huey_periodic(crontab(minute="*"))``."""
    return _declare("periodic_task", schedule, **kwargs)


def start_consumer_thread(workers: int = 2, *, periodic: bool = True):
    """Run a Huey consumer inside this process (embedded mode of ``imdesk serve``, and tests):
    worker threads plus (unless ``periodic=False``) the periodic scheduler, started without signal
    handlers (which only the main thread may install). Returns the consumer; stop it with
    ``consumer.stop(graceful=True)``.

    Tests that share one database connection between the test and the consumer pass
    ``periodic=False``: the domains' minute-by-minute jobs would otherwise run on that connection
    at the same moment as the test (two threads on one connection is a race)."""
    consumer = get_huey().create_consumer(workers=workers, worker_type="thread", periodic=periodic,
                                          initial_delay=0.05, max_delay=1.0)
    consumer._set_signal_handlers = lambda: None  # type: ignore[method-assign]
    consumer.start()
    return consumer
