"""The typo vocabulary of a serving process is rebuilt in the background: no query waits for it."""

from __future__ import annotations

import time

from sqlalchemy.orm import sessionmaker

from imdesk.core.db import make_engine
from imdesk.kb import search
from imdesk.migrations import upgrade


def _index(factory, doc_id: int, title: str) -> None:
    with factory() as s:
        search.upsert_doc(s, doc_type="article", doc_id=doc_id, slug=f"doc-{doc_id}", title=title,
                          body_text=title, lang="en")
        s.commit()


def test_a_serving_process_answers_with_the_old_vocabulary_while_the_new_one_is_built(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    try:
        upgrade(engine)
        factory = sessionmaker(bind=engine)
        _index(factory, 1, "heartbeat interval")
        with factory() as s:
            first = search.corrector_for(s)  # the first build of the process: in line
        assert "heartbeat" in first.freq and "keepalive" not in first.freq

        _index(factory, 2, "keepalive timeout")  # an index write: the vocabulary is out of date
        with factory() as s:
            assert search.corrector_for(s) is first  # answered at once with what there is

        deadline = time.monotonic() + 20
        while True:
            with factory() as s:
                current = search.corrector_for(s)
            if current is not first or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert current is not first, "the vocabulary was not rebuilt in the background"
        assert {"heartbeat", "keepalive"} <= set(current.freq)
        assert current.correct("keepaliv")[:1] == ["keepalive"]
    finally:
        engine.dispose()


def test_a_session_on_one_connection_builds_in_line(session):
    """Tests and scripts bind sessions to one connection, which a thread must not share."""
    search.upsert_doc(session, doc_type="article", doc_id=991, slug="doc-991", title="watchdog restarts",
                      body_text="watchdog restarts", lang="en")
    session.flush()
    search.corrector_for(session)
    search.upsert_doc(session, doc_type="article", doc_id=992, slug="doc-992", title="rebalancing shards",
                      body_text="rebalancing shards", lang="en")
    session.flush()
    assert "rebalancing" in search.corrector_for(session).freq
