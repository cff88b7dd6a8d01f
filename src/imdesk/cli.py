"""The ``imdesk`` command line: a Typer root that mounts every domain's ``cli.py``.

Each domain module ``imdesk.<domain>.cli`` exposes ``register(app: typer.Typer) -> None`` and adds
its commands or sub-groups there. Exit codes (the contract in DESIGN.md): 0 ok, 1 findings found,
2 bad usage or unreadable input. Bad input never prints a traceback: errors derived from
``ImdeskError`` (and a few well-known OS errors) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

import typer

try:  # Typer >= 0.16 vendors Click
    from typer._click import exceptions as tx
except ImportError:  # pragma: no cover - older Typer on plain Click
    from click import exceptions as tx  # type: ignore[no-redef]

from imdesk import __version__
from imdesk.core.cliutil import fail
from imdesk.core.discovery import domain_parts
from imdesk.core.errors import ImdeskError

__all__ = ["app", "fail", "main"]

app = typer.Typer(
    name="imdesk",
    help="imdesk: ticket desk, self-service and diagnostics for enterprise IM servers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"imdesk {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """imdesk command line."""
    from imdesk.core.logging import configure_logging

    configure_logging(json_logs=False, level="WARNING")


db_app = typer.Typer(help="Database schema: upgrade, check.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Uvicorn worker processes."),
) -> None:
    """Serve the web UI and the API (with an in-process job consumer in the embedded default)."""
    import uvicorn

    from imdesk.core.cliutil import cli_settings

    settings = cli_settings()
    _upgrade(settings)
    typer.echo(f"imdesk serving on http://{host}:{port} (database: {settings.database_url.split('@')[-1]})", err=True)
    uvicorn.run("imdesk.asgi:app", host=host, port=port, workers=workers, log_level="warning",
                proxy_headers=True, access_log=False)


@app.command()
def worker(
    workers: int = typer.Option(2, "--workers", min=1, max=64, help="Worker threads."),
) -> None:
    """Run background jobs (notification outbox, SLA checks, log analysis) until stopped."""
    from imdesk.core.cliutil import cli_settings
    from imdesk.core.db import make_engine, make_session_factory
    from imdesk.core.jobs import get_huey, init_jobs
    from imdesk.runtime import import_job_modules

    settings = cli_settings()
    engine = make_engine(settings.database_url)
    _upgrade(settings, engine)
    import_job_modules()
    init_jobs(settings, make_session_factory(engine))
    typer.echo(f"imdesk worker: queue {'redis' if settings.queue_url else 'sqlite'}, {workers} threads", err=True)
    get_huey().create_consumer(workers=workers, worker_type="thread", periodic=True).run()


def _upgrade(settings, engine=None) -> None:
    from imdesk.core.db import make_engine
    from imdesk.migrations import upgrade

    eng = engine or make_engine(settings.database_url)
    try:
        upgrade(eng)
    finally:
        if engine is None:
            eng.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the configured database to the latest schema (all domain branches)."""
    from imdesk.core.cliutil import cli_settings

    settings = cli_settings()
    _upgrade(settings)
    typer.echo("database is up to date")


@db_app.command("check")
def db_check() -> None:
    """Exit 1 when the models and the migrations differ (a migration is missing)."""
    from imdesk.runtime import pending_model_changes

    diffs = pending_model_changes()
    if diffs:
        for d in diffs:
            typer.echo(f"model change without migration: {d}")
        raise typer.Exit(1)
    typer.echo("models and migrations agree")


@demo_app.command("load")
def demo_load(
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when the database has users already."),
) -> None:
    """Load the demo organisations, users and content (password for every demo user: imdesk-demo)."""
    from imdesk import demo
    from imdesk.core.cliutil import cli_session

    with cli_session() as session:
        ctx = demo.load(session, if_empty=if_empty)
    if ctx is None:
        typer.echo("database already has data; demo not loaded")
    else:
        typer.echo(f"demo loaded: {len(ctx.orgs)} organisations, {len(ctx.users)} users (password: {ctx.password})")


def _mount_domains() -> None:
    for module in domain_parts("cli"):
        module.register(app)


_mount_domains()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point with the never-a-traceback guarantee for expected errors."""
    try:
        rv = app(args=argv, prog_name="imdesk", standalone_mode=False)
    except typer.Abort:
        typer.echo("imdesk: aborted", err=True)
        sys.exit(130)
    except tx.NoArgsIsHelpError as exc:
        if exc.ctx is not None:
            typer.echo(exc.ctx.get_help())
        sys.exit(2)
    except tx.ClickException as exc:  # usage errors: one line, exit 2
        lines = exc.format_message().splitlines()
        msg = lines[0] if lines else str(exc)
        hint = ""
        if isinstance(exc, tx.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        typer.echo(f"imdesk: error: {msg}{hint}", err=True)
        sys.exit(2 if isinstance(exc, tx.UsageError) else exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except ImdeskError as exc:
        typer.echo(f"imdesk: error: {exc.detail}", err=True)
        sys.exit(2)
    except (FileNotFoundError, IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        typer.echo(f"imdesk: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("imdesk: interrupted", err=True)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
