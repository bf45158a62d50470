"""What salesync needs from an issue tracker, and what it tells one about a ticket."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

MARKER = "salesync-ticket"
"""Marks a ticket's issue (``salesync-ticket:<id>`` in a GitHub body, the label
``salesync-ticket-<id>`` in Jira) so it can be found again without its link."""


class IssueStatus(enum.StrEnum):
    """An issue's state in terms every tracker can express."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"
    """Closed without a fix (GitHub's not_planned)."""

    @property
    def closed(self) -> bool:
        return self in (IssueStatus.DONE, IssueStatus.DROPPED)


@dataclass(frozen=True, slots=True)
class LatestFailure:
    """The ticket's most recent incident, as far as a tracker may see it."""

    message: str
    """The internal message, redacted when it was recorded."""
    code: str | None
    http_status: int | None
    failed_at: datetime


@dataclass(frozen=True, slots=True)
class IssueContent:
    """Everything a tracker is told about a ticket: redacted fields, never payloads."""

    ticket_id: int
    tenant_id: str
    title: str
    kind: str
    code: str | None
    provider: str | None
    operation: str | None
    location_id: str | None
    user_message: str
    help_url: str | None
    occurrences: int
    first_seen: datetime
    last_seen: datetime
    assignee: str | None
    team: str | None
    latest: LatestFailure | None = None


@dataclass(frozen=True, slots=True)
class ExternalIssue:
    """A ticket's issue as the tracker shows it now."""

    key: str
    """Unique within the tracker: ``owner/repo#12`` on GitHub, ``SUP-12`` in Jira."""
    url: str
    """Where a person opens it."""
    status: IssueStatus
    state: str
    """The tracker's own word for it (``closed``, ``In Progress``)."""
    changed_by: str | None = None
    """Who last opened or closed it, when the tracker says."""
    changed_by_us: bool = False
    """That last change was salesync's own (its account made it)."""


@dataclass(frozen=True, slots=True)
class ExternalComment:
    id: str
    author: str
    """The name a person knows the author by."""
    text: str
    created_at: datetime
    own: bool
    """Written by salesync's own account."""
    url: str | None = None


class Tracker(Protocol):
    """One issue tracker (a GitHub repository, a Jira project) salesync keeps tickets in.

    Every method raises a ``SyncError`` for what the tracker refused or never answered.
    """

    name: str
    """The tracker's name in ticket links (``github``, ``jira``)."""

    def create(self, content: IssueContent) -> ExternalIssue:
        """Open an issue for the ticket, marked so ``find`` can find it again."""
        ...

    def find(self, tickets: Mapping[int, datetime]) -> dict[int, ExternalIssue]:
        """The issues already made for these tickets (ids to when each was first seen)."""
        ...

    def read(self, key: str) -> ExternalIssue: ...

    def refresh(self, key: str, content: IssueContent) -> bool:
        """Rewrite the issue's title and text where they differ; whether anything changed."""
        ...

    def move(self, key: str, status: IssueStatus) -> ExternalIssue: ...

    def comment(self, key: str, text: str) -> ExternalComment: ...

    def comments(self, key: str) -> list[ExternalComment]:
        """Every comment on the issue, oldest first."""
        ...

    def close(self) -> None:
        """Release the HTTP client."""
        ...
