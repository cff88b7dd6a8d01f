"""Errors of the knowledge base; each has a stable ``code`` (see ``imdesk.core.errors``)."""

from __future__ import annotations

from imdesk.core.errors import BadInput, Conflict, NotFound, PayloadTooLarge


class InvalidSlug(BadInput):
    code = "kb_invalid_slug"
    title = "Invalid slug"


class FrontMatterError(BadInput):
    """Malformed front matter; ``detail`` names the file and the line."""

    code = "kb_front_matter"
    title = "Malformed front matter"

    def __init__(self, detail: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(detail, file=file, line=line)
        self.file = file
        self.line = line


class FileTooLarge(PayloadTooLarge):
    code = "kb_file_too_large"
    title = "File too large"


class NotAVideo(BadInput):
    code = "kb_not_a_video"
    title = "Not a video file"


class InvalidRange(BadInput):
    status = 416
    code = "kb_range_not_satisfiable"
    title = "Range not satisfiable"


class InvalidTranscript(BadInput):
    code = "kb_invalid_webvtt"
    title = "Invalid WebVTT"


class ArticleNotFound(NotFound):
    code = "kb_article_not_found"
    title = "Article not found"


class ErrorCodeNotFound(NotFound):
    code = "kb_error_code_not_found"
    title = "Unknown error code"


class VideoNotFound(NotFound):
    code = "kb_video_not_found"
    title = "Video not found"


class QuestionNotFound(NotFound):
    code = "kb_question_not_found"
    title = "Question not found"


class InvalidTransition(Conflict):
    code = "kb_invalid_transition"
    title = "Invalid state transition"


class QuestionLocked(Conflict):
    code = "kb_question_locked"
    title = "Question is locked"


class InvalidQuery(BadInput):
    code = "kb_invalid_query"
    title = "Invalid search query"
