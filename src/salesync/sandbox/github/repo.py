"""The state of one simulated GitHub repository: issues, comments, people, tokens, time.

The API (``service``/``app``) and the developer acting in GitHub's web interface
(``admin``) both change it through these methods, under ``lock``. Input is checked the way
the REST API checks it (https://docs.github.com/rest/issues/issues#create-an-issue and
#update-an-issue): a title is required and at most 256 characters, a body at most 65,536;
labels that do not exist yet are created; an assignee must be able to work in the
repository. ``state_reason`` (completed, not_planned, reopened) is applied only together
with a change of ``state`` (https://github.com/github/docs/issues/22914); closing without
one means completed, reopening always says reopened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from salesync.clock import system_clock
from salesync.sandbox.github import errors
from salesync.sandbox.github.errors import BODY_MAX, TITLE_MAX, problem

STATE_REASONS = ("completed", "not_planned", "reopened")


@dataclass(frozen=True, slots=True)
class Person:
    login: str
    id: int


@dataclass(frozen=True, slots=True)
class Token:
    """A personal access token; ``write`` says whether it may change issues."""

    value: str
    login: str
    write: bool = True


@dataclass(frozen=True, slots=True)
class IssueEvent:
    """A state change or rename in an issue's history (``GET .../issues/{n}/events``)."""

    event: str
    actor: str
    at: datetime
    state_reason: str | None = None


@dataclass(slots=True)
class Issue:
    number: int
    id: int
    title: str
    body: str | None
    author: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    state_reason: str | None = None
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    closed_at: datetime | None = None
    closed_by: str | None = None
    comments: int = 0
    deleted: bool = False
    events: list[IssueEvent] = field(default_factory=list)


