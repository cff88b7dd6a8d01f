"""Log files and support bundles attached to tickets are analysed in the background and the
report is posted on the ticket as an internal note (the write path of ``AttachmentAnalysis``).

A periodic job picks up attachments it has not seen (``run_pending``); each one is claimed by
inserting its row first, so two workers never analyse the same file twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from imdesk.accounts.services import SYSTEM
from imdesk.core.clock import Clock, SystemClock
from imdesk.core.db import session_scope
from imdesk.core.errors import ImdeskError
from imdesk.desk import queries as desk_queries
from imdesk.desk import services as desk_services
from imdesk.ops.models import AttachmentAnalysis

LOG_SUFFIXES = (".log", ".txt", ".gz", ".tgz", ".tar", ".zip", ".json", ".out")
LOG_TYPES = ("text/", "application/gzip", "application/x-gzip", "application/zip", "application/x-tar",
             "application/json", "application/x-ndjson")
MAX_ANALYSED_BYTES = 4 << 30
NOTE_MAX_CHARS = 60_000


def is_log_like(filename: str, content_type: str) -> bool:
    name = (filename or "").lower()
    return name.endswith(LOG_SUFFIXES) or (content_type or "").lower().startswith(LOG_TYPES)


def _last_seen(session: Session) -> int:
    return session.scalar(select(func.max(AttachmentAnalysis.attachment_id))) or 0


def _claim(session: Session, att: desk_queries.AttachmentFile, clock: Clock) -> AttachmentAnalysis | None:
    row = AttachmentAnalysis(attachment_id=att.id, ticket_id=att.ticket_id, status="running",
                             started_at=clock.now())
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None  # another worker has it
    return row


def _analyse_file(att: desk_queries.AttachmentFile, lang: str) -> dict[str, Any]:
    from imdesk.diag.analyze import analyze_for_ticket

    result = analyze_for_ticket([att.storage_path], lang=lang)
    # Evidence names the file the customer attached, not where the server stores it.
    stored, shown = att.storage_path, att.filename
    result["markdown"] = result["markdown"].replace(stored, shown)
    return result


def analyse_attachment(session: Session, att: desk_queries.AttachmentFile, *, clock: Clock | None = None,
                       lang: str = "zh") -> AttachmentAnalysis | None:
    """Analyse one attachment and post the report on its ticket; returns the stored record
    (None when another worker claimed it)."""
    clock = clock or SystemClock()
    row = _claim(session, att, clock)
    if row is None:
        return None
    if not is_log_like(att.filename, att.content_type):
        row.status, row.detail = "skipped", "not a log file or bundle"
    elif att.size > MAX_ANALYSED_BYTES:
        row.status, row.detail = "skipped", f"larger than {MAX_ANALYSED_BYTES >> 30} GB"
    elif not Path(att.storage_path).is_file():
        row.status, row.detail = "failed", "the stored file is missing"
    else:
        try:
            result = _analyse_file(att, lang)
        except ImdeskError as exc:
            row.status, row.detail = "failed", exc.detail.replace(att.storage_path, att.filename)
            _post(session, row, att, f"自动日志分析未能完成 / Automatic log analysis failed: {att.filename}: "
                  f"{row.detail}", clock)
        else:
            row.status = "done"
            row.headline = (result["headline"] or "")[:500] or None
            title = result["headline"] or "未发现警告及以上级别的问题 / no finding of severity warning or worse"
            body = f"自动日志分析 / Automatic log analysis — {att.filename}\n\n{title}\n\n{result['markdown']}"
            _post(session, row, att, body[:NOTE_MAX_CHARS], clock)
    row.finished_at = clock.now()
    session.flush()
    return row


def _post(session: Session, row: AttachmentAnalysis, att: desk_queries.AttachmentFile, body: str,
          clock: Clock) -> None:
    try:
        with session.begin_nested():
            desk_services.do_add_reply(session, SYSTEM, att.ticket_id, body, internal=True, clock=clock)
    except ImdeskError as exc:  # e.g. the ticket was closed meanwhile: keep the record, skip the note
        row.detail = (row.detail + f" (note not posted: {exc.detail})").strip()


def run_pending(factory: sessionmaker[Session], *, clock: Clock | None = None, limit: int = 20) -> int:
    """Analyse attachments not seen yet (each in its own transaction); returns how many were handled."""
    with session_scope(factory) as session:
        pending = desk_queries.attachment_files_after(session, _last_seen(session), limit=limit)
    done = 0
    for att in pending:
        with session_scope(factory) as session:
            if analyse_attachment(session, att, clock=clock) is not None:
                done += 1
    return done


def analyses_of_ticket(session: Session, ticket_id: int) -> list[AttachmentAnalysis]:
    return list(session.scalars(select(AttachmentAnalysis).where(AttachmentAnalysis.ticket_id == ticket_id)
                                .order_by(AttachmentAnalysis.id)))
