"""The imdesk error tree and RFC 9457 problem rendering.

Every error a service raises carries a stable machine-readable ``code`` and an HTTP ``status``;
the API renders it as ``application/problem+json``, the CLI prints one line and exits 2.

    ImdeskError                      500 internal
    ├── BadInput                     422 validation_failed   (malformed or out-of-range input)
    │   └── PayloadTooLarge          413 payload_too_large
    ├── NotAuthenticated             401 not_authenticated
    ├── PermissionDenied             403 permission_denied
    ├── NotFound                     404 not_found           (also for other organisations' objects)
    ├── Conflict                     409 conflict            (state conflicts, invalid transitions)
    ├── RateLimited                  429 rate_limited
    └── ConfigurationError           500 configuration_error (settings refused at start)

Domains subclass these (e.g. ``desk.errors.InvalidTransition(Conflict)``) and set their own
``code``. Never raise FastAPI's HTTPException from a service.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

PROBLEM_JSON = "application/problem+json"


class ErrorCode(StrEnum):
    INTERNAL = "internal"
    VALIDATION_FAILED = "validation_failed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_AUTHENTICATED = "not_authenticated"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"
    CONFIGURATION_ERROR = "configuration_error"
    CSRF_FAILED = "csrf_failed"
    INVALID_CREDENTIALS = "invalid_credentials"


class ImdeskError(Exception):
    """Base of every error imdesk raises on purpose."""

    status: int = 500
    code: str = ErrorCode.INTERNAL
    title: str = "Internal error"

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        self.extra = extra
        super().__init__(self.detail)

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://imdesk.dev/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": str(self.code),
        }
        if instance:
            body["instance"] = instance
        body.update({k: v for k, v in self.extra.items() if k not in body})
        return body


class BadInput(ImdeskError):
    status = 422
    code = ErrorCode.VALIDATION_FAILED
    title = "Invalid input"


class PayloadTooLarge(BadInput):
    status = 413
    code = ErrorCode.PAYLOAD_TOO_LARGE
    title = "Payload too large"


class NotAuthenticated(ImdeskError):
    status = 401
    code = ErrorCode.NOT_AUTHENTICATED
    title = "Authentication required"


class PermissionDenied(ImdeskError):
    status = 403
    code = ErrorCode.PERMISSION_DENIED
    title = "Permission denied"


class NotFound(ImdeskError):
    status = 404
    code = ErrorCode.NOT_FOUND
    title = "Not found"


class Conflict(ImdeskError):
    status = 409
    code = ErrorCode.CONFLICT
    title = "Conflict"


class RateLimited(ImdeskError):
    status = 429
    code = ErrorCode.RATE_LIMITED
    title = "Too many requests"


class ConfigurationError(ImdeskError):
    status = 500
    code = ErrorCode.CONFIGURATION_ERROR
    title = "Configuration error"


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> dict[str, Any]:
    """A problem body for errors that do not come from an ImdeskError (e.g. framework 404s)."""
    body = {
        "type": f"https://imdesk.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra)
    return body
