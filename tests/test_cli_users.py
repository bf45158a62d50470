"""``salesync user``: add, list, disable and re-password users, and manage their API
keys, with refusals that say what to do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from salesync.accounts.keys import principal_of_key
from salesync.accounts.roles import Role
from salesync.accounts.users import Users
from salesync.cli.app import app
from salesync.clock import system_clock
from salesync.config import load_settings
from salesync.domain.documents import Tenant
from salesync.store.database import make_engine, session_factory
from salesync.store.repositories import Tenants

PASSWORD = "correct horse battery"  # noqa: S105  a test user's password


@contextmanager
def books() -> Iterator[Session]:
    engine = make_engine(load_settings().database)
    try:
        with session_factory(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


@pytest.fixture
def cli(cli_home: Path) -> CliRunner:
    """A working folder whose database has tenant demo."""
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    with books() as session:
        Tenants(session).add(Tenant("demo", "Demo"))
    return runner


def test_a_user_is_added_with_a_prompted_password_and_listed(cli: CliRunner) -> None:
    """The password is asked twice and never shown; the user is listed with role and tenant."""
    added = cli.invoke(
        app,
        ["user", "add", "Ann@Example.com", "--role", "owner", "--tenant", "demo", "--name", "Ann"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert added.exit_code == 0, added.output
    assert "Added ann@example.com, owner of demo." in added.output
    assert PASSWORD not in added.output
    staff = cli.invoke(
        app,
        ["user", "add", "dev@example.com", "--role", "developer", "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    assert staff.exit_code == 0, staff.output
    listed = cli.invoke(app, ["user", "list"])
    assert listed.exit_code == 0, listed.output
    assert "ann@example.com" in listed.output
    assert "developer" in listed.output
    only_demo = cli.invoke(app, ["user", "list", "--tenant", "demo"])
    assert "dev@example.com" not in only_demo.output
    with books() as session:
        assert Users(session, system_clock).authenticate("ann@example.com", PASSWORD)


def test_a_bad_user_is_refused_with_every_reason(cli: CliRunner) -> None:
    """A short password and a tenant-less bookkeeper are both named; exit code 2."""
    refused = cli.invoke(
        app,
        ["user", "add", "bob@example.com", "--role", "bookkeeper", "--password-stdin"],
        input="short\n",
    )
    assert refused.exit_code == 2
    assert "at least 12 characters" in refused.output
    assert "belongs to a tenant" in refused.output
    wrong_role = cli.invoke(app, ["user", "add", "x@example.com", "--role", "king"])
    assert wrong_role.exit_code == 2


def test_a_password_is_changed_and_a_user_disabled(cli: CliRunner) -> None:
    """``passwd`` sets a new password; ``disable`` stops the user signing in."""
    cli.invoke(
        app,
        ["user", "add", "t1@example.com", "--role", "tier1", "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    changed = cli.invoke(
        app, ["user", "passwd", "t1@example.com", "--password-stdin"], input="a new passphrase\n"
    )
    assert changed.exit_code == 0, changed.output
    short = cli.invoke(app, ["user", "passwd", "t1@example.com", "--password-stdin"], input="x\n")
    assert short.exit_code == 2
    assert "at least 12 characters" in short.output
    with books() as session:
        assert Users(session, system_clock).authenticate("t1@example.com", "a new passphrase")
    assert cli.invoke(app, ["user", "disable", "t1@example.com"]).exit_code == 0
    with books() as session:
        assert (
            Users(session, system_clock).authenticate("t1@example.com", "a new passphrase") is None
        )
    unknown = cli.invoke(app, ["user", "disable", "who@example.com"])
    assert unknown.exit_code == 2
    assert "There is no user who@example.com" in unknown.output


def test_a_key_is_shown_once_listed_without_its_secret_and_revoked(cli: CliRunner) -> None:
    """``key create`` prints the secret once; ``key list`` never; ``key revoke`` stops it."""
    cli.invoke(
        app,
        [
            "user",
            "add",
            "bk@example.com",
            "--role",
            "bookkeeper",
            "--tenant",
            "demo",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n",
    )
    created = cli.invoke(app, ["user", "key", "create", "bk@example.com", "nightly export"])
    assert created.exit_code == 0, created.output
    secret = created.output.split()[-1]
    assert secret.startswith("ssu_")
    with books() as session:
        found = principal_of_key(session, secret)
    assert found is not None
    assert (found.role, found.tenant_id) == (Role.BOOKKEEPER, "demo")
    listed = cli.invoke(app, ["user", "key", "list", "bk@example.com"])
    assert "nightly export" in listed.output
    assert secret not in listed.output
    key_id = created.output.split()[2]
    assert cli.invoke(app, ["user", "key", "revoke", "bk@example.com", key_id]).exit_code == 0
    with books() as session:
        assert principal_of_key(session, secret) is None
    again = cli.invoke(app, ["user", "key", "revoke", "bk@example.com", "no-such-key"])
    assert again.exit_code == 2
    nobody = cli.invoke(app, ["user", "key", "list", "who@example.com"])
    assert nobody.exit_code == 2
