"""Issues, statuses, comments and accounts as Jira's REST API v3 renders them.

Shapes follow https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/
(``GET /rest/api/3/issue/{key}``, with ``fields`` to choose fields and ``expand=changelog``
for the status history) and .../api-group-issue-comments/. Timestamps are Jira's:
``2026-11-23T14:00:00.000+0000``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from salesync.sandbox.jira.site import Account, JiraComment, JiraIssue, JiraSite, Status, Transition

CATEGORIES = {
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}
ALL_FIELDS = (
    "summary",
    "description",
    "status",
    "issuetype",
    "project",
    "labels",
    "created",
    "updated",
    "resolution",
    "resolutiondate",
    "reporter",
    "creator",
    "assignee",
    "priority",
)


def stamp(at: datetime | None) -> str | None:
    if at is None:
        return None
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def account_json(base: str, account: Account) -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/3/user?accountId={account.account_id}",
        "accountId": account.account_id,
        "displayName": account.display_name,
        "active": True,
        "timeZone": "Etc/UTC",
        "accountType": "atlassian",
    }


def status_json(base: str, status: Status) -> dict[str, Any]:
    category_id, category_name, colour = CATEGORIES[status.category]
    return {
        "self": f"{base}/rest/api/3/status/{status.id}",
        "description": "",
        "iconUrl": f"{base}/images/icons/statuses/generic.png",
        "name": status.name,
        "untranslatedName": status.name,
        "id": status.id,
        "statusCategory": {
            "self": f"{base}/rest/api/3/statuscategory/{category_id}",
            "id": category_id,
            "key": status.category,
            "colorName": colour,
            "name": category_name,
        },
    }


def transition_json(base: str, transition: Transition) -> dict[str, Any]:
    return {
        "id": transition.id,
        "name": transition.name,
        "to": status_json(base, transition.to),
        "hasScreen": False,
        "isGlobal": True,
        "isInitial": False,
        "isAvailable": True,
        "isConditional": False,
        "isLooped": False,
    }


def _field(base: str, site: JiraSite, issue: JiraIssue, name: str) -> Any:
    reporter = account_json(base, site.accounts[issue.reporter])
    project = issue.project
    values: dict[str, Any] = {
        "summary": issue.summary,
        "description": issue.description,
        "status": status_json(base, issue.status),
        "issuetype": {
            "self": f"{base}/rest/api/3/issuetype/{issue.issue_type[0]}",
            "id": issue.issue_type[0],
            "name": issue.issue_type[1],
            "subtask": False,
        },
        "project": {
            "self": f"{base}/rest/api/3/project/{project.id}",
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
        },
        "labels": list(issue.labels),
        "created": stamp(issue.created),
        "updated": stamp(issue.updated),
        "resolution": (
            {"self": f"{base}/rest/api/3/resolution/10000", "id": "10000", "name": "Done"}
            if issue.resolved
            else None
        ),
        "resolutiondate": stamp(issue.resolution_date),
        "reporter": reporter,
        "creator": reporter,
        "assignee": None,
        "priority": {"self": f"{base}/rest/api/3/priority/3", "id": "3", "name": "Medium"},
    }
    return values[name]


def fields_wanted(raw: str | list[str] | None, default: tuple[str, ...] = ALL_FIELDS) -> list[str]:
    """The fields a ``fields`` parameter asks for (``*all``, ``*navigable`` or a list)."""
    names = raw.split(",") if isinstance(raw, str) else list(raw or [])
    names = [n.strip() for n in names if n.strip()]
    if not names or any(n in ("*all", "*navigable") for n in names):
        return list(default)
    return [n for n in names if n in ALL_FIELDS]


def issue_json(
    base: str,
    site: JiraSite,
    issue: JiraIssue,
    fields: list[str],
    *,
    changelog: bool = False,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,"
        "versionedRepresentations",
        "id": issue.id,
        "self": f"{base}/rest/api/3/issue/{issue.id}",
        "key": issue.key,
        "fields": {name: _field(base, site, issue, name) for name in fields},
    }
    if changelog:
        histories = [
            {
                "id": h.id,
                "author": account_json(base, site.accounts[h.author]),
                "created": stamp(h.at),
                "items": list(h.items),
            }
            for h in reversed(issue.histories)
        ]
        found["changelog"] = {
            "startAt": 0,
            "maxResults": len(histories),
            "total": len(histories),
            "histories": histories,
        }
    return found


def comment_json(base: str, site: JiraSite, comment: JiraComment) -> dict[str, Any]:
    author = account_json(base, site.accounts[comment.author])
    return {
        "self": f"{base}/rest/api/3/issue/{comment.issue_id}/comment/{comment.id}",
        "id": comment.id,
        "author": author,
        "body": comment.body,
        "updateAuthor": author,
        "created": stamp(comment.created),
        "updated": stamp(comment.updated),
        "jsdPublic": True,
    }
