"""The state of one simulated Jira Cloud site: accounts, projects, issues, workflow, time.

The workflow is Jira's simplified one: To Do, In Progress and Done, one status per
category (new, indeterminate, done), and a global transition into each status from every
other (ids 11, 21, 31). Entering Done sets the resolution "Done"; leaving it clears it.
Each status change is kept in the issue's changelog with who made it. Issue input is
checked as ``POST /rest/api/3/issue`` checks it, every field problem reported at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from salesync.clock import system_clock
from salesync.sandbox.jira import adf, errors, fields, jql
from salesync.sandbox.jira.errors import NOT_ADF

EDITABLE = frozenset({"summary", "description", "labels"})
CREATABLE = EDITABLE | {"project", "issuetype"}


@dataclass(frozen=True, slots=True)
class Status:
    id: str
    name: str
    category: str
    """new, indeterminate or done."""


@dataclass(frozen=True, slots=True)
class Transition:
    id: str
    name: str
    to: Status


TO_DO = Status("10000", "To Do", "new")
IN_PROGRESS = Status("10001", "In Progress", "indeterminate")
DONE = Status("10002", "Done", "done")
STATUSES = (TO_DO, IN_PROGRESS, DONE)
TRANSITIONS = (
    Transition("11", "To Do", TO_DO),
    Transition("21", "In Progress", IN_PROGRESS),
    Transition("31", "Done", DONE),
)


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    display_name: str
    email: str | None = None
    api_token: str | None = None
    write: bool = True


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    key: str
    name: str
    issue_types: tuple[tuple[str, str], ...] = (("10001", "Task"), ("10004", "Bug"))


@dataclass(frozen=True, slots=True)
class History:
    id: str
    author: str
    """An account id."""
    at: datetime
    items: tuple[dict[str, str], ...]


@dataclass(slots=True)
class JiraComment:
    id: str
    issue_id: str
    body: dict[str, Any]
    author: str
    created: datetime
    updated: datetime


@dataclass(slots=True)
class JiraIssue:
    id: str
    key: str
    project: Project
    issue_type: tuple[str, str]
    summary: str
    description: dict[str, Any] | None
    labels: list[str]
    status: Status
    reporter: str
    created: datetime
    updated: datetime
    resolution_date: datetime | None = None
    histories: list[History] = field(default_factory=list)
    deleted: bool = False

    @property
    def resolved(self) -> bool:
        return self.status.category == "done"


class JiraSite:
    """One site (``https://<site>.atlassian.net``) with its projects and accounts."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = system_clock,
        projects: tuple[tuple[str, str], ...] = (("SUP", "Support"),),
    ) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.projects = {
            key: Project(str(10000 + n), key, name) for n, (key, name) in enumerate(projects)
        }
        self.accounts: dict[str, Account] = {}
        self.issues: dict[str, JiraIssue] = {}
        self.comments: dict[str, JiraComment] = {}
        self.requests: list[dict[str, Any]] = []
        self._counters: dict[str, int] = {}
        self._next_id = 10000
        self._next_comment = 10000
        self._next_history = 10000

    def now(self) -> datetime:
        return self.clock()

    # -- accounts --------------------------------------------------------------------

    def add_account(
        self,
        display_name: str,
        *,
        email: str | None = None,
        api_token: str | None = None,
        write: bool = True,
    ) -> Account:
        with self.lock:
            account_id = f"5b10ac8d82e05b22cc7d{len(self.accounts):04d}"
            account = Account(account_id, display_name, email, api_token, write)
            self.accounts[account_id] = account
            return account

    def person(self, display_name: str) -> Account:
        """The account shown as ``display_name``, made on first mention (no API token)."""
        with self.lock:
            for account in self.accounts.values():
                if account.display_name == display_name:
                    return account
            return self.add_account(display_name)

    def authenticate(self, email: str, api_token: str) -> Account | None:
        with self.lock:
            for account in self.accounts.values():
                if account.email == email and account.api_token == api_token:
                    return account
            return None

    # -- issues ----------------------------------------------------------------------

    def issue(self, key_or_id: str) -> JiraIssue:
        with self.lock:
            found = self.issues.get(key_or_id.upper()) or next(
                (i for i in self.issues.values() if i.id == key_or_id), None
            )
            if found is None or found.deleted:
                raise errors.issue_not_found()
            return found

    def create_issue(self, account: Account, payload: Any) -> JiraIssue:
        given = fields.given(payload)
        problems = fields.unknown(given, CREATABLE)
        project = self._project(given.get("project"), problems)
        issue_type = fields.issue_type(project, given.get("issuetype"), problems)
        summary = fields.summary(given.get("summary"), problems, required=True)
        description = fields.description(given.get("description"), problems)
        labels = fields.labels(given.get("labels", []), problems)
        if problems or project is None or issue_type is None or summary is None:
            raise errors.invalid_fields(problems)
        if not account.write:
            raise errors.forbidden("You do not have permission to create issues in this project.")
        with self.lock:
            number = self._counters[project.key] = self._counters.get(project.key, 0) + 1
            self._next_id += 1
            now = self.now()
            issue = JiraIssue(
                id=str(self._next_id),
                key=f"{project.key}-{number}",
                project=project,
                issue_type=issue_type,
                summary=summary,
                description=description,
                labels=labels or [],
                status=TO_DO,
                reporter=account.account_id,
                created=now,
                updated=now,
            )
            self.issues[issue.key] = issue
            return issue

    def edit_issue(self, account: Account, key: str, payload: Any) -> JiraIssue:
        with self.lock:
            issue = self.issue(key)
            given = fields.given(payload)
            problems = fields.unknown(given, EDITABLE)
            summary = fields.summary(given.get("summary"), problems, required="summary" in given)
            description = fields.description(given.get("description"), problems)
            labels = fields.labels(given.get("labels"), problems)
            if problems:
                raise errors.invalid_fields(problems)
            if not account.write:
                raise errors.forbidden("You do not have permission to edit issues in this project.")
            if summary is not None:
                issue.summary = summary
            if "description" in given:
                issue.description = description
            if labels is not None:
                issue.labels = labels
            issue.updated = self.now()
            return issue

    def transitions(self, issue: JiraIssue) -> list[Transition]:
        """The transitions open from the issue's status: into every other status."""
        return [t for t in TRANSITIONS if t.to != issue.status]

    def transition(self, account: Account, key: str, payload: Any) -> JiraIssue:
        with self.lock:
            issue = self.issue(key)
            wanted = payload.get("transition") if isinstance(payload, dict) else None
            transition_id = str(wanted.get("id", "")) if isinstance(wanted, dict) else ""
            if not transition_id:
                raise errors.bad_request("Missing 'transition' identifier")
            found = next((t for t in self.transitions(issue) if t.id == transition_id), None)
            if found is None:
                raise errors.bad_request(
                    f"Transition id '{transition_id}' is not valid for this issue."
                )
            if not account.write:
                raise errors.forbidden("You do not have permission to transition this issue.")
            comments = fields.transition_comments(payload)
            self._move(issue, found.to, account.account_id)
            for body in comments:
                self._comment(issue, account.account_id, body)
            return issue

    def move(self, key: str, status_name: str, by: str) -> JiraIssue:
        """Someone moves the issue on the board (or through its transition buttons)."""
        with self.lock:
            issue = self.issue(key)
            status = next((s for s in STATUSES if s.name.lower() == status_name.lower()), None)
            if status is None:
                raise errors.bad_request(f"No status named '{status_name}'.")
            if status != issue.status:
                self._move(issue, status, self.person(by).account_id)
            return issue

    def delete(self, key: str) -> None:
        with self.lock:
            self.issue(key).deleted = True

    def search(self, query: str) -> list[JiraIssue]:
        """The live issues matching the JQL, in its order; ``JqlError`` when Jira refuses it."""
        parsed = jql.parse(query)
        with self.lock:
            for clause in parsed.clauses:
                if clause.field == "project":
                    for value in clause.values:
                        if self._project_named(value) is None:
                            raise jql.JqlError(
                                f"The value '{value}' does not exist for the field 'project'."
                            )
            found = [
                i
                for i in self.issues.values()
                if not i.deleted and all(_matches(i, c) for c in parsed.clauses)
            ]
        orders = {
            "created": lambda i: (i.created, int(i.id)),
            "updated": lambda i: (i.updated, int(i.id)),
            "key": lambda i: (i.project.key, int(i.key.rsplit("-", 1)[1])),
        }
        return sorted(found, key=orders[parsed.order_by], reverse=parsed.descending)

    # -- comments ----------------------------------------------------------------------

    def add_comment(self, account: Account, key: str, body: Any) -> JiraComment:
        with self.lock:
            issue = self.issue(key)
            if body is None or body in ("", {}):
                raise errors.invalid_fields({"comment": "Comment body can not be empty!"})
            if not adf.is_document(body):
                raise errors.invalid_fields({"comment": NOT_ADF})
            if not account.write:
                raise errors.forbidden("You do not have permission to comment on this issue.")
            return self._comment(issue, account.account_id, body)

    def issue_comments(self, key: str) -> list[JiraComment]:
        with self.lock:
            issue = self.issue(key)
            return sorted(
                (c for c in self.comments.values() if c.issue_id == issue.id),
                key=lambda c: (c.created, int(c.id)),
            )

    # -- helpers -------------------------------------------------------------------

    def _comment(self, issue: JiraIssue, author: str, body: dict[str, Any]) -> JiraComment:
        self._next_comment += 1
        now = self.now()
        comment = JiraComment(str(self._next_comment), issue.id, body, author, now, now)
        self.comments[comment.id] = comment
        issue.updated = now
        return comment

    def _move(self, issue: JiraIssue, status: Status, author: str) -> None:
        now = self.now()
        self._next_history += 1
        items: list[dict[str, str]] = [
            {
                "field": "status",
                "fieldtype": "jira",
                "fieldId": "status",
                "from": issue.status.id,
                "fromString": issue.status.name,
                "to": status.id,
                "toString": status.name,
            }
        ]
        if (status.category == "done") != issue.resolved:
            items.append(
                {
                    "field": "resolution",
                    "fieldtype": "jira",
                    "fieldId": "resolution",
                    "fromString": "" if status.category == "done" else "Done",
                    "toString": "Done" if status.category == "done" else "",
                }
            )
        issue.histories.append(History(str(self._next_history), author, now, tuple(items)))
        issue.status = status
        issue.resolution_date = now if status.category == "done" else None
        issue.updated = now

    def _project_named(self, value: str) -> Project | None:
        for project in self.projects.values():
            if value.upper() == project.key or value in (project.id, project.name):
                return project
        return None

    def _project(self, value: Any, problems: dict[str, str]) -> Project | None:
        found = None
        if isinstance(value, dict):
            found = self._project_named(str(value.get("key") or value.get("id") or ""))
        if found is None:
            problems["project"] = "valid project is required"
        return found


def _matches(issue: JiraIssue, clause: jql.Clause) -> bool:
    values = {v.lower() for v in clause.values}
    if clause.field == "labels":
        hit = any(label in clause.values for label in issue.labels)
    elif clause.field == "project":
        hit = bool(
            {issue.project.key.lower(), issue.project.id, issue.project.name.lower()} & values
        )
    elif clause.field == "key":
        hit = issue.key.lower() in values or issue.id in values
    elif clause.field == "status":
        hit = issue.status.name.lower() in values or issue.status.id in values
    elif clause.field == "statuscategory":
        hit = issue.status.category in values or _category_name(issue.status) in values
    else:
        hit = issue.issue_type[1].lower() in values or issue.issue_type[0] in values
    return hit != clause.negated


def _category_name(status: Status) -> str:
    return {"new": "to do", "indeterminate": "in progress", "done": "done"}[status.category]
