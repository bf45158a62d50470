"""The support desk from the command line: plans, invoices and developer hours
(``salesync.cli.billing``), the release history escalation reads, merchants' support
requests, and the knowledge base (``salesync help``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from salesync.cli import billing
from salesync.cli.billing import Tenant, refuse, stamp, support_desk
from salesync.cli.common import console, err, fail, settings
from salesync.monitor.routing.schedule import render_duration
from salesync.support.escalation import ALL, ENGINE, ReleaseError
from salesync.support.knowledge import KnowledgeBase
from salesync.support.requests import CHANNELS, RequestError, SupportRequest

release_app = typer.Typer(
    help="Releases: the deploy history that tells a regression (ours to fix) from the rest.",
    no_args_is_help=True,
)
request_app = typer.Typer(
    help="Support requests: triaged against the scope of work, answered or ticketed at once.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    billing.register(app)
    app.add_typer(release_app, name="release")
    app.add_typer(request_app, name="request")
    app.command("help")(search_help)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date and time; without an offset it is UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise fail(
            f"{text!r} is not a date and time; write it as ISO 8601, "
            "e.g. 2026-03-01T10:00 (UTC) or 2026-03-01T10:00+01:00."
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@release_app.command("add")
def add_release(
    version: Annotated[str, typer.Argument(help="the version deployed, e.g. 0.4.2")],
    areas: Annotated[
        list[str] | None,
        typer.Option(
            "--area",
            help=f"what it changed: a provider such as qbo or shopify, '{ENGINE}', or "
            f"'{ALL}' for everything; repeat for each",
        ),
    ] = None,
    notes: Annotated[str, typer.Option(help="what changed, for the people reading tickets")] = "",
    at: Annotated[
        str | None, typer.Option(help="when it was deployed, ISO 8601 (default: now)")
    ] = None,
) -> None:
    """Record a deployed release: failures of what it touched soon after it are
    regressions, which developers fix whatever the customer's plan."""
    released_at = parse_instant(at) if at else None
    with support_desk() as desk:
        try:
            release = desk.record_release(version, areas or [], at=released_at, notes=notes)
        except ReleaseError as exc:
            raise refuse(exc) from None
        policy = desk.catalog.escalation
    console.print(
        f"Recorded release [bold]{escape(release.version)}[/bold] "
        f"({', '.join(release.areas)}) at {stamp(release.released_at)}."
    )
    if policy.regressions:
        console.print(
            f"Failures of what it touched within {render_duration(policy.regression_window)} "
            "after it are regressions: developers take them whatever the plan."
        )


@release_app.command("list")
def list_releases() -> None:
    """The recorded releases, newest first."""
    with support_desk() as desk:
        found = desk.releases()
    if not found:
        console.print(
            "No releases recorded yet. Record each deploy: "
            "salesync release add VERSION --area qbo --area engine"
        )
        return
    table = Table(title="Releases")
    for column in ("Version", "Released", "Areas", "Notes"):
        table.add_column(column)
    for release in found:
        table.add_row(
            escape(release.version),
            stamp(release.released_at),
            ", ".join(release.areas),
            escape(release.notes),
        )
    console.print(table)


@request_app.command("list")
def list_requests(
    tenant: Tenant = "demo",
    limit: Annotated[int, typer.Option(min=1, help="at most this many, newest first")] = 50,
) -> None:
    """A tenant's support requests, newest first, with how each was triaged."""
    with support_desk(tenant) as desk:
        found = desk.requests(tenant, limit=limit)
    if not found:
        console.print(f"No support requests from {tenant} yet.")
        return
    table = Table(title=f"Support requests of {tenant}")
    for column in ("#", "Received", "Channel", "From", "Subject", "Category", "Scope", "State"):
        table.add_column(column)
    table.add_column("Ticket")
    for request in found:
        table.add_row(
            str(request.id),
            stamp(request.received_at),
            request.channel,
            escape(request.sender),
            escape(request.subject),
            escape(request.category_title or "general question"),
            "in" if request.in_scope else "out",
            request.state,
            f"#{request.ticket_id}" if request.ticket_id else "",
        )
    console.print(table)


@request_app.command("open")
def open_request(
    sender: Annotated[str, typer.Option("--from", help="the merchant's e-mail address")],
    subject: Annotated[str, typer.Option(help="what it is about")] = "",
    body: Annotated[str, typer.Option(help="the merchant's message")] = "",
    channel: Annotated[str, typer.Option(help=f"how it came in: {', '.join(CHANNELS)}")] = "email",
    tenant: Tenant = "demo",
) -> None:
    """Open a support request for a merchant and triage it: out of scope it is answered
    (by e-mail, with the article); in scope it becomes a ticket for Tier 1."""
    with support_desk(tenant) as desk:
        try:
            request = desk.open_request(
                tenant, channel=channel, sender=sender, subject=subject, body=body
            )
        except RequestError as exc:
            raise fail("The request was not opened; fix:", list(exc.problems)) from None
    console.print(f"Request #{request.id} from {escape(request.sender)}: {_triage(request)}")
    if request.answer:
        console.print(f"Answer:\n{escape(request.answer)}")
    if request.article_url:
        console.print(f"Article: {request.article_url}")


def _triage(request: SupportRequest) -> str:
    category = escape(request.category_title or "a general question")
    if not request.in_scope:
        return f"out of scope ({category}); answered, the e-mail is queued."
    ticket = f"ticket #{request.ticket_id}" if request.ticket_id else "no ticket"
    return f"in scope ({category}); {ticket} opened for Tier 1."


def search_help(
    words: Annotated[
        list[str] | None,
        typer.Argument(metavar="SEARCH...", help="words to find (every one must be in it)"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many articles")] = 10,
) -> None:
    """Search the knowledge base, the help articles merchants read; without words, list
    every article."""
    public_url = settings().public_url.rstrip("/")
    knowledge = KnowledgeBase.built_in()
    query = " ".join(words or [])
    table = Table(caption=f"Read them at {public_url}/help/<slug> or on the dashboard.")
    for column in ("Title", "Path", "Snippet" if query else "Summary"):
        table.add_column(column)
    if not query:
        table.title = "Knowledge base"
        for article in knowledge.all():
            table.add_row(escape(article.title), article.path, escape(article.summary))
        console.print(table)
        return
    hits = knowledge.search(query, limit=limit)
    if not hits:
        err.print(f"[yellow]No article holds every one of: {escape(query)}; try fewer words.")
        raise typer.Exit(1)
    table.title = f"Help articles for {escape(query)!r}"
    for hit in hits:
        table.add_row(escape(hit.article.title), hit.article.path, escape(hit.snippet))
    console.print(table)
