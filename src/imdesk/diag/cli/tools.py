"""``imdesk config|net|version|bundle`` and ``imdesk diag doctor``.

Exit codes follow the contract: 0 ok, 1 findings found, 2 bad usage or unreadable input. Bad
input raises :class:`imdesk.core.errors.BadInput` (one line on stderr, exit 2, no traceback).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from imdesk.core.errors import BadInput
from imdesk.profiles import ProfileError, load_profile

config_app = typer.Typer(name="config", help="Check, compare and print IM server config files.",
                         no_args_is_help=True, pretty_exceptions_enable=False)
net_app = typer.Typer(name="net", help="Network checks of an IM server endpoint.",
                      no_args_is_help=True, pretty_exceptions_enable=False)
version_app = typer.Typer(name="version", help="SDK/server version compatibility.",
                          no_args_is_help=True, pretty_exceptions_enable=False)
bundle_app = typer.Typer(name="bundle", help="Support bundles: collect (always redacted) and upload.",
                         no_args_is_help=True, pretty_exceptions_enable=False)


def _lang(lang: str | None) -> str:
    if lang:
        return lang
    env = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return "zh" if env.lower().startswith("zh") else "en"


def _profile(name: str | None):
    try:
        return load_profile(name)
    except ProfileError as exc:
        raise BadInput(str(exc)) from None


def _emit_json(data: object) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


LangOpt = typer.Option(None, "--lang", help="Language of messages: en or zh (default from LANG).")


# ---------------------------------------------------------------------------------------------
# config


@config_app.command("example")
def config_example(profile: str = typer.Option(None, "--profile", help="Profile name (default im_server).")) -> None:
    """Print the official example config of the current release."""
    from imdesk.diag.config_check import example_text

    typer.echo(example_text(_profile(profile)), nl=False)


@config_app.command("check")
def config_check(
    file: Path = typer.Argument(..., help="Config file, e.g. /etc/im_server/im_config.yaml."),
    profile: str = typer.Option(None, "--profile", help="Profile name (default im_server)."),
    as_json: bool = typer.Option(False, "--json", help="Machine output."),
    sarif: bool = typer.Option(False, "--sarif", help="SARIF 2.1.0 output for code-scanning tools."),
    env: str = typer.Option(None, "--env", metavar="ENV",
                            help="What the server is for: production (default), staging or development. "
                                 "In development DEBUG logs and TLS off are info, not warnings; "
                                 "JSON and SARIF name the environment used."),
    lang: str = LangOpt,
) -> None:
    """Check a config: YAML problems, schema, unknown keys and the product's rules.

    Exit 0 when clean (info only), 1 with findings of warning or worse, 2 for bad input or --env.
    """
    from imdesk.diag.config_check import check_file, environments, to_sarif

    prof = _profile(profile)
    report = check_file(file, profile=prof, environment=env)
    lang = _lang(lang)
    if sarif:
        _emit_json(to_sarif(report, lang=lang))
    elif as_json:
        _emit_json(report.to_dict())
    else:
        for f in report.findings:
            message, fix = f.text(lang)
            where = f"{file}:{f.line}" if f.line else str(file)
            if f.line and f.column:
                where += f":{f.column}"
            typer.echo(f"{where}: {f.severity} {f.rule_id} [{f.key or '-'}] {message}")
            typer.echo(f"    {'修复' if lang.startswith('zh') else 'fix'}: {fix}")
        counts = report.to_dict()["summary"]
        zh = lang.startswith("zh")
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or ("无问题" if zh else "no findings")
        label = environments(prof).label(report.environment, lang)
        where = f"环境：{label}" if zh else f"environment: {report.environment}"
        typer.echo(f"{file} ({where}): {summary}")
    raise typer.Exit(report.exit_code())


@config_app.command("diff")
def config_diff(
    file: Path = typer.Argument(..., help="Config file to compare."),
    against: Path = typer.Option(None, "--against", help="Another config (e.g. another node's); default: the official example."),
    profile: str = typer.Option(None, "--profile", help="Profile name (default im_server)."),
    as_json: bool = typer.Option(False, "--json", help="Machine output."),
    lang: str = LangOpt,
) -> None:
    """Compare a config key by key with the official example or another file (secrets by fingerprint)."""
    from imdesk.diag.config_diff import diff_files, render_text

    result = diff_files(file, against, profile=_profile(profile))
    if as_json:
        _emit_json(result.to_dict())
    else:
        typer.echo(render_text(result, lang=_lang(lang)))
    raise typer.Exit(result.exit_code())


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
    app.add_typer(net_app, name="net")
    app.add_typer(version_app, name="version")
    app.add_typer(bundle_app, name="bundle")


# ---------------------------------------------------------------------------------------------
# version


@version_app.command("check")
def version_check(
    sdk: str = typer.Option(..., "--sdk", help="SDK as LANG:VERSION, e.g. android:4.2.0."),
    server: str = typer.Option(None, "--server", help="Server version, e.g. 4.2.1 (default: `im_server --version`)."),
    profile: str = typer.Option(None, "--profile", help="Profile name (default im_server)."),
    as_json: bool = typer.Option(False, "--json", help="Machine output."),
    lang: str = LangOpt,
) -> None:
    """Is this SDK compatible with this server? Exit 0 compatible, 1 warning or incompatible."""
    from imdesk.diag.sysfacts import server_version
    from imdesk.diag.version import check_versions

    prof = _profile(profile)
    if not server:
        server = server_version(prof)
        if not server:
            raise BadInput("--server is required: `im_server --version` is not available on this machine")
    verdict = check_versions(sdk, server, profile=prof)
    if as_json:
        _emit_json(verdict.to_dict())
    else:
        zh = _lang(lang).startswith("zh")
        typer.echo(f"{verdict.status}: {verdict.reason_zh if zh else verdict.reason}")
        typer.echo(f"{'建议' if zh else 'advice'}: {verdict.advice_zh if zh else verdict.advice}")
    raise typer.Exit(verdict.exit_code())


# ---------------------------------------------------------------------------------------------
# net


@net_app.command("check")
def net_check(
    url: str = typer.Argument(..., help="Endpoint, e.g. https://im.example.com:8443/healthz or wss://host/v2/ws."),
    token: str = typer.Option(None, "--token", help="Bearer token to validate against the endpoint."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, max=120, help="Seconds per phase."),
    insecure: bool = typer.Option(False, "--insecure", help="Do not verify the certificate (still reported)."),
    ca_file: Path = typer.Option(None, "--ca-file", help="Trust this CA bundle (PEM) instead of the system's."),
    as_json: bool = typer.Option(False, "--json", help="Machine output."),
    lang: str = LangOpt,
) -> None:
    """DNS, TCP, TLS, HTTP timings, token and WebSocket checks. Exit 0 ok, 1 a phase failed."""
    from imdesk.diag.netcheck import check_url, render_text

    if ca_file is not None and not ca_file.is_file():
        raise BadInput(f"{ca_file}: no such CA file")
    result = check_url(url, token=token, timeout=timeout, verify=not insecure,
                       ca_file=str(ca_file) if ca_file else None)
    if as_json:
        _emit_json(result.to_dict())
    else:
        typer.echo(render_text(result, lang=_lang(lang)))
    raise typer.Exit(0 if result.ok else 1)


# ---------------------------------------------------------------------------------------------
# bundle


def _progress_factory(enabled: bool):
    if not enabled:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn("[bold]collecting"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=True)

    def factory(total: int):
        progress.start()
        task = progress.add_task("collect", total=max(total, 1))
        return lambda n: progress.advance(task, n)

    return factory, progress


def _auto_workers() -> int:
    cores = os.cpu_count() or 1
    return 1 if cores <= 3 else min(4, cores // 2)


@bundle_app.command("collect")
def bundle_collect(
    output: Path = typer.Option(..., "-o", "--output", help="Bundle to write, e.g. bundle.tar.gz."),
    since: str = typer.Option(None, "--since", help="Start of the window: ISO 8601 or a duration like 2h (default 24h)."),
    until: str = typer.Option(None, "--until", help="End of the window (default now)."),
    log_dir: Path = typer.Option(None, "--log-dir", help="Log folder (default: log.dir of the config, else /var/log/im_server)."),
    config: Path = typer.Option(None, "--config", help="Config file (default /etc/im_server/im_config.yaml)."),
    node_name: str = typer.Option(None, "--node-name", help="Name of this node in the bundle (default: host name)."),
    obfuscate: bool = typer.Option(False, "--obfuscate", help="Also replace IPs, host names, e-mails and phone numbers."),
    salt: str = typer.Option(None, "--redaction-salt", envvar="IMDESK_REDACTION_SALT",
                             help="Same value on every node makes redaction placeholders comparable across nodes."),
    max_size: int = typer.Option(4096, "--max-size", help="Cap on collected log data in MB."),
    no_network: bool = typer.Option(False, "--no-network", help="Skip the network check of configured endpoints."),
    workers: int = typer.Option(0, "--workers", min=0, max=64,
                                help="Processes that redact logs (0 = auto: half the cores, at most 4; 1 on ≤ 3 cores)."),
    profile: str = typer.Option(None, "--profile", help="Profile name (default im_server)."),
    progress: bool = typer.Option(None, "--progress/--no-progress", help="Progress bar (default: when stderr is a terminal)."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Collect a support bundle: logs in the window, redacted config, versions, system facts,
    network checks and manifest.json. Redaction of secrets is always on."""
    import sys

    from imdesk.diag.bundle import collect_bundle
    from imdesk.diag.timeutil import parse_window

    prof = _profile(profile)
    start, end = parse_window(since or "24h", until)
    show = progress if progress is not None else sys.stderr.isatty()
    factory, bar = _progress_factory(show and not as_json)
    try:
        result = collect_bundle(output, since=start, until=end, log_dir=log_dir, config=config, node_name=node_name,
                                profile=prof, obfuscate=obfuscate, salt=salt, max_mb=max_size,
                                network=not no_network, progress_factory=factory,
                                workers=workers or _auto_workers(),
                                explicit_log_dir=log_dir is not None, explicit_config=config is not None)
    finally:
        if bar is not None:
            bar.stop()
    m = result.manifest
    if as_json:
        _emit_json(m)
    else:
        typer.echo(f"bundle: {result.output} ({result.size / (1 << 20):.1f} MB, {len(m['files'])} files, "
                   f"{result.seconds:.1f}s)")
        typer.echo(f"window: {m['window']['since']} .. {m['window']['until'] or 'now'}")
        applied = ", ".join(f"{k}={v}" for k, v in m["redaction"]["applied"].items()) or "none found"
        typer.echo(f"redactions: {applied}")
        for s in m["skipped"]:
            typer.echo(f"skipped: {s['path']}: {s['reason']}")
        if result.mapping_file:
            typer.echo(f"obfuscation map (keep it on this machine, never send it): {result.mapping_file}")
    if result.truncated:
        typer.echo(f"imdesk: warning: size cap of {max_size} MB reached; the most recent logs were kept. "
                   f"Narrow --since/--until or raise --max-size.", err=True)


