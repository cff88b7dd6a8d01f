"""``imdesk diag templates|analyze|grep``.

The ``diag`` sub-group lives here as the module-level :data:`diag_app`; other diag CLI modules
(e.g. ``tools.py`` for ``diag doctor``) import it and add their commands to it.

Exit codes (DESIGN contract): 0 ok, 1 findings found (analyze: a finding of severity error or
critical; grep: no record matched, like grep), 2 bad usage or unreadable input.
"""

from __future__ import annotations

import json
import sys
from array import array
from pathlib import Path

import typer

diag_app = typer.Typer(
    name="diag",
    help="Diagnostics: log templates, root-cause analysis and grep over logs and support bundles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def register(app: typer.Typer) -> None:
    app.add_typer(diag_app, name="diag")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"imdesk: error: {message}", err=True)
    return typer.Exit(code)


def _profile(name: str | None):
    from imdesk.profiles import ProfileError, load_profile

    try:
        return load_profile(name)
    except ProfileError as exc:
        raise _fail(str(exc)) from None


def _limits(max_entries: int, max_total_mb: int, max_ratio: float, max_line_kb: int):
    from imdesk.diag.readers import Limits

    if min(max_entries, max_total_mb, max_line_kb) < 1 or max_ratio < 1:
        raise _fail("limits must be positive (--max-entries, --max-total-mb, --max-line-kb >= 1, --max-ratio >= 1)")
    return Limits(max_entries=max_entries, max_total_bytes=max_total_mb << 20, max_ratio=max_ratio,
                  max_line_bytes=max_line_kb << 10)


def _window(profile, since: str | None, until: str | None) -> tuple[float | None, float | None]:
    from zoneinfo import ZoneInfo

    from imdesk.diag.timeutil import parse_window

    fmt = profile.data("log_format") if profile.has("log_format") else {}
    tz = ZoneInfo(fmt.get("timezone") or "UTC")
    start, end = parse_window(since, until, tz=tz)
    return (start.timestamp() if start else None, end.timestamp() if end else None)


def _problems(problems) -> None:
    for p in problems:
        typer.echo(f"imdesk: warning: {p}", err=True)


_MAX_ENTRIES = typer.Option(100_000, "--max-entries", help="Cap on files and archive members looked at.")
_MAX_TOTAL = typer.Option(65_536, "--max-total-mb", help="Cap on the total uncompressed size read (MiB).")
_MAX_RATIO = typer.Option(200.0, "--max-ratio", help="Cap on one member's compression ratio (zip bombs).")
_MAX_LINE = typer.Option(1024, "--max-line-kb", help="Longer lines are cut to this size (KiB).")


