"""Tickets as issues in one Jira Cloud project, over the REST API v3.

Calls use basic auth with the account's e-mail and an API token
(https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/). Each issue
carries the salesync label and ``salesync-ticket-<id>``, which the enhanced JQL search
(``GET /rest/api/3/search/jql``) finds it by. States move through the project's workflow:
salesync asks which transitions the issue has and takes the one into a status of the
wanted category (new, indeterminate, done), preferring To Do, In Progress and Done by name,
since transition ids differ from workflow to workflow. Who last moved an issue comes from
its changelog.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from salesync.domain.errors import ValidationError
from salesync.monitor.trackers import adf, errors
from salesync.monitor.trackers.http import Api, client, parse_time
from salesync.monitor.trackers.settings import JiraSettings
from salesync.monitor.trackers.tracker import (
    MARKER,
    ExternalComment,
    ExternalIssue,
    IssueContent,
    IssueStatus,
)

API = "/rest/api/3"
PAGE = 100
FIND_CHUNK = 50
"""Tickets looked for in one JQL query."""
CATEGORIES = {
    IssueStatus.OPEN: ("new", "To Do"),
    IssueStatus.IN_PROGRESS: ("indeterminate", "In Progress"),
    IssueStatus.DONE: ("done", "Done"),
    IssueStatus.DROPPED: ("done", "Won't Do"),
}
DROPPED_RESOLUTIONS = frozenset(
    {"won't do", "won't fix", "duplicate", "declined", "cannot reproduce"}
)
READ_FIELDS = "summary,description,status,resolution,labels"


def ticket_label(ticket_id: int) -> str:
    return f"{MARKER}-{ticket_id}"


class JiraTracker:
    """Issues in the project ``settings`` name."""

    def __init__(
        self,
        settings: JiraSettings,
        *,
        name: str = "jira",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        http = client(
            settings.base_url,
            headers={"Accept": "application/json", "User-Agent": "salesync"},
            auth=httpx.BasicAuth(settings.email, settings.api_token.get_secret_value()),
            timeout=settings.timeout,
            transport=transport,
        )
        self.api = Api(
            http,
            errors.JIRA,
            lambda response, operation: errors.jira_error(
                response, operation, site=settings.base_url
            ),
        )
        self._account: str | None = None
        self._shown: dict[str, tuple[str, str]] = {}

    def close(self) -> None:
        self.api.close()

    # -- the Tracker protocol ------------------------------------------------------------

    def create(self, content: IssueContent) -> ExternalIssue:
        made = self.api.object(
            "POST",
            f"{API}/issue",
            "create_issue",
            body={
                "fields": {
                    "project": {"key": self.settings.project_key},
                    "summary": adf.summary(content),
                    "description": adf.description(content),
                    "issuetype": {"name": self.settings.issue_type},
                    "labels": [self.settings.label, ticket_label(content.ticket_id)],
                }
            },
        )
        key = made.get("key")
        if not isinstance(key, str) or not key:
            raise errors.malformed(
                httpx.Response(201, text=str(made)[:200]), errors.JIRA, "create_issue"
            )
        return self.read(key)

    def find(self, tickets: Mapping[int, datetime]) -> dict[int, ExternalIssue]:
        wanted = {ticket_label(t): t for t in tickets}
        found: dict[int, ExternalIssue] = {}
        names = sorted(wanted)
        for start in range(0, len(names), FIND_CHUNK):
            quoted = ", ".join(f'"{n}"' for n in names[start : start + FIND_CHUNK])
            jql = (
                f'project = "{self.settings.project_key}" AND labels in ({quoted}) '
                "ORDER BY created ASC"
            )
            for item in self._search(jql):
                labels = item.get("fields", {}).get("labels", [])
                for label in labels if isinstance(labels, list) else []:
                    ticket = wanted.get(label)
                    if ticket is not None and ticket not in found:
                        found[ticket] = self._issue(item)
        return found

    def read(self, key: str) -> ExternalIssue:
        found = self.api.object(
            "GET",
            f"{API}/issue/{key}",
            "get_issue",
            params={"fields": READ_FIELDS, "expand": "changelog"},
        )
        return self._issue(found)

    def refresh(self, key: str, content: IssueContent) -> bool:
        summary, description = adf.summary(content), adf.description(content)
        shown = self._shown.get(key)
        if shown is None:
            self.read(key)
            shown = self._shown[key]
        if shown == (summary, adf.text_of(description)):
            return False
        self.api.send(
            "PUT",
            f"{API}/issue/{key}",
            "edit_issue",
            body={"fields": {"summary": summary, "description": description}},
        )
        self._shown[key] = (summary, adf.text_of(description))
        return True

    def move(self, key: str, status: IssueStatus) -> ExternalIssue:
        listed = self.api.object("GET", f"{API}/issue/{key}/transitions", "get_transitions")
        transitions = [t for t in listed.get("transitions", []) if isinstance(t, dict)]
        category, preferred = CATEGORIES[status]
        into = [t for t in transitions if _category(t.get("to")) == category]
        if not into:
            raise ValidationError(
                f"Jira's workflow offers {key} no transition into a '{category}' status "
                f"(it offers: {', '.join(str(t.get('name')) for t in transitions) or 'none'})",
                user_message=f"salesync cannot move {key} to {preferred} in Jira: the "
                "workflow has no such transition from where the issue is. Add one, or move it "
                "by hand.",
                code="no_transition",
                provider=errors.JIRA,
                operation="transition_issue",
            )
        chosen = next(
            (t for t in into if str(t.get("to", {}).get("name", "")).lower() == preferred.lower()),
            into[0],
        )
        self.api.send(
            "POST",
            f"{API}/issue/{key}/transitions",
            "transition_issue",
            body={"transition": {"id": str(chosen.get("id"))}},
        )
        target = chosen.get("to", {})
        return ExternalIssue(
            key=key,
            url=self._url(key),
            status=_status(target, None),
            state=str(target.get("name", preferred)),
            changed_by=None,
        )

    def comment(self, key: str, text: str) -> ExternalComment:
        made = self.api.object(
            "POST", f"{API}/issue/{key}/comment", "add_comment", body={"body": adf.paragraphs(text)}
        )
        return self._comment(made, self.account())

    def comments(self, key: str) -> list[ExternalComment]:
        me = self.account()
        found: list[ExternalComment] = []
        start = 0
        while True:
            page = self.api.object(
                "GET",
                f"{API}/issue/{key}/comment",
                "get_comments",
                params={"startAt": start, "maxResults": PAGE, "orderBy": "created"},
            )
            items = [c for c in page.get("comments", []) if isinstance(c, dict)]
            found += [self._comment(c, me) for c in items]
            start += len(items)
            if not items or start >= int(page.get("total", 0)):
                return found

    # -- helpers -----------------------------------------------------------------------

    def account(self) -> str:
        """The account id of the API token's owner: comments by it are salesync's own."""
        if self._account is None:
            self._account = str(self.api.object("GET", f"{API}/myself", "myself").get("accountId"))
        return self._account

    def _url(self, key: str) -> str:
        return f"{self.settings.base_url}/browse/{key}"

    def _search(self, jql: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, str | int] = {
                "jql": jql,
                "fields": READ_FIELDS,
                "maxResults": PAGE,
            }
            if token:
                params["nextPageToken"] = token
            page = self.api.object("GET", f"{API}/search/jql", "search", params=params)
            items += [i for i in page.get("issues", []) if isinstance(i, dict)]
            token = page.get("nextPageToken")
            if not token or page.get("isLast", True):
                return items

    def _issue(self, data: dict[str, Any]) -> ExternalIssue:
        key = data.get("key")
        fields = data.get("fields")
        if not isinstance(key, str) or not isinstance(fields, dict):
            raise errors.malformed(
                httpx.Response(200, text=str(data)[:200]), errors.JIRA, "get_issue"
            )
        self._shown[key] = (
            str(fields.get("summary") or ""),
            adf.text_of(fields.get("description")),
        )
        status = fields.get("status") if isinstance(fields.get("status"), dict) else {}
        mover = _mover(data.get("changelog"))
        return ExternalIssue(
            key=key,
            url=self._url(key),
            status=_status(status, fields.get("resolution")),
            state=str((status or {}).get("name", "")),
            changed_by=mover[0] if mover else None,
            changed_by_us=mover is not None and mover[1] == self.account(),
        )

    @staticmethod
    def _comment(data: dict[str, Any], me: str) -> ExternalComment:
        author = data.get("author") if isinstance(data.get("author"), dict) else {}
        return ExternalComment(
            id=str(data.get("id")),
            author=str((author or {}).get("displayName") or "someone"),
            text=adf.text_of(data.get("body")),
            created_at=parse_time(data.get("created")),
            own=(author or {}).get("accountId") == me,
        )


def _category(status: Any) -> str | None:
    category = status.get("statusCategory") if isinstance(status, dict) else None
    return str(category.get("key")) if isinstance(category, dict) else None


def _status(status: Any, resolution: Any) -> IssueStatus:
    category = _category(status)
    if category == "done":
        name = resolution.get("name") if isinstance(resolution, dict) else None
        dropped = str(name or "").lower() in DROPPED_RESOLUTIONS
        return IssueStatus.DROPPED if dropped else IssueStatus.DONE
    return IssueStatus.IN_PROGRESS if category == "indeterminate" else IssueStatus.OPEN


def _mover(changelog: Any) -> tuple[str, str] | None:
    """Who made the latest status change (name, account id), by the changelog."""
    histories = changelog.get("histories", []) if isinstance(changelog, dict) else []
    moves = [
        h
        for h in histories
        if isinstance(h, dict)
        and any(isinstance(i, dict) and i.get("field") == "status" for i in h.get("items", []))
    ]
    if not moves:
        return None
    latest = max(moves, key=lambda h: (parse_time(h.get("created")), _number(h.get("id"))))
    author = latest.get("author")
    if not isinstance(author, dict):
        return None
    return str(author.get("displayName") or "someone"), str(author.get("accountId"))


def _number(value: Any) -> int:
    return int(value) if str(value).isdigit() else 0
