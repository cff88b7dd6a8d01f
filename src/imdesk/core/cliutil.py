"""Small helpers shared by every domain's CLI: one-line errors, JSON output, a database session
built from settings. Importing this module pulls in no database code (``diag`` uses it on customers'
servers); ``cli_session`` imports SQLAlchemy when called. (``core`` imports no domain.)"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import typer

from imdesk.core.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one clear line on stderr and return an Exit to raise: ``raise fail("...")``."""
    typer.echo(f"imdesk: error: {message}", err=True)
    return typer.Exit(code)


def _default(o: Any) -> Any:
    if isinstance(o, (datetime, date)):
        return o.isoformat()
    if hasattr(o, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(o)
    if isinstance(o, set):
        return sorted(o)
    return str(o)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=_default, indent=2) + "\n")


_settings: Settings | None = None


def cli_settings() -> Settings:
    """Settings for this CLI process (built once, from IMDESK_* env and imdesk.toml)."""
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


@contextmanager
def cli_session(settings: Settings | None = None) -> Iterator[Session]:
    """A committed-on-success session on the configured database (migrated to the latest schema)."""
    from imdesk.core.db import make_engine, make_session_factory, session_scope
    from imdesk.migrations import upgrade

    settings = settings or cli_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()
