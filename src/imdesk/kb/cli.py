"""``imdesk kb import|export|search|reindex|error-code|stats`` commands."""

from __future__ import annotations

from pathlib import Path

import typer

from imdesk.accounts.services import SYSTEM
from imdesk.core.cliutil import cli_session, cli_settings, fail, print_json

kb_app = typer.Typer(help="Knowledge base: articles, error codes, search.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(kb_app, name="kb")


def _progress():  # a Rich progress bar on stderr (stdout stays machine-readable)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=False)


@kb_app.command("import")
def kb_import(
    directory: Path = typer.Argument(..., help="Folder tree of Markdown files with YAML front matter."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Worker processes for parsing and segmenting "
                             "(0: one per CPU, at most 2; 1: none)."),
) -> None:
    """Import articles (and video metadata); re-import updates in place, idempotent by slug."""
    import os

    from imdesk.kb import services

    if not directory.is_dir():
        raise fail(f"{directory} is not a folder")
    if not 0 <= jobs <= 64:
        raise fail("--jobs must be between 0 and 64")
    workers = jobs or min(2, os.cpu_count() or 1)
    settings = cli_settings()
    with cli_session(settings) as session, _progress() as progress:
        task = progress.add_task("importing", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = services.import_directory(session, SYSTEM, directory, progress=tick,
                                           media_root=Path(settings.data_dir) / "kb" / "videos", workers=workers)
    for err in report.errors:
        typer.echo(f"imdesk: skipped: {err}", err=True)
    data = {"created": report.created, "updated": report.updated, "unchanged": report.unchanged,
            "videos": report.videos, "errors": report.errors}
    if json_out:
        print_json(data)
    else:
        typer.echo(f"imported {report.total} documents: {report.created} created, {report.updated} updated, "
                   f"{report.unchanged} unchanged, {report.videos} videos, {len(report.errors)} skipped")
    if report.errors:
        raise typer.Exit(1)


@kb_app.command("export")
def kb_export(directory: Path = typer.Argument(..., help="Folder to write <slug>.md files into.")) -> None:
    """Export every article (and video metadata) in the import format."""
    from imdesk.kb import services

    if directory.exists() and not directory.is_dir():
        raise fail(f"{directory} exists and is not a folder")
    with cli_session() as session:
        n = services.export_directory(session, SYSTEM, directory)
    typer.echo(f"exported {n} documents to {directory}")


@kb_app.command("search")
def kb_search(
    query: str = typer.Argument(..., help="What to look for (Chinese or English, error codes welcome)."),
    limit: int = typer.Option(10, "--limit", min=1, max=100, help="Most results to return."),
    lang: str | None = typer.Option(None, "--lang", help="Only zh or en."),
    category: str | None = typer.Option(None, "--category", help="module | error_code | scenario."),
    module: str | None = typer.Option(None, "--module", help="Only articles of this module."),
    json_out: bool = typer.Option(False, "--json", help='{"results": [{"slug", "title", "score", "snippet"}]}'),
) -> None:
    """Search the knowledge base."""
    from imdesk.kb import queries

    with cli_session() as session:
        data = queries.search_json(session, query, limit=limit, lang=lang, category=category, module=module)
    if json_out:
        print_json(data)
        return
    for code in data.get("error_codes", []):
        typer.echo(f"[{code['code']}] {code['title']}")
    if not data["results"]:
        typer.echo("no results")
    for r in data["results"]:
        typer.echo(f"{r['score']:>10.3f}  {r['slug']}  {r['title']}")


@kb_app.command("reindex")
def kb_reindex() -> None:
    """Rebuild the search index of every published article, video and question."""
    from imdesk.kb import services

    with cli_session() as session, _progress() as progress:
        task = progress.add_task("indexing", total=None)
        n = services.reindex_all(session, progress=lambda d, t: progress.update(task, completed=d, total=t))
    typer.echo(f"re-indexed {n} documents")


@kb_app.command("error-code")
def kb_error_code(
    code: str = typer.Argument(..., help="ERR_IM_1002, 1002 or err_im_1002."),
    lang: str = typer.Option("zh", "--lang", help="zh or en."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Show one entry of the error-code catalogue."""
    from imdesk.kb import queries

    entry = queries.lookup_error_code(code)
    data = entry.as_dict(lang)
    if json_out:
        print_json(data)
        return
    typer.echo(f"{data['code']}  {data['title']}\n{data['meaning']}")
    for c in data["causes"]:
        typer.echo(f"  - {c}")
    typer.echo(data["fix"])


@kb_app.command("stats")
def kb_stats(json_out: bool = typer.Option(False, "--json")) -> None:
    """Self-service resolution rate per month (deflection)."""
    from imdesk.kb import queries

    with cli_session() as session:
        rows = queries.deflection_by_month(session, SYSTEM)
    if json_out:
        print_json({"months": rows})
        return
    for r in rows:
        typer.echo(f"{r['month']}  shown {r['sessions']:>6}  opened {r['opened']:>6}  "
                   f"self-service {r['resolved']:>6}  rate {r['rate']:.1%}")
    if not rows:
        typer.echo("no suggestions recorded yet")

