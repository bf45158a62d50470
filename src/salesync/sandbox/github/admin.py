"""Control endpoints under /_sandbox: act as a developer in GitHub, tokens, limits, faults.

They are not part of GitHub's API; tests and the demo drive the sandbox with them. A
developer closing, reopening or commenting here is what a person does in the web
interface: no token, no limits, no faults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from salesync.sandbox.controls import fault_routes
from salesync.sandbox.github import views
from salesync.sandbox.replies import ApiError

if TYPE_CHECKING:
    from salesync.sandbox.github.service import GitHubSandbox

T = TypeVar("T")


class CloseRequest(BaseModel):
    by: str = Field(min_length=1)
    reason: Literal["completed", "not_planned"] = "completed"


class PersonRequest(BaseModel):
    by: str = Field(min_length=1)


class CommentRequest(BaseModel):
    by: str = Field(min_length=1)
    body: str = Field(min_length=1)


class TokenRequest(BaseModel):
    token: str = Field(min_length=1)
    login: str = Field(min_length=1)
    write: bool = True


class RepoPatch(BaseModel):
    has_issues: bool | None = None


class LimitsPatch(BaseModel):
    primary_limit: int | None = Field(default=None, ge=0)
    primary_status: Literal[403, 429] | None = None
    content_per_minute: int | None = Field(default=None, ge=1)


def add_admin_routes(app: FastAPI, sandbox: GitHubSandbox) -> None:
    """Serve the /_sandbox control endpoints."""
    repo = sandbox.repo

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def acting(work: Callable[[], T]) -> T:
        try:
            with repo.lock:
                return work()
        except ApiError as error:
            raise HTTPException(error.reply.status, error.reply.body) from None

    @app.get("/_sandbox/state")
    def state() -> dict[str, Any]:
        with repo.lock:
            return {
                "repository": repo.full_name,
                "has_issues": repo.has_issues,
                "issues": len(repo.issues),
                "comments": len(repo.comments),
                "limits": _limits(sandbox),
            }

    @app.get("/_sandbox/issues")
    def stored(request: Request) -> list[dict[str, Any]]:
        """Every issue as stored (deleted ones too), each with its comments' bodies."""
        with repo.lock:
            return [
                {
                    **views.issue_json(base(request), repo, issue),
                    "deleted": issue.deleted,
                    "comment_bodies": [
                        c.body for c in repo.comments.values() if c.issue == issue.number
                    ],
                }
                for issue in repo.issues.values()
            ]

    @app.post("/_sandbox/issues/{number}/close")
    def close(request: Request, number: int, body: CloseRequest) -> dict[str, Any]:
        """A developer closes the issue in the web interface."""
        issue = acting(lambda: repo.close(number, body.by, body.reason))
        return views.issue_json(base(request), repo, issue)

    @app.post("/_sandbox/issues/{number}/reopen")
    def reopen(request: Request, number: int, body: PersonRequest) -> dict[str, Any]:
        issue = acting(lambda: repo.reopen(number, body.by))
        return views.issue_json(base(request), repo, issue)

    @app.post("/_sandbox/issues/{number}/comments")
    def comment(request: Request, number: int, body: CommentRequest) -> dict[str, Any]:
        """A developer comments on the issue in the web interface."""
        made = acting(lambda: repo.add_comment(body.by, number, body.body))
        return views.comment_json(base(request), repo, made)

    @app.delete("/_sandbox/issues/{number}")
    def delete(number: int) -> dict[str, bool]:
        """An admin deletes the issue; the API answers 410 for it from now on."""
        acting(lambda: repo.delete(number))
        return {"deleted": True}

    @app.patch("/_sandbox/repo")
    def patch_repo(body: RepoPatch) -> dict[str, Any]:
        """Switch the repository's issues off (the API answers 410) or on."""
        if body.has_issues is not None:
            repo.has_issues = body.has_issues
        return {"repository": repo.full_name, "has_issues": repo.has_issues}

    @app.post("/_sandbox/tokens")
    def add_token(body: TokenRequest) -> dict[str, Any]:
        issued = repo.add_token(body.token, body.login, write=body.write)
        return {"login": issued.login, "write": issued.write}

    @app.delete("/_sandbox/tokens/{token}")
    def revoke(token: str) -> dict[str, bool]:
        repo.revoke(token)
        return {"revoked": True}

    @app.patch("/_sandbox/limits")
    def patch_limits(body: LimitsPatch) -> dict[str, int]:
        if body.primary_limit is not None:
            sandbox.primary.limit = body.primary_limit
        if body.primary_status is not None:
            sandbox.primary_status = body.primary_status
        if body.content_per_minute is not None:
            sandbox.content.limit = body.content_per_minute
        return _limits(sandbox)

    @app.get("/_sandbox/requests")
    def requests() -> list[dict[str, Any]]:
        """Every API call seen, with its operation, account and status."""
        with repo.lock:
            return [{**asdict(r), "at": r.at.isoformat()} for r in repo.requests]

    app.include_router(fault_routes(sandbox.faults))


def _limits(sandbox: GitHubSandbox) -> dict[str, int]:
    return {
        "primary_limit": sandbox.primary.limit,
        "primary_status": sandbox.primary_status,
        "content_per_minute": sandbox.content.limit,
    }
