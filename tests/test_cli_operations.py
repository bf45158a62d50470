"""Operating commands: `salesync init --check` for deploy scripts, a process refusing a
schema it cannot run on with a message that says what to do, and `salesync rekey`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from salesync.cli.app import app
from salesync.clock import system_clock
from salesync.domain.documents import Tenant
from salesync.engine.recovery import ReadBack
from salesync.store.database import make_engine, session_factory
from salesync.store.repositories import Connections, Tenants
from salesync.store.schema import release
from salesync.store.vault import Vault, new_key


def _database(home: Path) -> str:
    return f"sqlite:///{home / 'var' / 'salesync.db'}"


def test_init_check_says_whether_migrations_are_pending(cli_home: Path) -> None:
    runner = CliRunner()
    pending = runner.invoke(app, ["init", "--check"])
    assert pending.exit_code == 1
    assert "Run `salesync init`" in " ".join(pending.output.split())  # however it wraps
    assert runner.invoke(app, ["init"]).exit_code == 0
    current = runner.invoke(app, ["init", "--check"])
    assert current.exit_code == 0, current.output
    assert f"at {release().head}, this release's newest" in " ".join(current.output.split())


def test_a_schema_past_what_this_release_knows_is_refused_by_every_command(
    cli_home: Path,
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    engine = make_engine(_database(cli_home))
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9001'"))
        connection.execute(text("UPDATE schema_floor SET revision = '9000'"))
    engine.dispose()
    checked = runner.invoke(app, ["init", "--check"])
    assert checked.exit_code == 2
    refused = runner.invoke(app, ["location", "list"])
    assert refused.exit_code == 2
    assert "Upgrade salesync on this machine" in refused.output


def test_rekey_seals_every_connection_with_the_newest_key_so_the_old_can_go(
    cli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = new_key(), new_key()
    monkeypatch.setenv("SALESYNC_SECRET_KEYS", old)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    factory = session_factory(make_engine(_database(cli_home)))
    with factory() as session, session.begin():
        Tenants(session).add(Tenant("shop", "Shop"))
        for name in ("Main shop", "Books"):
            Connections(session, "shop", Vault([old])).add(
                "shopify", "source", name, {"access_token": f"{name}-token"}
            )
    monkeypatch.setenv("SALESYNC_SECRET_KEYS", f"{new},{old}")
    done = runner.invoke(app, ["rekey"])
    assert done.exit_code == 0, done.output
    assert "2 connection(s) now sealed with the newest key" in done.output
    with factory() as session:
        opened = Connections(session, "shop", Vault([new]))
        assert sorted(opened.credentials(c.id)["access_token"] for c in opened.all()) == [
            "Books-token",
            "Main shop-token",
        ]
    monkeypatch.setenv("SALESYNC_SECRET_KEYS", new_key())
    lost = runner.invoke(app, ["rekey"])
    assert lost.exit_code == 1
    assert "shop/Books" in lost.output
    assert "shop/Main shop" in lost.output


def test_restored_opens_a_read_back_window_and_end_closes_it(cli_home: Path) -> None:
    runner = CliRunner()
    opened = runner.invoke(app, ["restored", "--days", "3", "--note", "pg_dump of Monday"])
    assert opened.exit_code == 0, opened.output
    assert "every posting is looked up in the books before it" in opened.output
    engine = make_engine(_database(cli_home))
    windows = ReadBack(session_factory(engine), system_clock)
    until = windows.until()
    assert until is not None
    assert timedelta(days=2.9) < until - system_clock() <= timedelta(days=3)
    with session_factory(engine)() as session, session.begin():
        Tenants(session).add(Tenant("shop", "Shop"))
    shown = runner.invoke(app, ["status", "--tenant", "shop"])
    assert shown.exit_code == 0, shown.output
    assert "read-back window open" in shown.output
    closed = runner.invoke(app, ["restored", "--end"])
    assert closed.exit_code == 0, closed.output
    assert "Read-back window closed." in closed.output
    assert not windows.active()
    assert "No read-back window was open." in runner.invoke(app, ["restored", "--end"]).output
    assert "read-back window" not in runner.invoke(app, ["status", "--tenant", "shop"]).output
    engine.dispose()