@bundle_app.command("upload")
def bundle_upload(
    bundle: Path = typer.Argument(..., help="Bundle made by `imdesk bundle collect`."),
    ticket: int = typer.Option(..., "--ticket", help="Ticket number to attach the bundle to."),
    url: str = typer.Option(..., "--url", help="imdesk base URL, e.g. https://support.example.com."),
    token: str = typer.Option(..., "--token", envvar="IMDESK_TOKEN", help="API token (or IMDESK_TOKEN)."),
    chunk_mb: int = typer.Option(8, "--chunk-mb", min=1, max=512, help="Chunk size in MB."),
    as_json: bool = typer.Option(False, "--json", help="Machine output."),
) -> None:
    """Attach a bundle to a ticket in resumable chunks (run it again to resume an interrupted upload)."""
    import sys

    from imdesk.diag.upload import upload_bundle

    factory, bar = _progress_factory(sys.stderr.isatty() and not as_json)
    tick = factory(bundle.stat().st_size if bundle.is_file() else 0) if factory else None
    try:
        result = upload_bundle(bundle, url=url, token=token, ticket=ticket, chunk_size=chunk_mb << 20,
                               progress=tick)
    finally:
        if bar is not None:
            bar.stop()
    if as_json:
        _emit_json(result.to_dict())
    else:
        resumed = f", resumed at byte {result.resumed_from}" if result.resumed_from else ""
        typer.echo(f"uploaded {bundle} to ticket {ticket} as upload {result.id} "
                   f"({result.size} bytes, sha256 {result.sha256[:12]}…{resumed})")


