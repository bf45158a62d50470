"""What a tracker is told about a ticket, made only from fields that were redacted when
they were recorded (and redacted once more on the way out), never from payloads."""

from __future__ import annotations

from datetime import UTC, datetime

from salesync.domain.redaction import Redactor
from salesync.monitor.trackers.tracker import IssueContent, LatestFailure
from salesync.store.tables import IncidentRow, TicketRow

MESSAGE_MAX = 4000
"""Characters of the latest failure's message shown; the rest is cut with a note."""


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _status(incident: IncidentRow) -> int | None:
    """The HTTP status of the failed unit's last answered exchange."""
    for exchange in reversed(incident.http or []):
        status = exchange.get("status") if isinstance(exchange, dict) else None
        if isinstance(status, int):
            return status
    return None


def content_of(ticket: TicketRow, incident: IncidentRow | None, redactor: Redactor) -> IssueContent:
    """The ticket and its latest incident as a tracker may see them."""
    latest = None
    if incident is not None:
        message = redactor.text(incident.message)
        if len(message) > MESSAGE_MAX:
            message = f"{message[:MESSAGE_MAX]}… [{len(message) - MESSAGE_MAX} more characters]"
        latest = LatestFailure(
            message=message,
            code=incident.code,
            http_status=_status(incident),
            failed_at=incident.failed_at,
        )
    return IssueContent(
        ticket_id=ticket.id,
        tenant_id=ticket.tenant_id,
        title=redactor.text(ticket.title),
        kind=ticket.kind,
        code=ticket.code,
        provider=ticket.provider,
        operation=ticket.operation,
        location_id=ticket.location_id,
        user_message=redactor.text(ticket.user_message),
        help_url=ticket.help_url,
        occurrences=ticket.occurrences,
        first_seen=ticket.first_seen,
        last_seen=ticket.last_seen,
        assignee=ticket.assignee,
        team=ticket.team,
        latest=latest,
    )


def facts(content: IssueContent) -> list[tuple[str, str]]:
    """The ticket's particulars as (label, value) lines, the empty ones left out."""
    failure = content.kind + (f" ({content.code})" if content.code else "")
    where = " · ".join(p for p in (content.provider, content.operation) if p)
    owner = ", ".join(p for p in (content.assignee, content.team and f"team {content.team}") if p)
    seen = (
        f"{content.occurrences} time{'s' if content.occurrences != 1 else ''}, first "
        f"{stamp(content.first_seen)}, last {stamp(content.last_seen)}"
    )
    rows = [
        ("Merchant", content.tenant_id),
        ("Failure", failure),
        ("Where", where),
        ("Location", content.location_id or ""),
        ("Seen", seen),
        ("Owner", owner),
        ("Help", content.help_url or ""),
    ]
    return [(label, value) for label, value in rows if value]


def latest_line(latest: LatestFailure) -> str:
    parts = [stamp(latest.failed_at)]
    if latest.code:
        parts.append(latest.code)
    if latest.http_status is not None:
        parts.append(f"HTTP {latest.http_status}")
    return " · ".join(parts)


def still_failing(content: IssueContent, closed_by: str | None) -> str:
    """Why salesync reopens an issue closed while it still sees the failure."""
    seen = (
        f"it has happened {content.occurrences} time{'s' if content.occurrences != 1 else ''}, "
        f"most recently {stamp(content.last_seen)}"
    )
    if closed_by:
        return (
            f"Reopened by salesync: {closed_by} closed this issue, but salesync still sees "
            f"the failure ({seen}) and its ticket is still open. Resolve the ticket in "
            "salesync once the fix is verified; the issue then closes by itself."
        )
    return f"Reopened by salesync: the failure is back ({seen}) and its ticket is open again."


def resolution_note(resolution: str | None, dropped: bool) -> str:
    """What salesync says as it closes the issue."""
    if resolution:
        return f"Resolved in salesync: {resolution}"
    if dropped:
        return "Closed in salesync without a fix (won't fix or duplicate)."
    return "Resolved in salesync."
