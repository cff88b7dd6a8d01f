"""CLI of the desk: ``imdesk sla preview`` and the desk admin commands (``imdesk desk ...``)."""

from __future__ import annotations

import json
from datetime import datetime

import typer
from sqlalchemy.exc import SQLAlchemyError

from imdesk.core.errors import BadInput

sla_app = typer.Typer(help="SLA policies and due times.", no_args_is_help=True)
desk_app = typer.Typer(help="Ticket desk administration.", no_args_is_help=True)


def _parse_start(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"--start: not an ISO 8601 date-time: {value!r}") from None
    if dt.tzinfo is None:
        from imdesk.core.clock import SHANGHAI

        dt = dt.replace(tzinfo=SHANGHAI)
    return dt


def _policies_and_calendars(policy_name: str | None):
    """Policies/calendars from the database when it is set up, else the profile's seed data."""
    from imdesk.desk import sla

    policies = sla.load_policies()
    configs = sla.load_calendar_configs()
    overrides = {}
    try:
        from imdesk.desk import store

        policies, configs, overrides = store.load_sla_setup_from_settings(policies, configs)
    except (OSError, SQLAlchemyError):  # no database reachable: the profile's seed data only
        pass
    name = policy_name or "default"
    if name not in policies:
        raise BadInput(f"unknown SLA policy {name!r} (known: {', '.join(sorted(policies))})")
    policy = policies[name]
    calendar = sla.build_calendar(policy.calendar, configs, overrides)
    return policy, calendar


@sla_app.command("preview")
def preview_cmd(
    priority: str = typer.Option(..., "--priority", help="P0, P1, P2 or P3."),
    start: str = typer.Option(..., "--start", help="ISO 8601 start (naive values are Asia/Shanghai)."),
    policy: str | None = typer.Option(None, "--policy", help="Policy name (default: default)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show when first response and resolution fall due for a ticket opened at START."""
    from imdesk.desk import sla

    prio = priority.strip().upper()
    if prio not in sla.PRIORITIES:
        raise BadInput(f"--priority: unknown priority {priority!r} (expected P0, P1, P2 or P3)")
    started = _parse_start(start)
    pol, cal = _policies_and_calendars(policy)
    out = sla.preview(pol, cal, prio, started)
    warning = cal.coverage_warning([started.year])
    if as_json:
        typer.echo(json.dumps(out))
    else:
        typer.echo(f"policy {pol.name}, {prio}, start {started.isoformat()}")
        typer.echo(f"first response due: {out['first_response_due']}")
        typer.echo(f"resolution due:     {out['resolution_due']}")
    if warning:
        typer.echo(f"imdesk: warning: {warning}", err=True)


@sla_app.command("policies")
def policies_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the SLA policies and their targets (minutes)."""
    from imdesk.desk import sla

    pols = sla.load_policies()
    try:
        from imdesk.desk import store

        pols, _, _ = store.load_sla_setup_from_settings(pols, sla.load_calendar_configs())
    except (OSError, SQLAlchemyError):
        pass
    if as_json:
        typer.echo(json.dumps([p.to_dict() for p in pols.values()], ensure_ascii=False))
        return
    for p in pols.values():
        typer.echo(f"{p.name} (plan {p.plan or '*'}, calendar {p.calendar})")
        for prio, t in p.targets.items():
            mode = "24x7" if t.around_the_clock else "business"
            typer.echo(f"  {prio}: first {t.first_response} / next {t.next_response} / resolve {t.resolution} min ({mode})")


def register(app: typer.Typer) -> None:
    app.add_typer(sla_app, name="sla")
    app.add_typer(desk_app, name="desk")


@desk_app.command("seed")
def seed_cmd() -> None:
    """Copy the profile's groups, rules and SLA policies into the database where missing."""
    from imdesk.desk import store

    with _session() as session:
        created = store.seed(session)
        session.commit()
    typer.echo(json.dumps(created))


@desk_app.command("holiday")
def holiday_cmd(
    day: str = typer.Argument(..., help="Date, YYYY-MM-DD."),
    workday: bool = typer.Option(False, "--workday/--off", help="Mark as a working day (make-up day) or a day off."),
    note: str = typer.Option("", "--note"),
) -> None:
    """Add or change a calendar override (for dates or years chinese-calendar does not know)."""
    from datetime import date as _date

    from imdesk.desk import store

    try:
        d = _date.fromisoformat(day)
    except ValueError:
        raise BadInput(f"not a date (YYYY-MM-DD): {day!r}") from None
    with _session() as session:
        store.set_calendar_override(session, day=d, is_workday=workday, note=note)
        session.commit()
    typer.echo(f"{d.isoformat()}: {'working day' if workday else 'day off'}")


@desk_app.command("sla-check")
def sla_check_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Run the SLA job once (80 % warnings, breach escalation)."""
    from imdesk.desk import services

    with _session() as session:
        run = services.run_sla_check(session)
        session.commit()
    out = {"warnings": run.warnings, "breaches": run.breaches, "escalated": run.escalated}
    typer.echo(json.dumps(out) if as_json else ", ".join(f"{k}: {v}" for k, v in out.items()))


@desk_app.command("train")
def train_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Train the learned classifier on resolved tickets and overrides; prints its accuracy."""
    from imdesk.desk import services

    with _session() as session:
        row = services.train_classifier(session)
        session.commit()
    if row is None:
        out = {"trained": False, "reason": "not enough resolved tickets (50 needed, at least 2 groups)"}
    else:
        out = {"trained": True, "samples": row.samples, "accuracy": row.accuracy}
    typer.echo(json.dumps(out))


@desk_app.command("report")
def report_cmd(month: str = typer.Option(..., "--month", help="YYYY-MM"),
               csv_out: bool = typer.Option(False, "--csv", help="CSV instead of JSON.")) -> None:
    """The monthly SLA report."""
    from imdesk.desk import report

    with _session() as session:
        data = report.monthly(session, month)
    typer.echo(report.to_csv(data) if csv_out else json.dumps(data, ensure_ascii=False, indent=2))


def _session():
    from sqlalchemy.orm import Session

    from imdesk.core.db import make_engine
    from imdesk.core.settings import load_settings

    engine = make_engine(load_settings().database_url)
    return Session(engine)