@diag_app.command("templates")
def templates_cmd(
    files: list[Path] = typer.Argument(..., help="Log files, folders or bundles (.gz, .zip, .tar.gz)."),
    log_format: str | None = typer.Option(
        None, "--log-format", help="Loghub-style header template, e.g. '<Date> <Time> <Level> <Component>: <Content>'."
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per record: {line, template_id, template}."),
    profile: str | None = typer.Option(None, "--profile", help="Profile whose log format is used without --log-format."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Template baseline (JSON) to start from."),
    save_baseline: Path | None = typer.Option(None, "--save-baseline", help="Write the templates as a baseline (JSON)."),
    max_entries: int = _MAX_ENTRIES,
    max_total_mb: int = _MAX_TOTAL,
    max_ratio: float = _MAX_RATIO,
    max_line_kb: int = _MAX_LINE,
) -> None:
    """Group log records into templates (variables masked as <*>)."""
    from imdesk.diag.formats import LineParser
    from imdesk.diag.mining import TemplateMiner
    from imdesk.diag.readers import Walker

    prof = _profile(profile)
    parser = LineParser.for_profile(prof, header=log_format)
    miner = TemplateMiner.load(baseline) if baseline else TemplateMiner()
    keys = array("q")
    batch: list[str] = []
    with Walker(_limits(max_entries, max_total_mb, max_ratio, max_line_kb)) as walker:
        for entry in walker.walk(*[str(f) for f in files]):
            if entry.kind != "log":
                continue
            for rec in parser.records(entry.lines(), source=entry.name, node=entry.node):
                batch.append(rec.content)
                if len(batch) >= 10_000:
                    keys.extend(miner.add_batch(batch))
                    batch.clear()
        if batch:
            keys.extend(miner.add_batch(batch))
        _problems(walker.problems)
        found = walker.logs_found
    if not found:
        raise _fail("no log records found in the input")
    out = sys.stdout
    if json_out:
        # each template's part of the object is written once; a line is its number plus that part
        # (the same text as json.dumps({"line": n, "template_id": ..., "template": ...}))
        tails: dict[str, str] = {}
        for g in miner.groups():
            tails[g.id] = json.dumps({"template_id": g.id, "template": g.template}, ensure_ascii=False)[1:] + "\n"
        ids = miner.template_ids(keys)
        for start in range(0, len(ids), 65_536):
            out.write("".join([f'{{"line": {n}, {tails[t]}' for n, t in enumerate(ids[start : start + 65_536], start + 1)]))
    else:
        groups = sorted((g for g in miner.groups() if g.count), key=lambda g: -g.count)
        for g in groups:
            out.write(f"{g.count:>9}  {g.id}  {g.template}\n")
        out.write(f"{len(keys)} records, {len(groups)} templates\n")
    if save_baseline:
        miner.save(save_baseline)


@diag_app.command("analyze")
def analyze_cmd(
    paths: list[Path] = typer.Argument(..., help="A file, folder, .gz, .zip or .tar.gz bundle (several allowed)."),
    profile: str | None = typer.Option(None, "--profile", help="Product profile (default im_server)."),
    since: str | None = typer.Option(None, "--since", help="ISO 8601 time or a duration back from now (2h, 30m, 7d)."),
    until: str | None = typer.Option(None, "--until", help="ISO 8601 time or a duration back from now."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable JSON (same as --format json)."),
    fmt: str = typer.Option("text", "--format", help="text, json, markdown or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to this file."),
    lang: str = typer.Option("en", "--lang", help="Report language: en or zh."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Template baseline (JSON): report new templates."),
    save_baseline: Path | None = typer.Option(None, "--save-baseline", help="Save this run's templates as a baseline."),
    log_format: str | None = typer.Option(None, "--log-format", help="Loghub-style header template for other logs."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on a terminal."),
    utc: bool = typer.Option(False, "--utc", help="Log timestamps are UTC (log.utc: true); found per node in bundled configs too."),
    max_entries: int = _MAX_ENTRIES,
    max_total_mb: int = _MAX_TOTAL,
    max_ratio: float = _MAX_RATIO,
    max_line_kb: int = _MAX_LINE,
) -> None:
    """Name the root cause: findings ranked by importance, timeline, spikes, new templates."""
    from imdesk.diag.analyze import AnalyzeOptions, Analyzer
    from imdesk.diag.report import render, render_text

    fmt = "json" if json_out else fmt.lower()
    if fmt not in ("text", "json", "markdown", "md", "html"):
        raise _fail(f"unknown --format {fmt!r}: use text, json, markdown or html")
    fmt = "markdown" if fmt == "md" else fmt
    if lang not in ("en", "zh"):
        raise _fail("--lang must be en or zh")
    prof = _profile(profile)
    start, end = _window(prof, since, until)
    opts = AnalyzeOptions(
        profile=prof.name, since=start, until=end, baseline=str(baseline) if baseline else None,
        save_baseline=str(save_baseline) if save_baseline else None,
        limits=_limits(max_entries, max_total_mb, max_ratio, max_line_kb), log_format=log_format,
        utc=True if utc else None,
    )
    bar = None
    if progress and sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        bar = Progress(SpinnerColumn(), TextColumn("[bold]analysing[/] {task.fields[done]}"), TimeElapsedColumn(),
                       TextColumn("[dim]{task.fields[member]}[/]"), console=Console(stderr=True), transient=True)
        task = bar.add_task("analyse", total=None, done="", member="")

        def _tick(nbytes: int, member: str) -> None:
            bar.update(task, done=f"{nbytes / 1e6:,.0f} MB", member=member.rsplit("!", 1)[-1][-50:])

        opts.progress = _tick
        bar.start()
    try:
        analyzer = Analyzer(opts)
        report = analyzer.run([str(p) for p in paths])
    finally:
        if bar is not None:
            bar.stop()
    st = report["stats"]
    if st["files"] == 0 and not st["configs"]:
        _problems(report["problems"])
        raise _fail("nothing to analyse: no log files or im_config.yaml found in the input")
    if fmt == "text" and output is None:
        from rich.console import Console

        render_text(report, Console(), lang=lang)
    else:
        text = render(report, fmt, lang=lang)
        if output is not None:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise _fail(f"cannot write {output}: {exc.strerror or exc}") from None
        else:
            sys.stdout.write(text)
    if fmt != "text":
        _problems(report["problems"])
    if st["records"] == 0 and st["skipped_outside_window"]:
        typer.echo(f"imdesk: warning: no record between --since and --until "
                   f"({st['skipped_outside_window']} lines were outside the window)", err=True)
    elif st["files"] and not report["findings"] and (
        st["records"] == 0 or st["unknown_format_files"] == st["files"]
    ):
        raise _fail("no log in a known format (im_server text or JSON) and nothing recognised: "
                    "give --log-format '<Date> <Time> <Level> <Content>' for another layout")
    if any(f["severity"] in ("critical", "error") for f in report["findings"]):
        raise typer.Exit(1)


@diag_app.command("grep")
def grep_cmd(
    paths: list[Path] = typer.Argument(..., help="Log files, folders or bundles; rotated .gz files included."),
    level: str | None = typer.Option(None, "--level", help="Minimum level: DEBUG, INFO, WARN, ERROR, FATAL."),
    since: str | None = typer.Option(None, "--since", help="ISO 8601 time or a duration back from now."),
    until: str | None = typer.Option(None, "--until", help="ISO 8601 time or a duration back from now."),
    module: str | None = typer.Option(None, "--module", help="Only this module (gateway, auth, msg, ...)."),
    code: str | None = typer.Option(None, "--code", help="Only this error code, e.g. ERR_IM_5003."),
    fields: str | None = typer.Option(
        None, "--fields", help="Print these fields, e.g. date,time,code (also level, module, message, file, line, node, or a key=value key)."
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per record."),
    profile: str | None = typer.Option(None, "--profile", help="Product profile (default im_server)."),
    log_format: str | None = typer.Option(None, "--log-format", help="Loghub-style header template for other logs."),
    utc: bool = typer.Option(False, "--utc", help="Log timestamps are UTC (log.utc: true)."),
    max_entries: int = _MAX_ENTRIES,
    max_total_mb: int = _MAX_TOTAL,
    max_ratio: float = _MAX_RATIO,
    max_line_kb: int = _MAX_LINE,
) -> None:
    """Filter log records by level, time window, module and code; print them or chosen fields."""
    from imdesk.diag.formats import LineParser, epoch_to_iso
    from imdesk.diag.grep import GrepQuery, format_fields, grep, parse_fields
    from imdesk.diag.readers import Walker

    prof = _profile(profile)
    start, end = _window(prof, since, until)
    query = GrepQuery(level=level, module=module, code=code, since=start, until=end)
    chosen = parse_fields(fields)
    parser = LineParser.for_profile(prof, header=log_format, utc=True if utc else None)
    matched = 0
    out = sys.stdout
    with Walker(_limits(max_entries, max_total_mb, max_ratio, max_line_kb)) as walker:
        for rec in grep([str(p) for p in paths], query, parser, walker):
            matched += 1
            if json_out:
                obj = {"file": rec.source, "line": rec.line, "node": rec.node or None,
                       "ts": epoch_to_iso(rec.ts, parser.tz), "level": rec.level, "module": rec.module,
                       "code": rec.code, "message": rec.content}
                if chosen:
                    obj = {k: format_fields(rec, [k], parser.tz) for k in chosen}
                out.write(json.dumps(obj, ensure_ascii=False) + "\n")
            else:
                out.write(format_fields(rec, chosen, parser.tz) + "\n")
        _problems(walker.problems)
        found = walker.logs_found
    if not found:
        raise _fail("no log files found in the input")
    if matched == 0:
        raise typer.Exit(1)


__all__ = ["diag_app", "register"]
