"""The support desk from the command line: plans and invoices, developer hours, releases,
locations stopped and started for billing, support requests, the knowledge base, and the
inbound support-mail server `salesync serve` starts."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from salesync.cli.app import app
from salesync.cli.common import database
from salesync.cli.serve import start_inbound
from salesync.clock import system_clock
from salesync.config import load_settings
from salesync.domain.documents import Location, Tenant
from salesync.monitor.notify import Contacts
from salesync.store.database import make_engine, session_factory
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import SupportRequestRow

SUPPORT = "help@salesync.example"


@contextmanager
def books() -> Iterator[Session]:
    """A session on the working folder's database, committed at the end."""
    engine = make_engine(load_settings().database)
    try:
        with session_factory(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


@pytest.fixture
def cli(cli_home: Path) -> CliRunner:
    """A runner in a folder whose database has tenant demo with two locations, active now."""
    runner = CliRunner()
    initialised = runner.invoke(app, ["init"])
    assert initialised.exit_code == 0, initialised.output
    with books() as session:
        Tenants(session).add(Tenant("demo", "Demo"))
        for location_id, name in (("soho", "Soho"), ("loop", "Loop")):
            Locations(session, "demo").add(
                Location(location_id, "demo", name, "America/New_York", "USD")
            )
    return runner


@pytest.fixture
def tiered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiered catalog (Silver, Gold, Platinum) is in force."""
    monkeypatch.setenv("SALESYNC_CATALOG", "tiered")


def _row(output: str, word: str) -> str:
    """The first table row holding ``word``."""
    return next(line for line in output.splitlines() if line.startswith("│") and word in line)


def test_the_default_catalog_lists_standard_at_ten_dollars(cli: CliRunner) -> None:
    """`plan list` shows the proactive catalog's one plan: Standard, $10 a location."""
    listed = cli.invoke(app, ["plan", "list"])
    assert listed.exit_code == 0, listed.output
    assert "proactive" in listed.output
    assert "10.00 USD" in _row(listed.output, "Standard")


@pytest.mark.usefixtures("tiered")
def test_the_tiered_catalog_lists_silver_gold_and_platinum(cli: CliRunner) -> None:
    """With SALESYNC_CATALOG=tiered, `plan list` shows the three plans, their prices, tiers
    and SLA."""
    listed = cli.invoke(app, ["plan", "list"])
    assert listed.exit_code == 0, listed.output
    assert "15.00 USD" in _row(listed.output, "Silver")
    assert "25.00 USD" in _row(listed.output, "Gold")
    platinum = _row(listed.output, "Platinum")
    for said in ("499.00 USD", "annual", "10 a year", "250.00 USD per", "1h", "8h"):
        assert said in platinum
    assert "Standard" not in listed.output


@pytest.mark.usefixtures("tiered")
def test_moving_to_platinum_is_invoiced_and_shown(cli: CliRunner) -> None:
    """`plan set platinum` bills the rest of the year at once and prints the invoice;
    `plan show` then reads Platinum with its 10 developer hours, and `invoice list` and
    `invoice show` have the invoice."""
    before = cli.invoke(app, ["plan", "show"])
    assert before.exit_code == 0, before.output
    assert "demo: Silver" in before.output
    assert "Platinum (platinum)" in before.output  # quoted as an upgrade
    moved = cli.invoke(app, ["plan", "set", "platinum", "--as", "sam@salesync.example"])
    assert moved.exit_code == 0, moved.output
    assert "is on Platinum" in moved.output
    assert "Invoice issued: demo-" in moved.output
    assert "Platinum base" in moved.output
    shown = cli.invoke(app, ["plan", "show"])
    assert shown.exit_code == 0, shown.output
    assert "demo: Platinum" in shown.output
    assert "annual, billed in advance" in shown.output
    assert "10 hours left" in shown.output
    assert "Invoices: 1" in shown.output
    listed = cli.invoke(app, ["invoice", "list"])
    assert "platinum" in _row(listed.output, "demo-")
    lines = cli.invoke(app, ["invoice", "show", "1"])
    assert lines.exit_code == 0, lines.output
    assert "Total" in lines.output
    missing = cli.invoke(app, ["invoice", "show", "9"])
    assert missing.exit_code == 2
    assert "No invoice 9 for tenant demo" in missing.output


@pytest.mark.usefixtures("tiered")
def test_a_downgrade_mid_term_is_refused_with_the_renewal_date(cli: CliRunner) -> None:
    """Leaving the annual Platinum plan for Gold mid-year is refused with exit code 1,
    naming the renewal day, and the tenant stays on Platinum."""
    assert cli.invoke(app, ["plan", "set", "platinum", "--as", "sam"]).exit_code == 0
    refused = cli.invoke(app, ["plan", "set", "gold", "--as", "sam"])
    assert refused.exit_code == 1
    assert "paid for the year until the renewal on" in refused.output
    assert "a downgrade takes effect only then" in refused.output
    assert "demo: Platinum" in cli.invoke(app, ["plan", "show"]).output


@pytest.mark.usefixtures("tiered")
def test_time_not_in_quarter_hours_is_refused(cli: CliRunner) -> None:
    """`hours log` of 20 minutes is refused with exit code 1: time is logged in 15-minute
    steps."""
    assert cli.invoke(app, ["plan", "set", "platinum", "--as", "sam"]).exit_code == 0
    refused = cli.invoke(app, ["hours", "log", "1", "20", "--as", "dev"])
    assert refused.exit_code == 1
    assert "log time in 15-minute steps: 15, 30, 45" in refused.output
    ledger = cli.invoke(app, ["hours", "show"])
    assert ledger.exit_code == 0, ledger.output
    assert "10 hours left" in ledger.output
    assert "Platinum taken up" in ledger.output


@pytest.mark.usefixtures("tiered")
def test_extra_time_cannot_be_bought_while_hours_are_left(cli: CliRunner) -> None:
    """`hours buy` on Platinum with hours left is refused with exit code 1, saying why."""
    assert cli.invoke(app, ["plan", "set", "platinum", "--as", "sam"]).exit_code == 0
    refused = cli.invoke(app, ["hours", "buy", "1", "--as", "dev", "--key", "k1"])
    assert refused.exit_code == 1
    assert "10 hours are still available" in refused.output


def test_releases_are_recorded_and_listed(cli: CliRunner) -> None:
    """`release add` records a release with its areas, a second time is refused, and
    `release list` shows them newest first."""
    added = cli.invoke(
        app,
        ["release", "add", "0.4.2", "--area", "qbo", "--area", "engine", "--notes", "QBO batch"],
    )
    assert added.exit_code == 0, added.output
    assert "Recorded release 0.4.2 (qbo, engine)" in added.output
    older = cli.invoke(
        app, ["release", "add", "0.4.1", "--area", "shopify", "--at", "2026-01-05T09:30"]
    )
    assert older.exit_code == 0, older.output
    again = cli.invoke(app, ["release", "add", "0.4.2", "--area", "qbo"])
    assert again.exit_code == 1
    assert "release 0.4.2 is recorded already" in again.output
    vague = cli.invoke(app, ["release", "add", "0.4.3"])
    assert vague.exit_code == 1
    assert "name what it changed" in vague.output
    listed = cli.invoke(app, ["release", "list"])
    assert listed.exit_code == 0, listed.output
    assert "QBO batch" in _row(listed.output, "0.4.2")
    assert "2026-01-05 09:30" in _row(listed.output, "0.4.1")
    assert listed.output.index("0.4.2") < listed.output.index("0.4.1")


@pytest.mark.usefixtures("tiered")
def test_a_deactivated_location_is_no_longer_counted(cli: CliRunner) -> None:
    """`location deactivate` stops billing a location: `plan show` counts one fewer; doing
    it twice, or for an unknown location, says so; `reactivate` counts it again."""
    assert "Active locations: 2" in cli.invoke(app, ["plan", "show"]).output
    stopped = cli.invoke(app, ["location", "deactivate", "soho"])
    assert stopped.exit_code == 0, stopped.output
    assert "is no longer billed" in stopped.output
    assert "Active locations: 1" in cli.invoke(app, ["plan", "show"]).output
    twice = cli.invoke(app, ["location", "deactivate", "soho"])
    assert twice.exit_code == 1
    assert "already inactive" in twice.output
    assert "salesync location reactivate soho" in twice.output
    unknown = cli.invoke(app, ["location", "deactivate", "nowhere"])
    assert unknown.exit_code == 2
    assert "No location 'nowhere' for tenant demo" in unknown.output
    assert "loop, soho" in unknown.output
    started = cli.invoke(app, ["location", "reactivate", "soho"])
    assert started.exit_code == 0, started.output
    assert "Active locations: 2" in cli.invoke(app, ["plan", "show"]).output
    active = cli.invoke(app, ["location", "reactivate", "soho"])
    assert active.exit_code == 1
    assert "active already" in active.output


def test_an_out_of_scope_request_is_answered_with_the_article(cli: CliRunner) -> None:
    """`request open` of "please reinstall the web connector" prints that it is out of
    scope, the policy answer and the article's link; `request list` shows it answered."""
    opened = cli.invoke(
        app,
        [
            *("request", "open", "--from", "ann@acme.test", "--subject", "Web Connector"),
            *("--body", "please reinstall the web connector"),
        ],
    )
    assert opened.exit_code == 0, opened.output
    assert "out of scope" in opened.output
    assert "outside our scope of work" in opened.output
    assert "/help/installing-quickbooks-desktop" in opened.output
    listed = cli.invoke(app, ["request", "list"])
    assert "answered" in _row(listed.output, "Web Connector")


def test_an_in_scope_request_opens_a_ticket_and_a_bad_one_is_refused(cli: CliRunner) -> None:
    """A request about missing orders opens a Tier 1 ticket; one with a bad sender and
    nothing in it is refused, every problem named."""
    opened = cli.invoke(
        app,
        ["request", "open", "--from", "ann@acme.test", "--body", "orders are missing"],
    )
    assert opened.exit_code == 0, opened.output
    assert "in scope" in opened.output
    assert "ticket #1 opened for Tier 1" in opened.output
    refused = cli.invoke(app, ["request", "open", "--from", "nobody"])
    assert refused.exit_code == 2
    assert "sender: 'nobody' is not an e-mail address" in refused.output
    assert "the request is empty" in refused.output


def test_help_search_finds_the_reconnecting_article(cli: CliRunner) -> None:
    """`salesync help reconnect` lists the reconnecting article with its path and a
    snippet; words no article holds exit 1."""
    found = cli.invoke(app, ["help", "reconnect"])
    assert found.exit_code == 0, found.output
    assert "/help/reconnecting" in _row(found.output, "Reconnecting")
    assert "reconnect" in found.output.lower()
    nothing = cli.invoke(app, ["help", "zzyzx"])
    assert nothing.exit_code == 1
    assert "No article holds every one of: zzyzx" in nothing.output


def test_support_commands_refuse_an_unknown_tenant(cli: CliRunner) -> None:
    """Commands for one tenant name the known tenants when given another."""
    for command in (["plan", "show"], ["invoice", "list"], ["hours", "show"], ["request", "list"]):
        result = cli.invoke(app, [*command, "--tenant", "acme"])
        assert result.exit_code == 2, result.output
        assert "No tenant 'acme'. Tenants: demo" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_inbound_server_is_started_only_when_configured(cli: CliRunner) -> None:
    """Without an [inbound] table serve starts no mail server; with one, mail from a
    tenant's contact to the support address over real SMTP becomes that tenant's request,
    and the server stops."""
    with database(load_settings()) as factory:
        assert start_inbound(load_settings(), factory, system_clock) is None
    with books() as session:
        Contacts(session, "demo").add("ann@acme.test", name="Ann")
    cfg = load_settings(inbound={"address": SUPPORT, "port": _free_port()})
    assert cfg.inbound is not None
    message = EmailMessage()
    message["From"] = "Ann <ann@acme.test>"
    message["To"] = SUPPORT
    message["Subject"] = "Web Connector"
    message.set_content("please reinstall the web connector")
    with database(cfg) as factory:
        inbound = start_inbound(cfg, factory, system_clock)
        assert inbound is not None
        try:
            with smtplib.SMTP(cfg.inbound.host, cfg.inbound.port, timeout=10) as smtp:
                smtp.send_message(message)
        finally:
            inbound.stop()
        with factory() as session:
            received = session.scalars(select(SupportRequestRow)).one()
    assert (received.tenant_id, received.channel, received.state) == ("demo", "email", "answered")
