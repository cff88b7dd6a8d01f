"""``imdesk org|user|token`` commands."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from imdesk.accounts import queries, services
from imdesk.accounts.services import SYSTEM
from imdesk.core.cliutil import cli_session, fail, print_json

org_app = typer.Typer(help="Customer organisations.", no_args_is_help=True)
user_app = typer.Typer(help="Users and roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")


@org_app.command("create")
def org_create(
    name: str = typer.Argument(..., help="Organisation name (unique)."),
    annual_fee: int = typer.Option(0, "--annual-fee", min=0, help="Annual fee in CNY."),
    verified: bool = typer.Option(False, "--verified", help="Enterprise verification done."),
    plan: str = typer.Option("standard", "--plan", help="standard | premium | enterprise."),
    account_manager: str | None = typer.Option(None, "--account-manager", help="E-mail of the account manager."),
    pin_stdin: bool = typer.Option(False, "--pin-stdin", help="Read the hotline verification PIN from stdin."),
) -> None:
    """Create a customer organisation."""
    pin = sys.stdin.readline().strip() if pin_stdin else None
    with cli_session() as session:
        org = services.do_create_org(session, SYSTEM, name=name, annual_fee=annual_fee, plan=plan, verified=verified,
                                     verification_pin=pin, account_manager_email=account_manager)
        typer.echo(f"organisation {org.id} created: {org.name}")


@org_app.command("list")
def org_list(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List organisations."""
    with cli_session() as session:
        orgs = queries.list_orgs(session, SYSTEM)
    if as_json:
        print_json([o.__dict__ for o in orgs])
        return
    table = Table("id", "name", "plan", "verified", "annual fee", "account manager")
    for o in orgs:
        table.add_row(str(o.id), o.name, o.plan, "yes" if o.verified else "no", str(o.annual_fee),
                      o.account_manager_email or "-")
    Console().print(table)


@user_app.command("create")
def user_create(
    email: str = typer.Argument(..., help="E-mail address (the login)."),
    role: str = typer.Option(..., "--role", help="customer | agent | senior_engineer | account_manager | admin"),
    org: str | None = typer.Option(None, "--org", help="Organisation name (required for customers)."),
    name: str = typer.Option("", "--name", help="Display name."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    locale: str | None = typer.Option(None, "--locale", help="zh_CN | en"),
) -> None:
    """Create a user."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise fail("no password on stdin")
    with cli_session() as session:
        user = services.do_create_user(session, SYSTEM, email=email, role=role, org_name=org, password=password,
                                       name=name, locale=locale)
        typer.echo(f"user {user.id} created: {user.email} ({user.role})")


@user_app.command("list")
def user_list(
    role: str | None = typer.Option(None, "--role", help="Only this role."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List users."""
    with cli_session() as session:
        users = queries.list_users(session, SYSTEM, role=role)
    if as_json:
        print_json([u.__dict__ for u in users])
        return
    table = Table("id", "email", "name", "role", "organisation")
    for u in users:
        table.add_row(str(u.id), u.email, u.name, u.role, u.org_name or "-")
    Console().print(table)


@token_app.command("create")
def token_create(
    email: str = typer.Argument(..., help="User the token acts as."),
    name: str = typer.Option("", "--name", help="A label for the token."),
) -> None:
    """Create an API token; the token is printed once, alone on the last line."""
    with cli_session() as session:
        token, plain = services.do_create_token(session, SYSTEM, email, name=name)
        typer.echo(f"token {token.id} created for {email}; store it now, it is not shown again:", err=True)
    typer.echo(plain)


@token_app.command("revoke")
def token_revoke(token_id: int = typer.Argument(..., help="Token id (see `imdesk token list`).")) -> None:
    """Revoke an API token."""
    with cli_session() as session:
        services.do_revoke_token(session, SYSTEM, token_id)
    typer.echo(f"token {token_id} revoked")


@token_app.command("list")
def token_list(
    email: str | None = typer.Option(None, "--user", help="Only this user's tokens."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List API tokens (never the secret itself)."""
    with cli_session() as session:
        tokens = queries.list_tokens(session, SYSTEM, email)
    if as_json:
        print_json(tokens)
        return
    table = Table("id", "user", "name", "prefix", "last used", "revoked")
    for t in tokens:
        table.add_row(str(t["id"]), t["user"], t["name"], t["prefix"] + "…",
                      t["last_used_at"].isoformat() if t["last_used_at"] else "-", "yes" if t["revoked"] else "no")
    Console().print(table)
