"""Logging configured once (from create_app and the CLI callback): structured lines with a
request/job id, and a filter that redacts secrets before anything is written."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("imdesk_request_id", default="-")

_SECRET_PATTERNS = [
    (re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer ***"),
    (re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|authorization)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)"), r"\1\2***"),
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^:/\s@]+:)[^@\s]+@"), r"\1***@"),
]


def redact_text(text: str) -> str:
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        if isinstance(record.msg, str) and not record.args:
            record.msg = redact_text(record.msg)
        elif record.args:
            try:
                record.msg = redact_text(record.getMessage())
                record.args = None
            except Exception:  # a broken format string must never stop logging
                pass
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "msg": record.getMessage(),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


_handler: logging.Handler | None = None


def configure_logging(*, json_logs: bool = True, level: str = "INFO") -> None:
    """Configure the ``imdesk`` logger once (one stderr handler with the redaction filter); later
    calls only change the level and the format (the CLI starts plain, ``serve`` switches to JSON)."""
    global _handler
    logger = logging.getLogger("imdesk")
    logger.setLevel(level.upper())
    if _handler is None:
        _handler = logging.StreamHandler(sys.stderr)
        _handler.addFilter(RedactingFilter())
        logger.addHandler(_handler)
        logger.propagate = False
    if json_logs:
        _handler.setFormatter(JsonFormatter())
    else:
        _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(name)s] %(request_id)s %(message)s"))
