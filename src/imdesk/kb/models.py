"""Tables of the knowledge base (SQLAlchemy 2.0). Full-text tables (``kb_fts_*``) live in the
migration as raw SQL: FTS5 on SQLite, a GIN tsvector index on PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from imdesk.core.db import Base, TimestampMixin, UTCDateTime


class Article(TimestampMixin, Base):
    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    lang: Mapped[str] = mapped_column(String(8), nullable=False, default="zh")
    category: Mapped[str] = mapped_column(String(20), nullable=False, default="scenario")
    module: Mapped[str | None] = mapped_column(String(40), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    product_versions: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    views: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    helpful_yes: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    helpful_no: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    source_ticket_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    author_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    codes: Mapped[list[ArticleCode]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="ArticleCode.position"
    )

    __table_args__ = (Index("ix_kb_articles_status_lang", "status", "lang"),)


class ArticleCode(Base):
    """An error code an article is about (front matter ``error_codes``)."""

    __tablename__ = "kb_article_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(String(80), nullable=False)
    code_key: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    article: Mapped[Article] = relationship(back_populates="codes")

    __table_args__ = (UniqueConstraint("article_id", "code_key"),)


class Revision(Base):
    """Every saved version of an article (draft → review → published)."""

    __tablename__ = "kb_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), nullable=False, index=True
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    author_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    __table_args__ = (UniqueConstraint("article_id", "number"),)


class Feedback(Base):
    """"Was this helpful?" answers."""

    __tablename__ = "kb_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    helpful: Mapped[bool] = mapped_column(Boolean, nullable=False)
    comment: Mapped[str] = mapped_column(String(1000), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class Attachment(Base):
    __tablename__ = "kb_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), nullable=False, index=True
    )
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(120), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    stored_name: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class SearchDoc(Base):
    """One searchable document (article, video or question) with its jieba-segmented text.

    SQLite indexes it with the FTS5 tables ``kb_fts_docs`` and ``kb_fts_titles`` (external content,
    kept in step by triggers); PostgreSQL stores its weighted tsvectors in ``kb_fts_vectors``
    (GIN-indexed, kept in step by a trigger; migration kb_0004).
    """

    __tablename__ = "kb_search_docs"

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(16), nullable=False)
    doc_id: Mapped[int] = mapped_column(Integer, nullable=False)
    slug: Mapped[str] = mapped_column(String(120), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    lang: Mapped[str] = mapped_column(String(8), nullable=False)
    category: Mapped[str | None] = mapped_column(String(20), nullable=True)
    module: Mapped[str | None] = mapped_column(String(40), nullable=True)
    body_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    title_tokens: Mapped[str] = mapped_column(Text, nullable=False, default="")
    body_tokens: Mapped[str] = mapped_column(Text, nullable=False, default="")
    codes_tokens: Mapped[str] = mapped_column(Text, nullable=False, default="")

    __table_args__ = (
        UniqueConstraint("doc_type", "doc_id"),
        Index("ix_kb_search_docs_lang_category", "lang", "category"),
    )


class Suggestion(Base):
    """Deflection: one ticket-form session in which articles were suggested to a customer."""

    __tablename__ = "kb_suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    org_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    query: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    shown: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    shown_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    opened_slug: Mapped[str | None] = mapped_column(String(120), nullable=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ticket_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class Video(TimestampMixin, Base):
    __tablename__ = "kb_videos"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    lang: Mapped[str] = mapped_column(String(8), nullable=False, default="zh")
    duration: Mapped[int | None] = mapped_column(Integer, nullable=True)
    topics: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    series: Mapped[str | None] = mapped_column(String(200), nullable=True)
    series_order: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stored_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    content_type: Mapped[str] = mapped_column(String(80), nullable=False, default="video/mp4")
    size: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    transcript: Mapped[str] = mapped_column(Text, nullable=False, default="")
    chapters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    views: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class WatchProgress(Base):
    __tablename__ = "kb_watch_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("kb_videos.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    __table_args__ = (UniqueConstraint("video_id", "user_id"),)


class Question(TimestampMixin, Base):
    __tablename__ = "kb_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    author_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lang: Mapped[str] = mapped_column(String(8), nullable=False, default="zh")
    tags: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    error_codes: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    article_slugs: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    score: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    hidden: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    official_answer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    edited_by: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Answer(TimestampMixin, Base):
    __tablename__ = "kb_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("kb_questions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    author_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    score: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    hidden: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    edited_by: Mapped[int | None] = mapped_column(Integer, nullable=True)


class PostEdit(Base):
    """One edit of a community question or answer: the text as it was *before* the edit, who
    replaced it and when (the edit history staff see; everyone sees only the "edited" marker)."""

    __tablename__ = "kb_post_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("kb_questions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    target_type: Mapped[str] = mapped_column(String(16), nullable=False)
    target_id: Mapped[int] = mapped_column(Integer, nullable=False)
    editor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    by_moderator: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    old_title: Mapped[str | None] = mapped_column(String(300), nullable=True)
    old_body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    old_tags: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    note: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class Vote(Base):
    __tablename__ = "kb_votes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, nullable=False)
    target_type: Mapped[str] = mapped_column(String(16), nullable=False)
    target_id: Mapped[int] = mapped_column(Integer, nullable=False)
    value: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (UniqueConstraint("user_id", "target_type", "target_id"),)
