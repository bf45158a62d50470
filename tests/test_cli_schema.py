"""`salesync init --check` for deploy scripts, and a process refusing a schema it cannot
run on with a message that says what to do."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from salesync.cli.app import app
from salesync.store.database import make_engine
from salesync.store.schema import release


def _database(home: Path) -> str:
    return f"sqlite:///{home / 'var' / 'salesync.db'}"


def test_init_check_says_whether_migrations_are_pending(cli_home: Path) -> None:
    runner = CliRunner()
    pending = runner.invoke(app, ["init", "--check"])
    assert pending.exit_code == 1
    assert "Run `salesync init`" in pending.output
    assert runner.invoke(app, ["init"]).exit_code == 0
    current = runner.invoke(app, ["init", "--check"])
    assert current.exit_code == 0, current.output
    assert f"at {release().head}, this release's newest" in current.output


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
