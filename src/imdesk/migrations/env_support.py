"""Helpers shared by Alembic's env.py and the model-vs-migration check."""

from __future__ import annotations

from imdesk.core.discovery import domain_parts


def import_all_models() -> None:
    domain_parts("models")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    # Full-text virtual tables and their shadow tables are managed by raw SQL in migrations.
    if type_ == "table" and name and "_fts" in name:
        return False
    if type_ == "index" and name and "_fts" in name:
        return False
    return name != "alembic_version"
