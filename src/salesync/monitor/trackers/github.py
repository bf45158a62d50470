"""Tickets as issues in one GitHub repository, over the REST API v3.

Requests carry ``X-GitHub-Api-Version: 2022-11-28`` and the token as a bearer credential
(https://docs.github.com/rest/authentication/authenticating-to-the-rest-api). An issue is
found again by the marker at the end of its body, among the issues carrying the salesync
label listed by ``GET /repos/{owner}/{repo}/issues``; that list is read rather than the
search API because search is eventually consistent and may not show an issue made a
moment ago. Ticket states map to ``open`` and to ``closed`` with a ``state_reason`` of
``completed`` or ``not_planned`` (GitHub has no in-progress state).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from salesync.clock import system_clock
from salesync.monitor.trackers import errors, markdown
from salesync.monitor.trackers.http import Api, client, parse_time
from salesync.monitor.trackers.settings import GitHubSettings
from salesync.monitor.trackers.tracker import (
    ExternalComment,
    ExternalIssue,
    IssueContent,
    IssueStatus,
)

API_VERSION = "2022-11-28"
PER_PAGE = 100
FIND_MARGIN = timedelta(days=1)
"""How far before a ticket was first seen its issue may have been touched: covers clocks
that disagree, since ``since`` compares GitHub's clock with salesync's."""


class GitHubTracker:
    """Issues in the repository ``settings`` name."""

    def __init__(
        self,
        settings: GitHubSettings,
        *,
        name: str = "github",
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = system_clock,
    ) -> None:
        self.name = name
        self.settings = settings
        self.repository = f"{settings.owner}/{settings.repo}"
        http = client(
            settings.api_url,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "salesync",
                "Authorization": f"Bearer {settings.token.get_secret_value()}",
            },
            timeout=settings.timeout,
            transport=transport,
        )
        self.api = Api(
            http,
            errors.GITHUB,
            lambda response, operation: errors.github_error(
                response, operation, repository=self.repository, now=clock()
            ),
        )
        self._login: str | None = None
        self._shown: dict[str, tuple[str, str]] = {}
        self._seen: dict[str, ExternalIssue] = {}

    def close(self) -> None:
        self.api.close()

    # -- the Tracker protocol ------------------------------------------------------------

    def create(self, content: IssueContent) -> ExternalIssue:
        found = self.api.object(
            "POST",
            self._path(),
            "create_issue",
            body={
                "title": markdown.title(content),
                "body": markdown.body(content),
                "labels": [self.settings.label],
            },
        )
        return self._issue(found)

    def find(self, tickets: Mapping[int, datetime]) -> dict[int, ExternalIssue]:
        if not tickets:
            return {}
        since = min(tickets.values()) - FIND_MARGIN
        params: dict[str, str | int] = {
            "state": "all",
            "labels": self.settings.label,
            "since": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sort": "created",
            "direction": "asc",
            "per_page": PER_PAGE,
        }
        found: dict[int, ExternalIssue] = {}
        for item in self._pages(self._path(), "list_issues", params):
            ticket = markdown.marked(item.get("body"))
            if "pull_request" in item or ticket is None:
                continue
            if ticket in tickets and ticket not in found:
                found[ticket] = self._issue(item)
        return found

    def read(self, key: str) -> ExternalIssue:
        return self._issue(self.api.object("GET", self._path(key), "get_issue"))

    def refresh(self, key: str, content: IssueContent) -> bool:
        title, body = markdown.title(content), markdown.body(content)
        shown = self._shown.get(key)
        if shown is None:
            self.read(key)
            shown = self._shown[key]
        if shown == (title, body):
            return False
        self._issue(
            self.api.object(
                "PATCH", self._path(key), "update_issue", body={"title": title, "body": body}
            )
        )
        return True

    def move(self, key: str, status: IssueStatus) -> ExternalIssue:
        current = self._seen.get(key)
        if current is not None and current.status.closed == status.closed:
            return current  # open is GitHub's only state short of closed
        change: dict[str, Any] = {"state": "closed" if status.closed else "open"}
        if status.closed:
            change["state_reason"] = "not_planned" if status is IssueStatus.DROPPED else "completed"
        return self._issue(self.api.object("PATCH", self._path(key), "update_issue", body=change))

    def comment(self, key: str, text: str) -> ExternalComment:
        found = self.api.object(
            "POST", self._path(key, "/comments"), "create_comment", body={"body": text}
        )
        return self._comment(found, self.login())

    def comments(self, key: str) -> list[ExternalComment]:
        me = self.login()
        params: dict[str, str | int] = {"per_page": PER_PAGE}
        return [
            self._comment(item, me)
            for item in self._pages(self._path(key, "/comments"), "list_comments", params)
        ]

    # -- helpers -----------------------------------------------------------------------

    def login(self) -> str:
        """The login of the token's account: comments by it are salesync's own."""
        if self._login is None:
            self._login = str(self.api.object("GET", "/user", "get_user").get("login", ""))
        return self._login

    def _path(self, key: str | None = None, suffix: str = "") -> str:
        issues = f"/repos/{self.settings.owner}/{self.settings.repo}/issues"
        return issues if key is None else f"{issues}/{self._number(key)}{suffix}"

    def _number(self, key: str) -> int:
        return int(key.rpartition("#")[2])

    def _pages(
        self, url: str, operation: str, params: dict[str, str | int]
    ) -> list[dict[str, Any]]:
        """Every item of a listing, following the ``link`` header's next pages."""
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        query: dict[str, str | int] | None = params
        while next_url:
            response = self.api.send("GET", next_url, operation, params=query)
            try:
                page = response.json()
            except ValueError:
                raise errors.malformed(response, errors.GITHUB, operation) from None
            if not isinstance(page, list):
                raise errors.malformed(response, errors.GITHUB, operation)
            items += [item for item in page if isinstance(item, dict)]
            next_url = response.links.get("next", {}).get("url")
            query = None
        return items

    def _issue(self, data: dict[str, Any]) -> ExternalIssue:
        try:
            number = int(data["number"])
            state = str(data["state"])
        except (KeyError, TypeError, ValueError):
            raise errors.malformed(
                httpx.Response(200, text=str(data)[:200]), errors.GITHUB, "read_issue"
            ) from None
        key = f"{self.repository}#{number}"
        self._shown[key] = (str(data.get("title") or ""), str(data.get("body") or ""))
        closer = data.get("closed_by")
        if state == "closed":
            status = (
                IssueStatus.DROPPED
                if data.get("state_reason") == "not_planned"
                else IssueStatus.DONE
            )
        else:
            status = IssueStatus.OPEN
        closed_by = closer.get("login") if isinstance(closer, dict) and state == "closed" else None
        issue = ExternalIssue(
            key=key,
            url=str(data.get("html_url") or ""),
            status=status,
            state=state,
            changed_by=str(closed_by) if closed_by else None,
            changed_by_us=bool(closed_by) and closed_by == self.login(),
        )
        self._seen[key] = issue
        return issue

    @staticmethod
    def _comment(data: dict[str, Any], me: str) -> ExternalComment:
        user = data.get("user") if isinstance(data.get("user"), dict) else {}
        login = str((user or {}).get("login") or "")
        return ExternalComment(
            id=str(data.get("id")),
            author=login or "someone",
            text=str(data.get("body") or ""),
            created_at=parse_time(data.get("created_at")),
            own=login == me,
            url=data.get("html_url"),
        )
