"""Logs and bundles attached to a ticket are analysed in the background; the report lands on the
ticket as an internal note (agents see it, customers do not)."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from imdesk.accounts.services import SYSTEM
from imdesk.desk import queries as desk_queries
from imdesk.desk import services as desk_services
from imdesk.ops import analysis
from imdesk.ops.jobs import analyse_new_attachments  # noqa: F401  (the periodic job is declared)
from tests.desk.factories import make_ticket
from tests.factories import make_org, make_user


def _pool_timeout_log() -> bytes:
    rows = []
    for i in range(400):
        rows.append(f"2026-03-15 10:{i // 60:02d}:{i % 60:02d}.100 INFO [msg] - delivered to=u{i} trace_id=a{i:05x}")
        if i % 4 == 0:
            rows.append(f"2026-03-15 10:{i // 60:02d}:{i % 60:02d}.200 ERROR [storage] ERR_IM_5003 database pool "
                        f"timeout waited=5000ms pool_size=8 trace_id=b{i:05x}")
    return ("\n".join(rows) + "\n").encode()


def _bundle() -> bytes:
    buf = io.BytesIO()
    data = _pool_timeout_log()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("node-1/logs/2026-03-15.log")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def ticket(session, clock):
    org = make_org(session)
    customer = make_user(session, "customer", org_id=org)
    make_user(session, "agent")
    t = make_ticket(session, customer, clock=clock)
    session.commit()
    return customer, t.id


def _notes(session, actor, ticket_id):
    t = desk_queries.get_ticket(session, actor, ticket_id)
    return [e for e in desk_queries.timeline(session, actor, t) if e["kind"] == "note"]


def test_bundle_report_is_posted_as_internal_note(session, session_factory, settings, clock, ticket):
    customer, ticket_id = ticket
    desk_services.do_add_attachment(session, customer, ticket_id, "bundle.tar.gz", _bundle(), settings=settings,
                                    clock=clock)
    session.commit()
    assert analysis.run_pending(session_factory, clock=clock) == 1
    [row] = analysis.analyses_of_ticket(session, ticket_id)
    assert row.status == "done" and "ERR_IM_5003" in row.headline
    notes = _notes(session, SYSTEM, ticket_id)
    assert len(notes) == 1 and "ERR_IM_5003" in notes[0]["body"] and "bundle.tar.gz" in notes[0]["body"]
    assert str(settings.data_dir) not in notes[0]["body"]  # no server storage path leaks
    assert _notes(session, customer, ticket_id) == []  # internal: the customer does not see it
    assert analysis.run_pending(session_factory, clock=clock) == 0  # never twice


def test_non_logs_are_skipped_and_broken_archives_reported(session, session_factory, settings, clock, ticket):
    customer, ticket_id = ticket
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    desk_services.do_add_attachment(session, customer, ticket_id, "screenshot.png", png, settings=settings,
                                    clock=clock)
    desk_services.do_add_attachment(session, customer, ticket_id, "2026-03-15.log.gz",
                                    gzip.compress(_pool_timeout_log())[:200], settings=settings, clock=clock)
    session.commit()
    assert analysis.run_pending(session_factory, clock=clock) == 2
    rows = analysis.analyses_of_ticket(session, ticket_id)
    skipped = [r for r in rows if r.status == "skipped"]
    assert len(skipped) == 1 and skipped[0].detail == "not a log file or bundle"
    broken = [r for r in rows if r.status != "skipped"][0]
    # a truncated gzip is reported (as a failure or as an input problem in the report), never a crash
    assert broken.status in ("done", "failed") and broken.finished_at is not None
    assert len(_notes(session, SYSTEM, ticket_id)) == 1


def test_closed_ticket_keeps_the_record_without_a_note(session, session_factory, settings, clock, ticket):
    customer, ticket_id = ticket
    desk_services.do_add_attachment(session, customer, ticket_id, "im.log", _pool_timeout_log(), settings=settings,
                                    clock=clock)
    agent = make_user(session, "senior_engineer")
    desk_services.do_add_reply(session, agent, ticket_id, "looking", clock=clock)
    for action in ("resolve", "close"):
        desk_services.do_change_status(session, agent, ticket_id, action, reason="fixed", settings=settings,
                                       clock=clock)
    assert desk_queries.get_ticket(session, SYSTEM, ticket_id).status == "closed"
    session.commit()
    assert analysis.run_pending(session_factory, clock=clock) == 1
    [row] = analysis.analyses_of_ticket(session, ticket_id)
    assert row.status == "done" and "note not posted" in row.detail


@pytest.mark.parametrize("name,ctype,expected", [
    ("a.log", "application/octet-stream", True), ("bundle.TAR.GZ", "", True), ("x.png", "image/png", False),
    ("notes", "text/plain", True), ("data.bin", "application/octet-stream", False)])
def test_log_like(name, ctype, expected):
    assert analysis.is_log_like(name, ctype) is expected
