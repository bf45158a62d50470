"""`salesync location`: add a tenant's locations and list them, with refusals that say
what to fix, and a location added this way is one a POS connection can book to."""

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
from salesync.domain.planning import PostingMode
from salesync.engine.planner import Planner
from salesync.store.database import make_engine, session_factory
from salesync.store.repositories import Locations, Tenants

EXAMPLES = Path(__file__).parent.parent / "examples" / "pos"
SHOREDITCH = [
    "location",
    "add",
    "shoreditch",
    "--name",
    "Shoreditch",
    "--timezone",
    "Europe/London",
    "--currency",
    "GBP",
]


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
    """A runner in a folder whose database (made by `salesync init`) has the demo tenant and
    no locations yet."""
    runner = CliRunner()
    initialised = runner.invoke(app, ["init"])
    assert initialised.exit_code == 0, initialised.output
    with books() as session:
        Tenants(session).add(Tenant("demo", "Demo"))
    return runner


def stored_ids() -> list[str]:
    with books() as session:
        return [location.id for location in Locations(session, "demo").all()]


def test_an_added_location_is_listed_with_its_zone_currency_and_posting_mode(
    cli: CliRunner,
) -> None:
    empty = cli.invoke(app, ["location", "list"])
    assert empty.exit_code == 0, empty.output
    assert "Tenant demo has no locations yet" in empty.output
    added = cli.invoke(app, SHOREDITCH)
    assert added.exit_code == 0, added.output
    assert "Added location shoreditch (Shoreditch, Europe/London, GBP) to tenant demo" in (
        added.output
    )
    cafe = cli.invoke(
        app,
        [
            "location",
            "add",
            "sf-cafe_2",
            "--name",
            "SF Café",
            "--timezone",
            "America/Los_Angeles",
            "--currency",
            "USD",
            "--tenant",
            "demo",
        ],
    )
    assert cafe.exit_code == 0, cafe.output
    listed = cli.invoke(app, ["location", "list", "--tenant", "demo"])
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.output.splitlines() if "shoreditch" in line or "sf-" in line]
    assert len(rows) == 2, listed.output
    assert all(word in rows[0] for word in ("sf-cafe_2", "SF Café", "America/Los_Angeles", "USD"))
    assert all(word in rows[1] for word in ("Shoreditch", "Europe/London", "GBP", "per order"))


def test_the_list_shows_a_location_s_posting_mode(cli: CliRunner) -> None:
    assert cli.invoke(app, SHOREDITCH).exit_code == 0
    with books() as session:
        planner = Planner(session, "demo", Locations(session, "demo").all(), system_clock)
        planner.set_mode("shoreditch", PostingMode.DAILY_SUMMARY)
    listed = cli.invoke(app, ["location", "list"])
    assert "daily summary" in listed.output


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({2: "Shore Ditch"}, "id 'Shore Ditch': use a short slug of lowercase letters"),
        ({2: "Shore Ditch"}, "e.g. shore-ditch"),
        ({2: "x" * 33}, "at most 32 characters"),
        ({4: " "}, "name: give the location a name"),
        ({6: "London"}, "time zone 'London' is not an IANA time zone"),
        ({6: "europe/london"}, "did you mean 'Europe/London'?"),
        ({6: "Europe/Londn"}, "did you mean 'Europe/London', "),
        ({6: "localtime"}, "time zone 'localtime' is not an IANA time zone"),
        ({8: "gbp"}, "currency 'gbp': write its ISO 4217 code as 3 capital letters, e.g. GBP"),
        ({8: "POUND"}, "currency 'POUND': write its ISO 4217 code as 3 capital letters"),
        ({8: "XYZ"}, "'XYZ' is not an ISO 4217 currency code"),
        ({8: "XAU"}, "'XAU' has no minor unit"),
    ],
)
def test_bad_arguments_are_refused_saying_what_to_fix(
    cli: CliRunner, change: dict[int, str], said: str
) -> None:
    args = [change.get(i, arg) for i, arg in enumerate(SHOREDITCH)]
    result = cli.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "was not added; fix:" in result.output
    assert said in result.output
    assert stored_ids() == []


