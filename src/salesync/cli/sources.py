"""Source connections from the command line: add, list, sweep, and the sources offered."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.cli.common import console, database, err, require_tenant, settings
from salesync.clock import system_clock
from salesync.connectors.ledger.destination import NAME as LEDGER
from salesync.connectors.offer import offer, offers
from salesync.connectors.registry import destinations, sources
from salesync.domain.errors import SyncError
from salesync.engine import wiring
from salesync.engine.wiring import configured_engine
from salesync.store.repositories import Connections, Locations
from salesync.store.tables import ConnectionRow, SourceCursorRow

connection_app = typer.Typer(
    help="Connections to source accounts and to the books.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(connection_app, name="connection")
    app.command()(sweep)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            err.print(f"[red]{what} {value!r} is not KEY=VALUE.[/red]")
            raise typer.Exit(2)
        out[key] = rest
    return out


def connection_id(session: Session, tenant: str, name: str) -> str:
    """The id of the tenant's connection called ``name`` (or with that id)."""
    query = select(ConnectionRow.id).where(
        ConnectionRow.tenant_id == tenant, (ConnectionRow.name == name) | (ConnectionRow.id == name)
    )
    found = session.scalar(query)
    if found is None:
        names = [c.name for c in Connections(session, tenant, settings().vault()).all()]
        err.print(f"[red]No connection {name!r}.[/red] Connections: {', '.join(names) or 'none'}")
        raise typer.Exit(2)
    return found


@connection_app.command("add")
def add(
    provider: Annotated[
        str, typer.Argument(help="source or destination type, e.g. shopify, square, qbo, xero")
    ],
    name: Annotated[str, typer.Argument(help="a name for this connection")],
    tenant: Annotated[str, typer.Option(help="tenant id")] = "demo",
    credential: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE, stored encrypted; repeatable")
    ] = None,
    setting: Annotated[list[str] | None, typer.Option(help="KEY=VALUE; repeatable")] = None,
    location: Annotated[
        list[str] | None,
        typer.Option(help="PROVIDER_LOCATION=SALESYNC_LOCATION; repeatable"),
    ] = None,
    default_location: Annotated[
        str | None, typer.Option(help="where sales without a provider location go")
    ] = None,
) -> None:
    """Connect a source account, or the books postings go to (QuickBooks Online, Xero);
    credentials are encrypted with the configured key."""
    books = [n for n in destinations().names() if n != LEDGER]
    role = "destination" if provider in books else "source"
    if role == "source" and provider not in sources().names():
        installed = ", ".join([*sources().names(), *books])
        err.print(f"[red]No source or destination type {provider!r}.[/red] Installed: {installed}")
        raise typer.Exit(2)
    cfg = settings()
    config: dict[str, object] = dict(_pairs(setting or [], "setting"))
    locations = _pairs(location or [], "location")
    with database(cfg) as factory, factory() as session, session.begin():
        require_tenant(session, tenant)
        known = {loc.id for loc in Locations(session, tenant).all()}
        wanted = {*locations.values(), *([default_location] if default_location else [])}
        if unknown := sorted(wanted - known):
            listed = ", ".join(sorted(known))
            err.print(f"[red]No location {', '.join(unknown)}.[/red] Locations: {listed}")
            raise typer.Exit(2)
        config["locations"] = locations
        if default_location:
            config["default_location"] = default_location
        if role == "source" and sources().get(provider).capabilities.ids_per_account:
            _refuse_a_second(session, tenant, provider)
        created = Connections(session, tenant, cfg.vault()).add(
            provider, role, name, dict(_pairs(credential or [], "credential")), config
        )
    after = "; postings of this tenant now go to it" if role == "destination" else ""
    console.print(f"Connected {provider} as {name!r} ({created}){after}.")
    if role == "source":
        for line in offer(sources().get(provider)).lines():
            console.print(f"  {line}")


def _refuse_a_second(session: Session, tenant: str, provider: str) -> None:
    """Refuse a second connection of a source whose order ids restart in every account:
    its sales would take the identities of the first one's."""
    taken = session.scalar(
        select(ConnectionRow.name).where(
            ConnectionRow.tenant_id == tenant, ConnectionRow.provider == provider
        )
    )
    if taken is not None:
        err.print(
            f"[red]Tenant {tenant!r} has a {provider} connection already ({taken!r}).[/red] "
            f"{provider} numbers orders from 1 in every store, so a second store's sales would "
            "take the first one's identities. Connect the second store in a tenant of its "
            "own."
        )
        raise typer.Exit(2)


@connection_app.command("sources")
def list_sources() -> None:
    """The sources salesync can connect, and what each offers: how sales arrive, history,
    payouts and the posting modes its sales can use."""
    table = Table(title="Sources salesync can connect")
    for column in ("Name", "Source", "How sales arrive", "History", "Posting modes"):
        table.add_column(column)
    for offered in offers(sources()):
        table.add_row(
            offered.name,
            offered.title,
            offered.arrival,
            "yes" if offered.history else "no",
            ", ".join(m.value.replace("_", " ") for m in offered.posting_modes),
        )
    console.print(table)


@connection_app.command("list")
def list_connections(tenant: Annotated[str, typer.Option(help="tenant id")] = "demo") -> None:
    """Every connection with its state and where each sweep stands."""
    cfg = settings()
    with database(cfg) as factory, factory() as session:
        require_tenant(session, tenant)
        table = Table(title=f"Connections of {tenant}")
        for column in ("Name", "Provider", "Role", "Status", "Swept", "Records"):
            table.add_column(column)
        for info in Connections(session, tenant, cfg.vault()).all():
            cursors = session.scalars(
                select(SourceCursorRow).where(SourceCursorRow.connection_id == info.id)
            ).all()
            swept = max((c.swept_at for c in cursors), default=None)
            table.add_row(
                info.name,
                info.provider,
                info.role,
                info.status,
                swept.strftime("%Y-%m-%d %H:%M") if swept else "never",
                str(sum(c.records for c in cursors)),
            )
    console.print(table)


def sweep(
    tenant: Annotated[str, typer.Option(help="tenant id")] = "demo",
    connection: Annotated[
        str | None, typer.Option(help="one connection (default: every source that sweeps)")
    ] = None,
) -> None:
    """Fetch what changed since the last sweep, catching webhooks that never arrived."""
    cfg = settings()
    with database(cfg) as factory:
        with factory() as session:
            require_tenant(session, tenant)
            chosen = connection_id(session, tenant, connection) if connection else None
        sweeper = wiring.sweeper(cfg, factory, system_clock)
        try:
            if chosen:
                reports = {chosen: sweeper.sweep(tenant, chosen)}
            else:
                reports = sweeper.sweep_all(tenant)
        except SyncError as exc:
            err.print(f"[red]The sweep stopped:[/red] {exc.user_message}")
            raise typer.Exit(1) from None
        configured_engine(cfg, factory, system_clock).tick(tenant)
    for connection_key, report in reports.items():
        console.print(
            f"{connection_key}: {report.pages} pages, {report.records} new records, "
            f"{report.duplicates} already known."
        )
    if not reports:
        console.print("No connection of this tenant sweeps.")