@dataclass(slots=True)
class Comment:
    id: int
    issue: int
    body: str
    author: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One API call as the sandbox saw it."""

    at: datetime
    method: str
    operation: str
    login: str | None
    status: int


class GitHubRepo:
    """One repository's issues and the people and tokens that may reach them."""

    def __init__(
        self,
        owner: str = "salesync-dev",
        name: str = "support",
        *,
        clock: Callable[[], datetime] = system_clock,
        has_issues: bool = True,
    ) -> None:
        self.owner = owner
        self.name = name
        self.clock = clock
        self.has_issues = has_issues
        self.lock = threading.RLock()
        self.people: dict[str, Person] = {}
        self.collaborators: set[str] = set()
        self.tokens: dict[str, Token] = {}
        self.issues: dict[int, Issue] = {}
        self.comments: dict[int, Comment] = {}
        self.labels: dict[str, int] = {}
        self.requests: list[RequestRecord] = []
        self._next_number = 1
        self._next_comment = 1

    def now(self) -> datetime:
        return self.clock()

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    # -- people and tokens ---------------------------------------------------------

    def person(self, login: str) -> Person:
        """The account ``login``, made on first mention."""
        with self.lock:
            found = self.people.get(login)
            if found is None:
                found = self.people[login] = Person(login, 1000 + len(self.people))
            return found

    def add_token(self, token: str, login: str, *, write: bool = True) -> Token:
        """A token for ``login``, who becomes a collaborator when it may write."""
        with self.lock:
            self.person(login)
            if write:
                self.collaborators.add(login)
            issued = self.tokens[token] = Token(token, login, write)
            return issued

    def revoke(self, token: str) -> None:
        with self.lock:
            self.tokens.pop(token, None)

    def record(self, record: RequestRecord) -> None:
        with self.lock:
            self.requests.append(record)

    # -- issues ----------------------------------------------------------------------

    def issue(self, number: int) -> Issue:
        """A live issue; 404 when there is none, 410 when it was deleted."""
        found = self.issues.get(number)
        if found is None:
            raise errors.not_found()
        if found.deleted:
            raise errors.issue_deleted()
        return found

    def create_issue(self, login: str, payload: Mapping[str, Any]) -> Issue:
        problems: list[dict[str, Any]] = []
        title = _title(payload.get("title"), problems, required=True)
        body = _body(payload.get("body"), problems)
        labels = _labels(payload.get("labels", []), problems)
        assignees = self._assignees(payload, problems)
        if problems:
            raise errors.validation_failed(problems)
        with self.lock:
            now = self.now()
            number = self._next_number
            self._next_number += 1
            issue = Issue(
                number=number,
                id=2_000_000 + number,
                title=title or "",
                body=body,
                author=login,
                created_at=now,
                updated_at=now,
                labels=self._known_labels(labels or []),
                assignees=assignees or [],
            )
            self.issues[number] = issue
            return issue

    def update_issue(self, login: str, number: int, payload: Mapping[str, Any]) -> Issue:
        problems: list[dict[str, Any]] = []
        title = _title(payload.get("title"), problems, required="title" in payload)
        body = _body(payload.get("body"), problems)
        labels = _labels(payload.get("labels"), problems)
        assignees = self._assignees(payload, problems)
        state = payload.get("state")
        if state is not None and state not in ("open", "closed"):
            problems.append(problem("state", "invalid", value=state))
        reason = payload.get("state_reason")
        if reason is not None and reason not in STATE_REASONS:
            problems.append(problem("state_reason", "invalid", value=reason))
        with self.lock:
            issue = self.issue(number)
            if problems:
                raise errors.validation_failed(problems)
            now = self.now()
            if title is not None and title != issue.title:
                issue.title = title
                issue.events.append(IssueEvent("renamed", login, now))
            if "body" in payload:
                issue.body = body
            if labels is not None:
                issue.labels = self._known_labels(labels)
            if assignees is not None:
                issue.assignees = assignees
            if state == "closed" and issue.state == "open":
                self._close(
                    issue, login, reason if reason in ("completed", "not_planned") else None
                )
            elif state == "open" and issue.state == "closed":
                self._reopen(issue, login)
            issue.updated_at = now
            return issue

    def close(self, number: int, by: str, reason: str = "completed") -> Issue:
        """Someone closes the issue in GitHub."""
        with self.lock:
            issue = self.issue(number)
            self.person(by)
            if issue.state == "open":
                self._close(issue, by, reason)
                issue.updated_at = self.now()
            return issue

    def reopen(self, number: int, by: str) -> Issue:
        """Someone reopens the issue in GitHub."""
        with self.lock:
            issue = self.issue(number)
            self.person(by)
            if issue.state == "closed":
                self._reopen(issue, by)
                issue.updated_at = self.now()
            return issue

    def delete(self, number: int) -> None:
        """An admin deletes the issue: it answers 410 from now on."""
        with self.lock:
            self.issue(number).deleted = True

    def list_issues(
        self,
        *,
        state: str = "open",
        labels: list[str] | None = None,
        since: datetime | None = None,
        sort: str = "created",
        direction: str = "desc",
    ) -> list[Issue]:
        """The live issues matching every filter, ordered as asked."""
        with self.lock:
            found = [
                i
                for i in self.issues.values()
                if not i.deleted
                and state in ("all", i.state)
                and all(label in i.labels for label in labels or [])
                and (since is None or i.updated_at >= since)
            ]
        keys: dict[str, Callable[[Issue], Any]] = {
            "created": lambda i: (i.created_at, i.number),
            "updated": lambda i: (i.updated_at, i.number),
            "comments": lambda i: (i.comments, i.number),
        }
        return sorted(found, key=keys[sort], reverse=direction == "desc")

    # -- comments ----------------------------------------------------------------------

    def add_comment(self, login: str, number: int, body: Any) -> Comment:
        problems: list[dict[str, Any]] = []
        if not isinstance(body, str) or not body.strip():
            problems.append(problem("body", "missing_field", resource="IssueComment"))
        elif len(body) > BODY_MAX:
            problems.append(
                problem(
                    "body",
                    "custom",
                    resource="IssueComment",
                    message=f"body is too long (maximum is {BODY_MAX} characters)",
                )
            )
        with self.lock:
            issue = self.issue(number)
            if problems:
                raise errors.validation_failed(problems, errors.COMMENTS_DOCS)
            self.person(login)
            now = self.now()
            comment = Comment(
                id=9_000_000 + self._next_comment,
                issue=number,
                body=str(body),
                author=login,
                created_at=now,
                updated_at=now,
            )
            self._next_comment += 1
            self.comments[comment.id] = comment
            issue.comments += 1
            issue.updated_at = now
            return comment

    def issue_comments(self, number: int, since: datetime | None = None) -> list[Comment]:
        with self.lock:
            self.issue(number)
            return sorted(
                (
                    c
                    for c in self.comments.values()
                    if c.issue == number and (since is None or c.updated_at >= since)
                ),
                key=lambda c: c.id,
            )

    # -- helpers -------------------------------------------------------------------

    def _close(self, issue: Issue, by: str, reason: str | None) -> None:
        now = self.now()
        issue.state, issue.state_reason = "closed", reason or "completed"
        issue.closed_at, issue.closed_by = now, by
        issue.events.append(IssueEvent("closed", by, now, issue.state_reason))

    def _reopen(self, issue: Issue, by: str) -> None:
        issue.state, issue.state_reason = "open", "reopened"
        issue.closed_at, issue.closed_by = None, None
        issue.events.append(IssueEvent("reopened", by, self.now(), "reopened"))

    def _known_labels(self, names: list[str]) -> list[str]:
        for name in names:
            self.labels.setdefault(name, 7_000_000 + len(self.labels))
        return list(dict.fromkeys(names))

    def _assignees(
        self, payload: Mapping[str, Any], problems: list[dict[str, Any]]
    ) -> list[str] | None:
        raw = payload.get("assignees")
        if raw is None and payload.get("assignee") is not None:
            raw = [payload["assignee"]]
        if raw is None:
            return None
        if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
            problems.append(problem("assignees", "invalid"))
            return None
        for login in raw:
            if login not in self.collaborators:
                problems.append(problem("assignees", "invalid", value=login))
        return list(dict.fromkeys(raw))


def _title(value: Any, problems: list[dict[str, Any]], *, required: bool) -> str | None:
    if value is None:
        if required:
            problems.append(problem("title", "missing_field"))
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        problems.append(problem("title", "invalid"))
        return None
    text = str(value)
    if not text.strip():
        problems.append(problem("title", "missing_field"))
    elif len(text) > TITLE_MAX:
        problems.append(
            problem(
                "title", "custom", message=f"title is too long (maximum is {TITLE_MAX} characters)"
            )
        )
    return text


def _body(value: Any, problems: list[dict[str, Any]]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(problem("body", "invalid"))
        return None
    if len(value) > BODY_MAX:
        problems.append(
            problem(
                "body", "custom", message=f"body is too long (maximum is {BODY_MAX} characters)"
            )
        )
    return value


def _labels(value: Any, problems: list[dict[str, Any]]) -> list[str] | None:
    """Label names, given as strings or as objects with a ``name``."""
    if value is None:
        return None
    if not isinstance(value, list):
        problems.append(problem("labels", "invalid"))
        return None
    names: list[str] = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name.strip():
            problems.append(problem("labels", "invalid", value=item))
            continue
        names.append(name.strip())
    return names
