"""``salesync ticket``: the support tickets salesync opened for sync failures, and what a
developer does with them: read, comment, take, replay, resolve, close."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from salesync.cli.common import console, database, fail, settings
from salesync.clock import system_clock
from salesync.engine.wiring import ticket_desk
from salesync.monitor.desk import DeskError, TicketDesk

ticket_app = typer.Typer(
    help="Support tickets: one per root cause of sync failures.", no_args_is_help=True
)

Actor = Annotated[str, typer.Option("--as", help="who does it (an e-mail or a name)")]
TicketId = Annotated[int, typer.Argument(help="the ticket's number")]


def register(app: typer.Typer) -> None:
    app.add_typer(ticket_app, name="ticket")


def _desk(factory: sessionmaker[Session]) -> TicketDesk:
    return ticket_desk(settings(), factory, system_clock)


@ticket_app.command("list")
def list_tickets(
    state: Annotated[
        str, typer.Option(help="active, open, assigned, fixing, resolved, closed or all")
    ] = "active",
    tenant: Annotated[str | None, typer.Option(help="one tenant's tickets only")] = None,
) -> None:
    """Tickets, most recently seen first."""
    with database(settings()) as factory:
        desk = _desk(factory)
        try:
            rows = desk.tickets(state=None if state == "all" else state, tenant_id=tenant)
        except ValueError:
            raise fail(
                f"{state!r} is not a ticket state",
                ["use active, open, assigned, fixing, resolved, closed or all"],
            ) from None
    table = Table("#", "tenant", "state", "kind", "seen", "last seen", "owner", "title")
    for t in rows:
        table.add_row(
            str(t.id),
            t.tenant_id,
            t.state,
            t.kind,
            str(t.occurrences),
            t.last_seen.strftime("%Y-%m-%d %H:%M"),
            t.assignee or "-",
            t.title,
        )
    console.print(table if rows else f"No {state} tickets.")


@ticket_app.command("show")
def show(ticket_id: TicketId) -> None:
    """A ticket with its timeline, affected documents and latest incidents (redacted)."""
    with database(settings()) as factory:
        try:
            detail = _desk(factory).detail(ticket_id, incidents=3)
        except KeyError:
            raise fail(f"No ticket {ticket_id}.") from None
    t = detail.ticket
    console.print(f"[bold]#{t.id} {t.title}[/bold]")
    console.print(
        f"{t.state} · {t.kind}{f' {t.code}' if t.code else ''} · seen {t.occurrences}× · "
        f"owner {t.assignee or '-'} · plan {t.plan}, respond by {t.respond_by:%Y-%m-%d %H:%M}"
    )
    console.print(f"Merchant reads: {t.user_message}")
    if t.merchant_action:
        console.print("[yellow]Only the merchant can fix this (reconnect or a mapping).[/yellow]")
    console.print(f"Affected documents: {len(detail.documents)}")
    for event in detail.events:
        console.print(f"  {event.at:%Y-%m-%d %H:%M} {event.actor}: {event.event} {event.text}")
    for incident in detail.incidents:
        console.print(f"[dim]incident {incident.id} ({incident.subject}): {incident.message}")
        for exchange in incident.http:
            console.print(
                f"[dim]  {exchange.get('method')} {exchange.get('url')} -> {exchange.get('status')}"
            )


@ticket_app.command("comment")
def comment(ticket_id: TicketId, text: str, actor: Actor) -> None:
    """Add a comment to a ticket's timeline."""
    _act(lambda desk: desk.comment(ticket_id, actor, text), f"Commented on #{ticket_id}.")


@ticket_app.command("take")
def take(ticket_id: TicketId, actor: Actor) -> None:
    """Acknowledge a ticket and start fixing it."""
    _act(lambda desk: desk.start(ticket_id, actor), f"#{ticket_id} is yours; it is fixing.")


@ticket_app.command("replay")
def replay(
    ticket_id: TicketId,
    actor: Actor,
    retry_only: Annotated[
        bool, typer.Option("--retry-only", help="only retry its postings now")
    ] = False,
) -> None:
    """Send exactly the ticket's failed records, documents and postings through again."""
    with database(settings()) as factory:
        try:
            report = _desk(factory).replay(ticket_id, actor, retry_only=retry_only)
        except KeyError:
            raise fail(f"No ticket {ticket_id}.") from None
    console.print(
        f"Sent through again: {report.postings} posting(s), {report.records} record(s), "
        f"{report.documents} document(s). The runner processes them on its next pass."
    )
    for connection in report.waiting_on_merchant:
        console.print(f"[yellow]Connection {connection} waits for the merchant to reconnect.")


@ticket_app.command("resolve")
def resolve(
    ticket_id: TicketId,
    actor: Actor,
    explanation: Annotated[
        str, typer.Option(help="what happened and what was done, for the merchant")
    ],
) -> None:
    """Resolve a ticket once reconciliation shows every affected document in the books."""
    _act(
        lambda desk: desk.resolve(ticket_id, actor, explanation),
        f"#{ticket_id} is resolved; the merchant will be told.",
    )


@ticket_app.command("close")
def close(
    ticket_id: TicketId,
    actor: Actor,
    reason: Annotated[str, typer.Option(help="why (won't fix, duplicate, ...)")],
) -> None:
    """Close a ticket without resolving it."""
    _act(lambda desk: desk.close(ticket_id, actor, reason), f"#{ticket_id} is closed.")


def _act(action: Callable[[TicketDesk], object], done: str) -> None:
    with database(settings()) as factory:
        desk = _desk(factory)
        try:
            action(desk)
        except KeyError as exc:
            raise fail(str(exc).strip("'\"")) from None
        except DeskError as exc:
            raise fail(str(exc)) from None
    console.print(done)