# ---------------------------------------------------------------------------------------------
# diag doctor (in the `diag` group of logs.py)


def doctor(
    steps: str = typer.Option(None, "--steps", help="How to reproduce the problem."),
    params: str = typer.Option(None, "--params", help="Parameters used (user, group, device, ...)."),
    error: str = typer.Option(None, "--error", help="The error as seen (message or ERR_IM_ code)."),
    at: str = typer.Option(None, "--at", help="Incident time: ISO 8601 or a duration ago like 2h (default now)."),
    window: str = typer.Option("30m", "--window", help="Logs searched at ± this around --at."),
    log_dir: Path = typer.Option(None, "--log-dir", help="Log folder (default: log.dir of the config)."),
    config: Path = typer.Option(None, "--config", help="Config file (default /etc/im_server/im_config.yaml)."),
    url: str = typer.Option(None, "--url", help="Server URL to check (default: from the config)."),
    token: str = typer.Option(None, "--token", help="Bearer token to validate in the network step."),
    sdk: str = typer.Option(None, "--sdk", help="SDK as LANG:VERSION for the version step."),
    server: str = typer.Option(None, "--server", help="Server version (default: `im_server --version`)."),
    output: Path = typer.Option(None, "-o", "--output", help="Report file (.md; a .json is written next to it)."),
    profile: str = typer.Option(None, "--profile", help="Profile name (default im_server)."),
    env: str = typer.Option(None, "--env", metavar="ENV",
                            help="Environment the config is judged for: production (default), staging or development."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    no_input: bool = typer.Option(False, "--no-input", help="Never prompt for missing reproduction details."),
    lang: str = LangOpt,
) -> None:
    """Walk the five troubleshooting steps and write one report to attach to a ticket.

    Exit 0 when no step found a problem, 1 otherwise."""
    import sys

    from imdesk.diag.config_check import environments
    from imdesk.diag.doctor import DoctorInput, redact_report, render_markdown, run_doctor
    from imdesk.diag.timeutil import parse_duration, parse_time

    prof = _profile(profile)
    env = environments(prof).resolve(env) if env is not None else None
    meta = prof.data("profile") if prof.has("profile") else {}
    lang = _lang(lang)
    zh = lang.startswith("zh")
    if not no_input and not as_json and sys.stdin.isatty():
        if steps is None:
            steps = typer.prompt("复现步骤" if zh else "Steps to reproduce", default="", show_default=False)
        if error is None:
            steps_err = "看到的错误" if zh else "Error seen (message or ERR_IM_ code)"
            error = typer.prompt(steps_err, default="", show_default=False)
        if params is None:
            params = typer.prompt("参数（用户、群组、设备等）" if zh else "Parameters (user, group, device, ...)",
                                  default="", show_default=False)
    cfg = config or Path(meta.get("config_path", "/etc/im_server/im_config.yaml"))
    if config is not None:
        from imdesk.diag.config_check import read_config_file

        read_config_file(config)
    if log_dir is not None and not log_dir.is_dir():
        raise BadInput(f"{log_dir}: log folder does not exist")
    inp = DoctorInput(steps=steps or "", params=params or "", error=error or "",
                      at=parse_time(at) if at else None, window=parse_duration(window),
                      log_dir=log_dir, config=cfg if cfg.is_file() else None, url=url, token=token, sdk=sdk,
                      server=server, environment=env)
    if url:
        from imdesk.diag.netcheck import parse_url

        parse_url(url)
    report = run_doctor(inp, profile=prof)
    text = render_markdown(report, lang)
    report, text = redact_report(report, text, prof)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
            output.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"cannot write {output}: {exc.strerror or exc}") from None
    if as_json:
        _emit_json(report)
    elif output is None:
        typer.echo(text, nl=False)
    else:
        for s in report["steps"]:
            typer.echo(f"{s['step']}. {s['name']}: {s['status']} — {s['summary_zh'] if zh else s['summary']}")
        typer.echo(f"report: {output} (+ {output.with_suffix('.json').name})")
    raise typer.Exit(1 if report["problems"] else 0)


def _register_doctor() -> None:
    try:
        from imdesk.diag.cli.logs import diag_app
    except ImportError:  # pragma: no cover - the diag group is part of the log-analysis CLI
        return
    names = {c.name for c in diag_app.registered_commands}
    if "doctor" not in names:
        diag_app.command("doctor")(doctor)


_register_doctor()
