"""``salesync user``: the people who sign in to the dashboard, and their API keys."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from salesync.accounts.errors import AccountError
from salesync.accounts.keys import UserKeys
from salesync.accounts.roles import Role
from salesync.accounts.users import User, Users
from salesync.cli.common import console, database, fail, settings
from salesync.clock import system_clock

user_app = typer.Typer(
    help="Users of the dashboard and the API: merchants' owners and bookkeepers, and staff.",
    no_args_is_help=True,
)
key_app = typer.Typer(help="A user's API keys for scripts.", no_args_is_help=True)
user_app.add_typer(key_app, name="key")

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="read the password from the first line of standard input"
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _when(user: User) -> str:
    return f"{user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else ""


@user_app.command("add")
def add_user(
    email: Annotated[str, typer.Argument(help="the address they sign in with")],
    role: Annotated[Role, typer.Option(help="owner or bookkeeper (of a tenant); staff roles")],
    tenant: Annotated[
        str | None, typer.Option(help="the tenant of an owner or bookkeeper; none for staff")
    ] = None,
    name: Annotated[str, typer.Option(help="their name, as shown")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user; the password is asked for twice (at least 12 characters)."""
    cfg = settings()
    password = _password(password_stdin)
    with database(cfg) as factory, factory() as session, session.begin():
        try:
            user = Users(session, system_clock).add(email, password, role, tenant, name)
        except AccountError as exc:
            raise fail("The user was not added:", exc.problems) from None
    where = f" of {user.tenant_id}" if user.tenant_id else ""
    console.print(f"Added {user.email}, {user.role}{where}.")


@user_app.command("list")
def list_users(
    tenant: Annotated[str | None, typer.Option(help="only this tenant's users")] = None,
) -> None:
    """List the users (never their passwords)."""
    cfg = settings()
    with database(cfg) as factory, factory() as session:
        users = Users(session, system_clock)
        found = users.of_tenant(tenant) if tenant else users.all()
    table = Table(title=f"Users: {tenant}" if tenant else "Users")
    for column in ("Email", "Name", "Role", "Tenant", "Last sign-in", "Disabled"):
        table.add_column(column)
    for user in found:
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else ""
        table.add_row(
            user.email, user.name, user.role.value, user.tenant_id or "", last, _when(user)
        )
    console.print(table)


@user_app.command("disable")
def disable_user(email: Annotated[str, typer.Argument(help="the user's email")]) -> None:
    """Stop a user: their sessions end and their API keys stop working."""
    cfg = settings()
    with database(cfg) as factory, factory() as session, session.begin():
        try:
            Users(session, system_clock).disable(email)
        except AccountError as exc:
            raise fail(str(exc)) from None
    console.print(f"Disabled {email}; their sessions have ended.")


@user_app.command("passwd")
def set_password(
    email: Annotated[str, typer.Argument(help="the user's email")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a user's password; they are signed out everywhere."""
    cfg = settings()
    password = _password(password_stdin)
    with database(cfg) as factory, factory() as session, session.begin():
        try:
            Users(session, system_clock).set_password(email, password)
        except AccountError as exc:
            raise fail("The password was not changed:", exc.problems) from None
    console.print(f"Changed the password of {email}; their sessions have ended.")


@key_app.command("create")
def create_key(
    email: Annotated[str, typer.Argument(help="the user the key acts as")],
    name: Annotated[str, typer.Argument(help="what the key is for, e.g. 'nightly export'")],
) -> None:
    """Issue a key; it is shown once, only its hash is kept."""
    cfg = settings()
    with database(cfg) as factory, factory() as session, session.begin():
        user = _user(Users(session, system_clock), email)
        issued, secret = UserKeys(session, user.id, system_clock).issue(name)
    console.print(f"API key {issued.id} for {user.email} ({name}); shown this once:")
    typer.echo(secret)


@key_app.command("list")
def list_keys(email: Annotated[str, typer.Argument(help="the user's email")]) -> None:
    """List a user's keys (never the secrets)."""
    cfg = settings()
    with database(cfg) as factory, factory() as session:
        user = _user(Users(session, system_clock), email)
        keys = UserKeys(session, user.id, system_clock).all()
    table = Table(title=f"API keys: {user.email}")
    for column in ("Id", "Name", "Created", "Revoked"):
        table.add_column(column)
    for key in keys:
        revoked = f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else ""
        table.add_row(key.id, key.name, f"{key.created_at:%Y-%m-%d %H:%M}", revoked)
    console.print(table)


@key_app.command("revoke")
def revoke_key(
    email: Annotated[str, typer.Argument(help="the user's email")],
    key_id: Annotated[str, typer.Argument(help="the key's id (from `user key list`)")],
) -> None:
    """Revoke a key: requests carrying it are refused from now on."""
    cfg = settings()
    with database(cfg) as factory, factory() as session, session.begin():
        user = _user(Users(session, system_clock), email)
        try:
            UserKeys(session, user.id, system_clock).revoke(key_id)
        except KeyError:
            raise fail(f"No API key {key_id} for {user.email}.") from None
    console.print(f"Revoked API key {key_id}.")


def _user(users: Users, email: str) -> User:
    user = users.by_email(email)
    if user is None:
        raise fail(f"There is no user {email}.", ["`salesync user list` shows them."])
    return user
