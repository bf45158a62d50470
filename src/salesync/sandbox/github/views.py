"""Issues, comments and people as the REST API renders them (``application/vnd.github+json``).

The field names and nesting follow https://docs.github.com/rest/issues/issues#get-an-issue
and https://docs.github.com/rest/issues/comments: ``closed_by`` appears on a single issue
(not in lists), ``state_reason`` is null until the issue is first closed, and every
object carries both its API ``url`` and the ``html_url`` a person opens.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from salesync.sandbox.github.repo import Comment, GitHubRepo, Issue, IssueEvent, Person


def stamp(at: datetime | None) -> str | None:
    """GitHub's timestamps: ISO 8601 in UTC, to the second, with a ``Z``."""
    return None if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def person_json(base: str, person: Person) -> dict[str, Any]:
    return {
        "login": person.login,
        "id": person.id,
        "node_id": f"U_kgDO{person.id}",
        "url": f"{base}/users/{person.login}",
        "html_url": f"{base}/{person.login}",
        "type": "User",
        "site_admin": False,
    }


def _association(repo: GitHubRepo, login: str) -> str:
    if login == repo.owner:
        return "OWNER"
    return "COLLABORATOR" if login in repo.collaborators else "NONE"


def issue_json(base: str, repo: GitHubRepo, issue: Issue, *, single: bool = True) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}"
    people = [person_json(base, repo.person(login)) for login in issue.assignees]
    found: dict[str, Any] = {
        "id": issue.id,
        "node_id": f"I_kwDO{issue.id}",
        "url": f"{api}/issues/{issue.number}",
        "repository_url": api,
        "labels_url": f"{api}/issues/{issue.number}/labels{{/name}}",
        "comments_url": f"{api}/issues/{issue.number}/comments",
        "events_url": f"{api}/issues/{issue.number}/events",
        "html_url": f"{base}/{repo.full_name}/issues/{issue.number}",
        "number": issue.number,
        "state": issue.state,
        "state_reason": issue.state_reason,
        "title": issue.title,
        "body": issue.body,
        "user": person_json(base, repo.person(issue.author)),
        "labels": [
            {
                "id": repo.labels[name],
                "node_id": f"LA_kwDO{repo.labels[name]}",
                "url": f"{api}/labels/{name}",
                "name": name,
                "color": "ededed",
                "default": False,
                "description": None,
            }
            for name in issue.labels
        ],
        "assignee": people[0] if people else None,
        "assignees": people,
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": issue.comments,
        "created_at": stamp(issue.created_at),
        "updated_at": stamp(issue.updated_at),
        "closed_at": stamp(issue.closed_at),
        "author_association": _association(repo, issue.author),
    }
    if single:
        found["closed_by"] = (
            person_json(base, repo.person(issue.closed_by)) if issue.closed_by else None
        )
    return found


def comment_json(base: str, repo: GitHubRepo, comment: Comment) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}"
    return {
        "id": comment.id,
        "node_id": f"IC_kwDO{comment.id}",
        "url": f"{api}/issues/comments/{comment.id}",
        "html_url": f"{base}/{repo.full_name}/issues/{comment.issue}#issuecomment-{comment.id}",
        "issue_url": f"{api}/issues/{comment.issue}",
        "body": comment.body,
        "user": person_json(base, repo.person(comment.author)),
        "created_at": stamp(comment.created_at),
        "updated_at": stamp(comment.updated_at),
        "author_association": _association(repo, comment.author),
    }


def event_json(base: str, repo: GitHubRepo, event: IssueEvent, event_id: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "event": event.event,
        "actor": person_json(base, repo.person(event.actor)),
        "created_at": stamp(event.at),
        "state_reason": event.state_reason,
    }
