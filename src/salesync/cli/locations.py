"""``salesync location``: add a tenant's stores and till groups, list them, choose how each
posts, and stop or start billing them.

A location's time zone decides which business day a sale falls on, and its currency is
the currency of its books, so both are checked before anything is written.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.cli.common import console, database, err, fail, require_tenant, settings
from salesync.clock import system_clock
from salesync.connectors.offer import feeders, mode_refusal
from salesync.connectors.registry import sources
from salesync.domain.documents import Location
from salesync.domain.money import CurrencyError, minor_unit
from salesync.domain.planning import PostingMode
from salesync.engine.planner import Planner
from salesync.store.repositories import Locations
from salesync.store.tables import LocationSettingsRow
from salesync.support.plans import Term
from salesync.support.subscriptions import Subscriptions

location_app = typer.Typer(
    help="A tenant's locations: stores and till groups, and which of them are billed.",
    no_args_is_help=True,
)

Tenant = Annotated[str, typer.Option(help="tenant id")]

# Location ids end up in posting keys and in the books' references, so they stay short.
MAX_ID = 32
_SLUG = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{MAX_ID - 1}}}")
_CURRENCY = re.compile(r"[A-Z]{3}")


def register(app: typer.Typer) -> None:
    app.add_typer(location_app, name="location")


@cache
def _zones() -> frozenset[str]:
    # "localtime" is whatever this machine is set to, not a named zone.
    return frozenset(available_timezones() - {"localtime"})


def _id_problem(location_id: str) -> str | None:
    if _SLUG.fullmatch(location_id):
        return None
    slug = re.sub(r"[^a-z0-9_-]+", "-", location_id.lower()).strip("-_")[:MAX_ID] or "shoreditch"
    return (
        f"id {location_id!r}: use a short slug of lowercase letters, digits, '-' or '_' "
        f"(at most {MAX_ID} characters, starting with a letter or digit), e.g. {slug}"
    )


def _timezone_problem(zone: str) -> str | None:
    zones = _zones()
    if zone in zones:
        return None
    by_lower = {z.lower(): z for z in zones}
    if zone.lower() in by_lower:
        near = [by_lower[zone.lower()]]
    else:
        near = difflib.get_close_matches(zone, sorted(zones), n=3, cutoff=0.6)
    quoted = [repr(z) for z in near]
    listed = " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)
    hint = f"did you mean {listed}?" if near else "e.g. Europe/London"
    return f"time zone {zone!r} is not an IANA time zone (Area/City): {hint}"


def _currency_problem(currency: str) -> str | None:
    if not _CURRENCY.fullmatch(currency):
        example = currency.upper() if _CURRENCY.fullmatch(currency.upper()) else "GBP"
        return (
            f"currency {currency!r}: write its ISO 4217 code as 3 capital letters, e.g. {example}"
        )
    try:
        minor_unit(currency)
    except CurrencyError as exc:
        return f"currency {exc}"
    return None


@location_app.command("add")
def add(
    location_id: Annotated[
        str, typer.Argument(metavar="ID", help="a short slug for the location, e.g. shoreditch")
    ],
    name: Annotated[str, typer.Option(help="the location's name, e.g. Shoreditch")],
    timezone: Annotated[
        str, typer.Option(help="IANA time zone, e.g. Europe/London: it decides business days")
    ],
    currency: Annotated[str, typer.Option(help="ISO 4217 currency of its books, e.g. GBP")],
    tenant: Tenant = "demo",
) -> None:
    """Add a location (a store or till group) that connections can map their stores to."""
    problems = [
        problem
        for problem in (
            _id_problem(location_id),
            None if name.strip() else "name: give the location a name, e.g. --name Shoreditch",
            _timezone_problem(timezone),
            _currency_problem(currency),
        )
        if problem is not None
    ]
    if problems:
        raise fail(f"Location {location_id!r} was not added; fix:", problems)
    cfg = settings()
    with database(cfg) as factory, factory() as session, session.begin():
        require_tenant(session, tenant)
        locations = Locations(session, tenant)
        taken = locations.get(location_id)
        if taken is not None:
            raise fail(
                f"Location id {location_id!r} is already taken for tenant {tenant} by "
                f"{taken.name} ({taken.timezone}, {taken.currency}).",
                ["Choose another id; `salesync location list` shows the ones in use."],
            )
        locations.add(Location(location_id, tenant, name.strip(), timezone, currency))
    console.print(
        f"Added location [bold]{location_id}[/bold] ({name.strip()}, {timezone}, {currency}) "
        f"to tenant {tenant}. Map a connection's stores to it with --location STORE={location_id}."
    )


@location_app.command("list")
def list_locations(tenant: Tenant = "demo") -> None:
    """List a tenant's locations with their time zone, currency and posting mode."""
    cfg = settings()
    with database(cfg) as factory, factory() as session:
        require_tenant(session, tenant)
        found = Locations(session, tenant).all()
        query = select(LocationSettingsRow).where(LocationSettingsRow.tenant_id == tenant)
        # Locations the planner was never told about post per order (Planner.mode_for).
        modes = {row.location_id: row.posting_mode for row in session.scalars(query)}
    if not found:
        console.print(
            f"Tenant {tenant} has no locations yet. Add one: salesync location add ID "
            "--name NAME --timezone ZONE --currency CODE"
        )
        return
    table = Table(title=f"Locations of {tenant}")
    for column in ("Id", "Name", "Time zone", "Currency", "Posting mode"):
        table.add_column(column)
    for location in found:
        mode = modes.get(location.id, PostingMode.PER_ORDER.value)
        table.add_row(
            location.id,
            location.name,
            location.timezone,
            location.currency,
            mode.replace("_", " "),
        )
    console.print(table)


