"""Control endpoints under /_sandbox: act as a developer in Jira, accounts, limits, faults.

They are not part of Jira's API; tests and the demo drive the sandbox with them. Moving an
issue or commenting here is what a person does on the board: no token, no limits, no
faults; the person is named by display name and made on first mention.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from salesync.sandbox.controls import fault_routes
from salesync.sandbox.jira import adf, views
from salesync.sandbox.replies import ApiError

if TYPE_CHECKING:
    from salesync.sandbox.jira.service import JiraSandbox

T = TypeVar("T")


class MoveRequest(BaseModel):
    status: str = Field(min_length=1, description="To Do, In Progress or Done")
    by: str = Field(min_length=1)


class CommentRequest(BaseModel):
    by: str = Field(min_length=1)
    body: str = Field(min_length=1, description="plain text; each line becomes a paragraph")


class AccountRequest(BaseModel):
    display_name: str = Field(min_length=1)
    email: str = Field(min_length=3)
    api_token: str = Field(min_length=1)
    write: bool = True


class LimitRequest(BaseModel):
    calls: int | None = Field(default=None, ge=1, description="None lifts the limit")
    seconds: float = Field(default=1.0, gt=0)


def add_admin_routes(app: FastAPI, sandbox: JiraSandbox) -> None:
    """Serve the /_sandbox control endpoints."""
    site = sandbox.site

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def acting(work: Callable[[], T]) -> T:
        try:
            with site.lock:
                return work()
        except ApiError as error:
            raise HTTPException(error.reply.status, error.reply.body) from None

    @app.get("/_sandbox/issues")
    def stored(request: Request) -> list[dict[str, Any]]:
        """Every issue as stored (deleted ones too), with its comments and their text."""
        with site.lock:
            return [
                {
                    **views.issue_json(base(request), site, issue, list(views.ALL_FIELDS)),
                    "deleted": issue.deleted,
                    "comments": [
                        {**views.comment_json(base(request), site, c), "text": adf.text_of(c.body)}
                        for c in site.comments.values()
                        if c.issue_id == issue.id
                    ],
                }
                for issue in site.issues.values()
            ]

    @app.post("/_sandbox/issues/{key}/move")
    def move(request: Request, key: str, body: MoveRequest) -> dict[str, Any]:
        """A developer drags the issue to another status."""
        issue = acting(lambda: site.move(key, body.status, body.by))
        return views.issue_json(base(request), site, issue, ["status"], changelog=True)

    @app.post("/_sandbox/issues/{key}/comments")
    def comment(request: Request, key: str, body: CommentRequest) -> dict[str, Any]:
        """A developer comments on the issue."""
        person = site.person(body.by)
        made = acting(lambda: site.add_comment(person, key, adf.paragraphs(body.body)))
        return views.comment_json(base(request), site, made)

    @app.delete("/_sandbox/issues/{key}")
    def delete(key: str) -> dict[str, bool]:
        acting(lambda: site.delete(key))
        return {"deleted": True}

    @app.post("/_sandbox/accounts")
    def add_account(body: AccountRequest) -> dict[str, Any]:
        """An account that can call the API with basic auth (``write`` false: read only)."""
        account = site.add_account(
            body.display_name, email=body.email, api_token=body.api_token, write=body.write
        )
        return {"accountId": account.account_id, "displayName": account.display_name}

    @app.put("/_sandbox/limits")
    def limits(body: LimitRequest) -> dict[str, Any]:
        sandbox.limit(body.calls, body.seconds)
        return {"calls": body.calls, "seconds": body.seconds}

    @app.get("/_sandbox/requests")
    def requests() -> list[dict[str, Any]]:
        with site.lock:
            return list(site.requests)

    app.include_router(fault_routes(sandbox.faults))
