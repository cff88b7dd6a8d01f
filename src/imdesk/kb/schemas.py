"""Pydantic v2 input/output of the knowledge-base API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(..., max_length=120)
    title: str = Field(..., max_length=300)
    body: str = Field("", max_length=200_000)
    lang: str = "zh"
    category: str = "scenario"
    module: str | None = Field(None, max_length=40)
    error_codes: list[str] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=30)
    product_versions: list[str] = Field(default_factory=list, max_length=30)
    status: str | None = None
    note: str = Field("", max_length=300)


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    helpful: bool
    comment: str = Field("", max_length=1000)


class DraftFromTicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(..., min_length=1, max_length=300)
    body: str = Field("", max_length=200_000)
    ticket_ref: str = Field(..., min_length=1, max_length=64)
    lang: str = "zh"


class TicketLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_ref: str = Field(..., min_length=1, max_length=64)


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(..., min_length=1, max_length=300)
    body: str = Field("", max_length=20_000)
    tags: list[str] = Field(default_factory=list, max_length=10)
    lang: str = "zh"
    article_slugs: list[str] = Field(default_factory=list, max_length=10)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(..., min_length=1, max_length=20_000)


class QuestionEditIn(BaseModel):
    """Fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, min_length=1, max_length=300)
    body: str | None = Field(None, max_length=20_000)
    tags: list[str] | None = Field(None, max_length=10)
    note: str = Field("", max_length=300)


class AnswerEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(..., min_length=1, max_length=20_000)
    note: str = Field("", max_length=300)


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: int = Field(..., ge=-1, le=1)


class OfficialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer_id: int | None


class ModerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hidden: bool | None = None
    locked: bool | None = None
    answer_id: int | None = None


class ProgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    position: int = Field(..., ge=0, le=86400)