LocationId = Annotated[
    str, typer.Argument(metavar="ID", help="the location's id (see `salesync location list`)")
]


@location_app.command("deactivate")
def deactivate(location_id: LocationId, tenant: Tenant = "demo") -> None:
    """Stop billing a location from now on (a store that closed or stopped using salesync)."""
    cfg = settings()
    now = system_clock()
    with database(cfg) as factory, factory() as session, session.begin():
        location = _known(session, tenant, location_id)
        try:
            stopped = Locations(session, tenant).deactivate(location_id, now)
        except ValueError as exc:
            raise fail(str(exc)) from None
        if not stopped:
            err.print(
                f"[yellow]Location {location_id} ({escape(location.name)}) of {tenant} is not "
                "already inactive: it is not billed.[/yellow] Bill it again with "
                f"`salesync location reactivate {location_id} --tenant {tenant}`."
            )
            raise typer.Exit(1)
        plan = Subscriptions(session, cfg.plan_catalog()).get(tenant).plan
    console.print(
        f"Location [bold]{location_id}[/bold] ({escape(location.name)}) of {tenant} is no "
        f"longer billed from {now:%Y-%m-%d %H:%M}."
    )
    if plan.term is Term.ANNUAL:
        console.print(
            f"On the annual {escape(plan.name)} plan it was paid ahead: it stays paid for "
            "until the renewal, without a refund."
        )


@location_app.command("mode")
def set_mode(
    location_id: LocationId,
    mode: Annotated[PostingMode, typer.Argument(help="per_order, daily_summary or per_payout")],
    tenant: Tenant = "demo",
) -> None:
    """Change how a location posts from now on; what is posted already stays as it is."""
    cfg = settings()
    with database(cfg) as factory, factory() as session, session.begin():
        _known(session, tenant, location_id)
        refusal = mode_refusal(feeders(session, tenant, location_id), mode, sources())
        if refusal is not None:
            raise fail(refusal)
        planner = Planner(session, tenant, Locations(session, tenant).all(), system_clock)
        planner.set_mode(location_id, mode)
    console.print(
        f"Location [bold]{location_id}[/bold] of {tenant} posts "
        f"{mode.value.replace('_', ' ')} from now on; documents posted already stay as they are."
    )


@location_app.command("reactivate")
def reactivate(location_id: LocationId, tenant: Tenant = "demo") -> None:
    """Bill a deactivated location again from now on."""
    cfg = settings()
    now = system_clock()
    with database(cfg) as factory, factory() as session, session.begin():
        location = _known(session, tenant, location_id)
        if not Locations(session, tenant).reactivate(location_id, now):
            err.print(
                f"[yellow]Location {location_id} ({escape(location.name)}) of {tenant} is "
                "active already: it is billed.[/yellow] Stop billing it with "
                f"`salesync location deactivate {location_id} --tenant {tenant}`."
            )
            raise typer.Exit(1)
    console.print(
        f"Location [bold]{location_id}[/bold] ({escape(location.name)}) of {tenant} is billed "
        f"again from {now:%Y-%m-%d %H:%M}."
    )


def _known(session: Session, tenant: str, location_id: str) -> Location:
    """The tenant's location ``location_id``, or a refusal naming the ones it has."""
    require_tenant(session, tenant)
    location = Locations(session, tenant).get(location_id)
    if location is None:
        ids = ", ".join(loc.id for loc in Locations(session, tenant).all()) or "none yet"
        raise fail(f"No location {location_id!r} for tenant {tenant}.", [f"Its locations: {ids}"])
    return location
