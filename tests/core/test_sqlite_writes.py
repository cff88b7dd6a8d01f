"""Concurrent read-then-write transactions on SQLite: with prepare_for_writes they queue on the
write lock instead of failing with "database is locked"; best_effort_write skips, never fails."""

from __future__ import annotations

import threading

from sqlalchemy import Column, Integer, MetaData, Table, select, update

from imdesk.core.db import best_effort_write, make_engine, make_session_factory, prepare_for_writes

meta = MetaData()
counter = Table("counter", meta, Column("id", Integer, primary_key=True), Column("n", Integer))


def _setup(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(counter.insert().values(id=1, n=0))
    return engine, make_session_factory(engine)


def _hammer(factory, *, prepared: bool, rounds: int = 40) -> list[Exception]:
    errors: list[Exception] = []

    def work():
        for _ in range(rounds):
            s = factory()
            try:
                if prepared:
                    prepare_for_writes(s)
                n = s.execute(select(counter.c.n).where(counter.c.id == 1)).scalar_one()  # read first
                s.execute(update(counter).where(counter.c.id == 1).values(n=n + 1))  # then write
                s.commit()
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
                s.rollback()
            finally:
                s.close()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_prepared_writers_never_fail_and_lose_no_update(tmp_path):
    engine, factory = _setup(tmp_path)
    assert _hammer(factory, prepared=True) == []
    with engine.connect() as conn:
        assert conn.execute(select(counter.c.n)).scalar_one() == 6 * 40  # no lost update either
    engine.dispose()


def test_best_effort_write_skips_when_locked(tmp_path):
    engine, factory = _setup(tmp_path)
    reader = factory()
    reader.execute(select(counter.c.n)).scalar_one()  # a read transaction is open
    writer = factory()
    prepare_for_writes(writer)
    writer.execute(update(counter).values(n=100))
    writer.commit()  # another connection committed after the reader's snapshot
    with best_effort_write(reader):
        reader.execute(update(counter).values(n=5))  # cannot upgrade: skipped, no exception
    reader.commit()
    with engine.connect() as conn:
        assert conn.execute(select(counter.c.n)).scalar_one() == 100
    reader.close()
    writer.close()
    engine.dispose()
