"""``salesync pos``: sales from POS export files (CSV or JSON) with a declared column mapping.

``connect`` sets up a connection with its mapping and store-to-location map, ``preview``
reads a file without writing anything, ``import`` stores and takes in its receipts with a
report of each one's fate, and ``replay`` reads rejected receipts again after a fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.cli.common import console, database, fail, require_tenant, settings
from salesync.clock import system_clock
from salesync.connectors.posfile import (
    NAME,
    MappingFileError,
    load_mapping,
    mapping_settings,
)
from salesync.connectors.posfile.preview import ExportPreview, ReceiptPreview
from salesync.connectors.source import Skip
from salesync.domain.documents import Refund, Sale
from salesync.domain.errors import ValidationError
from salesync.engine.imports import ImportReport, Outcome, PosImports, pos_connection
from salesync.store.repositories import Connections, Locations
from salesync.store.tables import ConnectionRow

pos_app = typer.Typer(
    help="Import sales from POS export files (CSV or JSON) with a column mapping.",
    no_args_is_help=True,
)

Tenant = Annotated[str, typer.Option(help="tenant id")]
ConnectionName = Annotated[str, typer.Option("--connection", help="the POS connection's name")]


def _pairs(values: list[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        pos, sep, location = value.partition("=")
        if not sep or not pos.strip() or not location.strip():
            raise fail(f"--location {value!r} is not POS_STORE=LOCATION, e.g. SHD=shoreditch")
        pairs[pos.strip()] = location.strip()
    return pairs


@pos_app.command("connect")
def connect(
    name: Annotated[str, typer.Argument(help="a name for the till or export, e.g. till")],
    mapping: Annotated[
        Path | None,
        typer.Option(help="column mapping, TOML or JSON (needed when the connection is new)"),
    ] = None,
    location: Annotated[
        list[str] | None,
        typer.Option("--location", help="POS_STORE=LOCATION, the file's store value; repeat"),
    ] = None,
    default_location: Annotated[
        str | None, typer.Option(help="the location of rows that name no store")
    ] = None,
    tenant: Tenant = "demo",
) -> None:
    """Create or update a POS file connection: its mapping and where its stores book."""
    cfg = settings()
    changes: dict[str, Any] = {}
    if mapping is not None:
        try:
            changes.update(mapping_settings(load_mapping(mapping)))
        except MappingFileError as exc:
            raise fail(f"{exc}:", exc.problems) from None
    if location:
        changes["locations"] = _pairs(location)
    if default_location:
        changes["default_location"] = default_location
    with database(cfg) as factory, factory() as session, session.begin():
        require_tenant(session, tenant)
        known = [loc.id for loc in Locations(session, tenant).all()]
        wanted = [*changes.get("locations", {}).values(), default_location]
        unknown = sorted({w for w in wanted if w is not None and w not in known})
        if unknown:
            raise fail(
                f"No location {', '.join(map(repr, unknown))} for tenant {tenant}.",
                [f"Locations: {', '.join(known) or 'none yet'}"],
            )
        connections = Connections(session, tenant, cfg.vault())
        row = pos_connection(session, tenant, name)
        if row is None:
            _refuse_taken_name(session, tenant, name)
            if mapping is None:
                raise fail("A new connection needs its column mapping: --mapping FILE.")
            # The namespace keeps receipt numbers of two tills apart, and stays the same if
            # the connection is set up again under the same name.
            final = {"namespace": name, **changes}
            connections.add(NAME, "source", name, {}, final)
            verb = "Connected"
        else:
            final = {**(row.settings or {}), **changes}
            connections.update_settings(row.id, **changes)
            verb = "Updated"
    _print_connection(verb, name, final)


def _refuse_taken_name(session: Session, tenant: str, name: str) -> None:
    query = select(ConnectionRow.provider).where(
        ConnectionRow.tenant_id == tenant, ConnectionRow.name == name
    )
    provider = session.scalars(query).first()
    if provider is not None:
        raise fail(f"{name!r} is already the name of a {provider} connection.")


def _print_connection(verb: str, name: str, settings_: dict[str, Any]) -> None:
    locations = settings_.get("locations") or {}
    mapped = ", ".join(f"{k} → {v}" for k, v in locations.items()) or "none mapped"
    default = settings_.get("default_location") or "none"
    console.print(
        f"{verb} POS file connection [bold]{name}[/bold]: stores {mapped}; "
        f"default location {default}."
    )


def _connection_id(session: Session, tenant: str, name: str) -> str:
    require_tenant(session, tenant)
    row = pos_connection(session, tenant, name)
    if row is None:
        raise fail(
            f"No POS file connection {name!r}.",
            [f"Set one up: salesync pos connect {name} --mapping FILE --location STORE=LOCATION"],
        )
    return row.id


def _refused(exc: ValidationError) -> typer.Exit:
    said = [p.message for p in exc.problems if p.message not in exc.user_message]
    return fail(exc.user_message, said)


def _rows(numbers: Sequence[int]) -> str:
    if not numbers:
        return ""
    if list(numbers) == list(range(numbers[0], numbers[-1] + 1)) and len(numbers) > 1:
        return f"{numbers[0]}-{numbers[-1]}"
    return ", ".join(map(str, numbers))


@pos_app.command("preview")
def preview(
    file: Annotated[Path, typer.Argument(help="the export, CSV or JSON")],
    connection: ConnectionName,
    rows: Annotated[int, typer.Option(min=1, help="receipts to show")] = 10,
    tenant: Tenant = "demo",
) -> None:
    """Read a file as an import would and show its receipts and problems; writes nothing."""
    cfg = settings()
    with database(cfg) as factory:
        with factory() as session:
            connection_id = _connection_id(session, tenant, connection)
        try:
            shown = PosImports(factory, system_clock).preview(tenant, connection_id, file)
        except ValidationError as exc:
            raise _refused(exc) from None
    _print_preview(shown, rows)


def _print_preview(shown: ExportPreview, limit: int) -> None:
    table = Table(title=f"Preview of {shown.file.name} (first {limit} receipts)")
    for column in ("Receipt", "Rows", "Kind", "When", "Location", "Lines", "Total", "Check"):
        table.add_column(column, justify="right" if column == "Total" else "left")
    for receipt in shown.receipts[:limit]:
        table.add_row(*_preview_row(receipt))
    console.print(table)
    console.print(
        f"{shown.file.name}: {len(shown.file.rows)} rows, {len(shown.receipts)} receipts: "
        f"{shown.clean} read cleanly, {shown.with_problems} with problems, "
        f"{shown.skipped} skipped. Nothing was written."
    )
    for receipt in shown.receipts:
        for problem in receipt.problems:
            number = receipt.receipt.number or "(no number)"
            rows = _rows(receipt.receipt.row_numbers)
            console.print(f"[red]{number}[/red] (rows {rows}): {problem}")


def _preview_row(receipt: ReceiptPreview) -> tuple[str, ...]:
    doc = receipt.translated
    number, rows = receipt.receipt.number or "(none)", _rows(receipt.receipt.row_numbers)
    check = "[red]problems[/red]" if receipt.problems else "ok"
    if isinstance(doc, Sale | Refund):
        kind = "sale" if isinstance(doc, Sale) else "return"
        when = doc.occurred_at.strftime("%Y-%m-%d %H:%M %z")
        return (
            number,
            rows,
            kind,
            when,
            doc.location_id,
            str(len(doc.lines)),
            str(doc.amount),
            check,
        )
    kind = "skipped" if isinstance(doc, Skip) else "?"
    return number, rows, kind, "", "", "", "", "skipped" if isinstance(doc, Skip) else check


@pos_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="the export, CSV or JSON")],
    connection: ConnectionName,
    post: Annotated[
        bool, typer.Option(help="post what is due to the books now (imports are due at once)")
    ] = False,
    tenant: Tenant = "demo",
) -> None:
    """Import a file's receipts; prints what was accepted, rejected (with rows and reasons)
    and already imported. Importing the same file again changes nothing."""
    cfg = settings()
    with database(cfg) as factory:
        with factory() as session:
            connection_id = _connection_id(session, tenant, connection)
        imports = PosImports(factory, system_clock)
        try:
            report = imports.import_file(tenant, connection_id, file)
        except ValidationError as exc:
            raise _refused(exc) from None
        _print_report(report, connection)
        if post:
            planned = imports.engine.plan(tenant)
            sent = imports.engine.send(tenant)
            console.print(
                f"Books: {planned} posting(s) planned, {sent.posted} posted, {sent.held} held."
            )
    if report.rejected or any(r.still_rejected for r in report.receipts):
        raise typer.Exit(1)


@pos_app.command("replay")
def replay(connection: ConnectionName, tenant: Tenant = "demo") -> None:
    """Read the connection's rejected receipts again, after fixing its mapping or locations."""
    cfg = settings()
    with database(cfg) as factory:
        with factory() as session:
            connection_id = _connection_id(session, tenant, connection)
        try:
            report = PosImports(factory, system_clock).replay(tenant, connection_id)
        except ValidationError as exc:
            raise _refused(exc) from None
    if not report.receipts:
        console.print(f"Connection {connection} has no rejected receipts to replay.")
        return
    _print_report(report, connection)
    if report.rejected:
        raise typer.Exit(1)


