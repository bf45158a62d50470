"""How a ticket and its issue are brought back in step: pure rules, no I/O.

Each side's change is seen against the link: the ticket changed when its state is not the
one last pushed, the issue changed when its status is not the one last seen. Then:

- the ticket changed: the issue follows it (closed with the resolution as a comment,
  reopened with a note that the failure is back, moved to In Progress while fixing);
- the issue was closed by someone while the ticket is resolved (whether or not salesync
  has closed it yet): the ticket closes;
- only the issue changed: reopened while the ticket is resolved or closed, the ticket
  reopens; moved among open states, it is left as people put it;
- closed while salesync still sees the failure (the ticket is active), whoever closed it:
  the issue is reopened with a note saying so, since only resolving the ticket (after the
  fix is verified) may close it.
"""

from __future__ import annotations

from dataclasses import dataclass

from salesync.domain.tickets import TicketState
from salesync.monitor.trackers.content import resolution_note, still_failing
from salesync.monitor.trackers.tracker import ExternalIssue, IssueContent, IssueStatus

PUSHED_FOR = {
    IssueStatus.OPEN: TicketState.OPEN,
    IssueStatus.IN_PROGRESS: TicketState.FIXING,
    IssueStatus.DONE: TicketState.RESOLVED,
    IssueStatus.DROPPED: TicketState.CLOSED,
}
"""The ticket state an issue found in a status stands for, when salesync has never
pushed one (an issue made by an earlier pass whose link was lost)."""


def wanted(state: TicketState, resolution: str | None) -> IssueStatus:
    """The issue status that mirrors a ticket state."""
    if state is TicketState.FIXING:
        return IssueStatus.IN_PROGRESS
    if state is TicketState.RESOLVED:
        return IssueStatus.DONE
    if state is TicketState.CLOSED:
        return IssueStatus.DONE if resolution else IssueStatus.DROPPED
    return IssueStatus.OPEN


@dataclass(frozen=True, slots=True)
class Seen:
    """What the link remembers: the issue's status last seen, the ticket state last pushed."""

    external: IssueStatus
    pushed: TicketState


@dataclass(frozen=True, slots=True)
class Plan:
    ticket: TicketState
    """The state the ticket ends in."""
    pulled: str | None
    """``closed`` or ``reopened``: a change the issue brings to the ticket."""
    closed_outside: bool
    """Closed in the tracker while the ticket is active: it is reopened there."""
    target: IssueStatus | None
    """Where to move the issue; None leaves it where it is."""
    note: str | None
    """A comment to post on the issue before moving it."""


def settle(
    state: TicketState,
    *,
    assigned: bool,
    resolution: str | None,
    seen: Seen,
    issue: ExternalIssue,
    content: IssueContent,
) -> Plan:
    """What to do so the ticket and the issue agree again (see the module docstring)."""
    ticket_changed = state is not seen.pushed
    outside = not issue.changed_by_us
    closed_outside = outside and issue.status.closed and not seen.external.closed
    reopened_outside = outside and seen.external.closed and not issue.status.closed
    pulled = None
    if closed_outside and state is TicketState.RESOLVED:
        state, pulled = TicketState.CLOSED, "closed"
    elif reopened_outside and not ticket_changed and not state.active:
        state = TicketState.ASSIGNED if assigned else TicketState.OPEN
        pulled = "reopened"
    target = wanted(state, resolution)
    move: IssueStatus | None = None
    note = None
    if target.closed:
        move = None if issue.status.closed else target
        if seen.pushed.active:
            note = resolution_note(resolution, target is IssueStatus.DROPPED)
    elif issue.status.closed:
        move = target
        note = still_failing(content, issue.changed_by if closed_outside else None)
    elif ticket_changed and issue.status is not target:
        move = target
    return Plan(
        ticket=state,
        pulled=pulled,
        closed_outside=closed_outside and state.active,
        target=move,
        note=note,
    )
