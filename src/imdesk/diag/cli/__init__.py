"""CLI of the diagnostics domain, split by area: ``logs`` (diag templates/analyze/grep) and
``tools`` (config, net, version, bundle, doctor)."""

from __future__ import annotations

import typer

from imdesk.diag.cli import logs, tools


def register(app: typer.Typer) -> None:
    logs.register(app)
    tools.register(app)
