"""Tables of the ops domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from imdesk.core.db import Base, UTCDateTime


class AttachmentAnalysis(Base):
    """One log analysis of a file attached to a ticket (at most one per attachment)."""

    __tablename__ = "ops_attachment_analyses"

    id: Mapped[int] = mapped_column(primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("desk_attachments.id", ondelete="CASCADE"), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("desk_tickets.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done | failed | skipped
    headline: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