_LABELS = {
    Outcome.NEW: "accepted: new",
    Outcome.REVISED: "accepted: revised (a corrected receipt)",
    Outcome.UNCHANGED: "accepted: unchanged",
    Outcome.WAITING: "waiting for their sale",
    Outcome.SKIPPED: "skipped",
    Outcome.REJECTED: "rejected",
    Outcome.DUPLICATE: "already imported (duplicates)",
    Outcome.RECEIVED: "stored, not taken in yet",
}


def _print_report(report: ImportReport, connection: str) -> None:
    title = f"Import of {report.file}" if report.file else f"Replay of {connection}'s receipts"
    table = Table(title=title)
    table.add_column("Outcome")
    table.add_column("Receipts", justify="right")
    table.add_column("Rows", justify="right")
    for outcome, label in _LABELS.items():
        found = report.having(outcome)
        if found:
            rows = sum(len(r.rows) for r in found)
            table.add_row(label, str(len(found)), str(rows))
    console.print(table)
    details = [
        r
        for r in report.receipts
        if r.outcome in (Outcome.REJECTED, Outcome.WAITING, Outcome.SKIPPED) or r.still_rejected
    ]
    if details:
        detail = Table(title="Receipts not accepted")
        for column in ("Receipt", "Rows", "Outcome", "Why"):
            detail.add_column(column)
        for r in details:
            said = "still rejected" if r.still_rejected else r.outcome.value
            style = "red" if said.endswith("rejected") else "yellow"
            why = "\n".join(r.problems)
            detail.add_row(r.receipt or "(none)", _rows(r.rows), f"[{style}]{said}[/{style}]", why)
        console.print(detail)
    console.print(
        f"{report.rows} rows, {len(report.receipts)} receipts: {report.accepted} accepted, "
        f"{report.rejected} rejected, {report.duplicates} already imported."
    )
    if report.rejected or any(r.still_rejected for r in report.receipts):
        console.print(
            "Rejected receipts are kept. Fix the file's mapping or locations "
            f"(salesync pos connect {connection} ...), then: salesync pos replay "
            f"--connection {connection}"
        )
