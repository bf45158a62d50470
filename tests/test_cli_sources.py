"""Source connections from the command line: add with encrypted credentials, list, refuse
what cannot work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from demo_tools import demo_folder
from salesync.cli.app import app
from salesync.clock import system_clock
from salesync.config import load_settings
from salesync.connectors.registry import sources
from salesync.engine.destinations import DestinationBooks
from salesync.store.database import make_engine, session_factory
from salesync.store.repositories import Connections

DEMO = ["demo", "--no-serve", "--start", "2026-03-06", "--days", "1", "--orders-per-day", "3"]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where the demo has run once for the whole module."""
    return demo_folder(tmp_path_factory, DEMO)


@pytest.fixture
def cli(cli_home: Path, demo_home: Path) -> CliRunner:
    """A runner in a copy of the folder where the demo ran: each test changes its own."""
    shutil.copytree(demo_home, cli_home, dirs_exist_ok=True)
    return CliRunner()


def test_a_connection_is_added_and_listed_without_its_secret(
    cli: CliRunner, cli_home: Path
) -> None:
    """The connection shows in the list; its token is stored only encrypted."""
    added = cli.invoke(
        app,
        [
            "connection", "add", "shopify", "Main shop",
            "--credential", "access_token=shpat_secret_123",
            "--setting", "shop=main.myshopify.com",
            "--location", "8801=brooklyn",
            "--default-location", "bayarea",
        ],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = cli.invoke(app, ["connection", "list"])
    assert listed.exit_code == 0, listed.output
    assert "Main shop" in listed.output
    assert "never" in listed.output
    assert b"shpat_secret_123" not in (cli_home / "var" / "salesync.db").read_bytes()


def test_unknown_source_types_and_locations_are_refused(cli: CliRunner) -> None:
    """A typo in the provider or a location names what is installed or set up."""
    provider = cli.invoke(app, ["connection", "add", "shopfiy", "Shop"])
    assert provider.exit_code == 2
    said = " ".join(provider.output.split())
    assert "Installed: " in said
    assert all(name in said for name in [*sources().names(), "qbo", "xero"])
    location = cli.invoke(app, ["connection", "add", "square", "Till", "--location", "L1=paris"])
    assert location.exit_code == 2
    assert "No location paris" in location.output
    pair = cli.invoke(app, ["connection", "add", "square", "Till", "--setting", "oops"])
    assert pair.exit_code == 2
    assert "is not KEY=VALUE" in pair.output


def test_sweeping_an_unknown_connection_lists_the_known_ones(cli: CliRunner) -> None:
    """`sweep --connection` with a wrong name says which connections exist."""
    result = cli.invoke(app, ["sweep", "--connection", "nope"])
    assert result.exit_code == 2
    assert "No connection 'nope'" in result.output


def test_a_destination_connection_becomes_the_tenants_books(cli: CliRunner, cli_home: Path) -> None:
    """Adding QuickBooks Online makes it the destination of the tenant's next postings."""
    added = cli.invoke(
        app,
        [
            "connection", "add", "qbo", "Books",
            "--credential", "access_token=eyJ-secret",
            "--setting", "realm_id=9341453050000000",
        ],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "postings of this tenant now go to it" in added.output
    listed = cli.invoke(app, ["connection", "list"])
    assert "destination" in listed.output
    assert b"eyJ-secret" not in (cli_home / "var" / "salesync.db").read_bytes()

    cfg = load_settings()
    factory = session_factory(make_engine(cfg.database))
    chosen = DestinationBooks(factory, cfg.vault(), system_clock).name_for("demo")
    assert chosen not in ("ledger", "")
    with factory() as session:
        assert Connections(session, "demo", cfg.vault()).info(chosen).provider == "qbo"


@pytest.mark.parametrize("provider", ["woocommerce", "lightspeed_r"])
def test_a_second_store_of_a_source_that_numbers_orders_per_store_is_refused(
    cli: CliRunner, provider: str
) -> None:
    """Order #168 of one WooCommerce site is not #168 of another: a tenant connects such a
    source once, and the refusal says why and what to do instead."""
    first = cli.invoke(app, ["connection", "add", provider, "First store"])
    assert first.exit_code == 0, first.output
    second = cli.invoke(app, ["connection", "add", provider, "Second store"])
    assert second.exit_code == 2
    said = " ".join(second.output.split())
    assert "'First store'" in said
    assert "in a tenant of its own" in said
    listed = cli.invoke(app, ["connection", "list"])
    assert "Second store" not in listed.output


def test_sources_with_ids_unique_across_accounts_connect_more_than_once(cli: CliRunner) -> None:
    """Two Shopify stores are two connections: Shopify's order ids never repeat."""
    for name in ("US store", "UK store"):
        added = cli.invoke(app, ["connection", "add", "shopify", name])
        assert added.exit_code == 0, added.output