def test_every_bad_argument_is_named_at_once(cli: CliRunner) -> None:
    args = ["location", "add", "Shoreditch", "--name", "S", "--timezone", "X", "--currency", "gb"]
    result = cli.invoke(app, args)
    assert result.exit_code == 2
    for what in ("id 'Shoreditch'", "time zone 'X'", "currency 'gb'"):
        assert what in result.output


def test_an_unknown_tenant_is_refused_with_the_known_ones(cli: CliRunner) -> None:
    for command in ([*SHOREDITCH, "--tenant", "acme"], ["location", "list", "--tenant", "acme"]):
        result = cli.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "No tenant 'acme'. Tenants: demo" in result.output
    assert stored_ids() == []


def test_an_id_already_taken_is_refused_naming_what_holds_it(cli: CliRunner) -> None:
    assert cli.invoke(app, SHOREDITCH).exit_code == 0
    again = cli.invoke(
        app,
        [
            "location",
            "add",
            "shoreditch",
            "--name",
            "Other",
            "--timezone",
            "Europe/Paris",
            "--currency",
            "EUR",
        ],
    )
    assert again.exit_code == 2, again.output
    assert "Location id 'shoreditch' is already taken for tenant demo by Shoreditch" in (
        again.output
    )
    assert "(Europe/London, GBP)" in again.output
    assert "salesync location list" in again.output
    assert stored_ids() == ["shoreditch"]


def test_a_till_export_can_book_to_a_location_added_from_the_command_line(
    cli: CliRunner,
) -> None:
    """The README's POS steps: add Shoreditch, then connect the till's SHD store to it."""
    assert cli.invoke(app, SHOREDITCH).exit_code == 0
    mapping = str(EXAMPLES / "till-mapping.toml")
    connected = cli.invoke(
        app, ["pos", "connect", "till", "--mapping", mapping, "--location", "SHD=shoreditch"]
    )
    assert connected.exit_code == 0, connected.output
    assert "SHD → shoreditch" in connected.output
    preview = cli.invoke(
        app, ["pos", "preview", str(EXAMPLES / "till-export.csv"), "--connection", "till"]
    )
    assert preview.exit_code == 0, preview.output
    assert "5 read cleanly" in preview.output


def test_a_location_s_posting_mode_is_chosen_and_checked_against_its_sources(
    cli: CliRunner,
) -> None:
    """`location mode` sets daily summaries; per payout is refused while a POS-file
    connection without payouts feeds the location, naming it and the modes left."""
    assert cli.invoke(app, SHOREDITCH).exit_code == 0
    summary = cli.invoke(app, ["location", "mode", "shoreditch", "daily_summary"])
    assert summary.exit_code == 0, summary.output
    assert "posts daily summary from now on" in summary.output
    added = cli.invoke(
        app,
        ["connection", "add", "pos_file", "Till export", "--default-location", "shoreditch"],
    )
    assert added.exit_code == 0, added.output
    assert "Sales arrive in export files you upload" in added.output
    refused = cli.invoke(app, ["location", "mode", "shoreditch", "per_payout"])
    assert refused.exit_code != 0
    assert "Till export (POS export files) reports none" in " ".join(refused.output.split())
    listed = cli.invoke(app, ["location", "list"])
    assert "daily summary" in listed.output
    unknown = cli.invoke(app, ["location", "mode", "shoreditch", "weekly"])
    assert unknown.exit_code == 2
    assert "per_order" in unknown.output


def test_the_sources_on_offer_are_listed(cli: CliRunner) -> None:
    listed = cli.invoke(app, ["connection", "sources"])
    assert listed.exit_code == 0, listed.output
    shopify = next(line for line in listed.output.splitlines() if "shopify" in line)
    assert "webhooks, with a sweep" in shopify
    assert "yes" in shopify
