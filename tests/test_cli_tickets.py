"""`salesync ticket`: list, show, comment, take, replay and resolve the tickets salesync
opened, with refusals that say what to do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from salesync.cli.app import app
from salesync.clock import system_clock
from salesync.config import load_settings
from salesync.domain.documents import Tenant
from salesync.domain.errors import ValidationError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.store.database import make_engine, session_factory
from salesync.store.repositories import Tenants


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
    """A working folder whose database has tenant demo and one ticket: a record that was
    quarantined and has since been taken in (so there is nothing left to repair)."""
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    with books() as session:
        Tenants(session).add(Tenant("demo", "Demo"))
        IncidentLog(system_clock).record(
            session,
            "demo",
            Failure(
                error=ValidationError(
                    "shopify order record quarantined: unbalanced",
                    user_message="Order #1001's lines do not add up to its total.",
                    code="unbalanced",
                    provider="shopify",
                    operation="intake:order",
                ),
                stage="engine",
                subject="record:424242",
                failed_at=system_clock(),
                replay={"record": 424242},
            ),
        )
    return runner


def test_a_ticket_is_listed_shown_taken_and_resolved(cli: CliRunner) -> None:
    listed = cli.invoke(app, ["ticket", "list"])
    assert listed.exit_code == 0, listed.output
    assert "validation" in listed.output
    assert "shopify" in listed.output
    took = cli.invoke(app, ["ticket", "take", "1", "--as", "dev@example.com"])
    assert took.exit_code == 0, took.output
    commented = cli.invoke(
        app, ["ticket", "comment", "1", "The order came from a buggy app.", "--as", "dev"]
    )
    assert commented.exit_code == 0, commented.output
    replayed = cli.invoke(app, ["ticket", "replay", "1", "--as", "dev"])
    assert replayed.exit_code == 0, replayed.output
    assert "0 record(s)" in replayed.output  # taken in already: nothing goes twice
    short = cli.invoke(app, ["ticket", "resolve", "1", "--as", "dev", "--explanation", "ok"])
    assert short.exit_code == 2
    assert "explanation the merchant will read" in short.output
    resolved = cli.invoke(
        app,
        [
            "ticket",
            "resolve",
            "1",
            "--as",
            "dev",
            "--explanation",
            "The order was corrected in Shopify and is in your books.",
        ],
    )
    assert resolved.exit_code == 0, resolved.output
    shown = cli.invoke(app, ["ticket", "show", "1"])
    assert shown.exit_code == 0, shown.output
    for event in ("opened", "fixing", "comment", "replayed", "resolved"):
        assert event in shown.output
    assert "Order #1001" in shown.output


def test_unknown_tickets_and_states_are_refused_clearly(cli: CliRunner) -> None:
    missing = cli.invoke(app, ["ticket", "show", "99"])
    assert missing.exit_code == 2
    assert "No ticket 99" in missing.output
    bad = cli.invoke(app, ["ticket", "list", "--state", "sleeping"])
    assert bad.exit_code == 2
    assert "not a ticket state" in bad.output
    closed = cli.invoke(app, ["ticket", "close", "1", "--as", "dev", "--reason", "duplicate"])
    assert closed.exit_code == 0, closed.output
    again = cli.invoke(app, ["ticket", "take", "1", "--as", "dev"])
    assert again.exit_code == 2
    assert "reopens by itself" in again.output
