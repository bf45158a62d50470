"""The simulated Jira Cloud REST API v3: issues, transitions, comments and JQL search."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from salesync.clock import system_clock
from salesync.sandbox.faults import FaultPlan
from salesync.sandbox.jira import errors, views
from salesync.sandbox.jira.admin import add_admin_routes
from salesync.sandbox.jira.jql import JqlError
from salesync.sandbox.jira.service import ApiCall, JiraSandbox
from salesync.sandbox.jira.site import Account, JiraSite
from salesync.sandbox.replies import Reply

DEFAULT_EMAIL = "salesync-bot@example.com"
DEFAULT_API_TOKEN = "ATATT3xSandboxApiToken0000000000"  # noqa: S105 - a fixture credential
DEFAULT_NAME = "salesync bot"
API = "/rest/api/3"
SEARCH_DEFAULT = 50
SEARCH_MAX = 100
SEARCH_FIELDS = ("summary", "status", "labels", "issuetype", "project")


def create_app(
    site: JiraSite | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    faults: FaultPlan | None = None,
    email: str | None = DEFAULT_EMAIL,
    api_token: str = DEFAULT_API_TOKEN,
) -> FastAPI:
    """A Jira Cloud site served over HTTP, with control endpoints under /_sandbox.

    An account for ``email`` with ``api_token`` is made unless ``email`` is None;
    ``clock`` is used only when no ``site`` is given.
    """
    site = site or JiraSite(clock=clock or system_clock)
    if email is not None:
        site.add_account(DEFAULT_NAME, email=email, api_token=api_token)
    sandbox = JiraSandbox(site, faults or FaultPlan())
    app = FastAPI(title="Jira sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = sandbox
    _add_issue_routes(app, sandbox)
    _add_comment_routes(app, sandbox)
    add_admin_routes(app, sandbox)
    return app


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _payload(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise errors.bad_request("Unexpected character in the request body: not JSON.") from None


def _call(request: Request, operation: str) -> ApiCall:
    return ApiCall(request.method, operation, request.headers.get("authorization"))


def _add_issue_routes(app: FastAPI, sandbox: JiraSandbox) -> None:
    site = sandbox.site

    async def run(call: ApiCall, work: Callable[[Account], Reply]) -> Response:
        return await run_in_threadpool(sandbox.handle, call, work)

    @app.get(API + "/myself")
    async def myself(request: Request) -> Response:
        def work(account: Account) -> Reply:
            return Reply(
                200, {**views.account_json(_base(request), account), "emailAddress": account.email}
            )

        return await run(_call(request, "myself"), work)

    @app.post(API + "/issue")
    async def create_issue(request: Request) -> Response:
        """Create from ``fields``: project, summary, description (ADF), issuetype, labels."""
        raw = await request.body()

        def work(account: Account) -> Reply:
            issue = site.create_issue(account, _payload(raw))
            base = _base(request)
            body = {"id": issue.id, "key": issue.key, "self": f"{base}{API}/issue/{issue.id}"}
            return Reply(201, body)

        return await run(_call(request, "create_issue"), work)

    @app.get(API + "/issue/{key}")
    async def get_issue(request: Request, key: str) -> Response:
        params = request.query_params

        def work(account: Account) -> Reply:
            issue = site.issue(key)
            expand = {e.strip() for e in params.get("expand", "").split(",")}
            fields = views.fields_wanted(params.get("fields"))
            body = views.issue_json(
                _base(request), site, issue, fields, changelog="changelog" in expand
            )
            return Reply(200, body)

        return await run(_call(request, "get_issue"), work)

    @app.put(API + "/issue/{key}")
    async def edit_issue(request: Request, key: str) -> Response:
        """Change summary, description or labels; 204 with no body."""
        raw = await request.body()

        def work(account: Account) -> Reply:
            site.edit_issue(account, key, _payload(raw))
            return Reply(204, None)

        return await run(_call(request, "edit_issue"), work)

    @app.get(API + "/issue/{key}/transitions")
    async def get_transitions(request: Request, key: str) -> Response:
        def work(account: Account) -> Reply:
            issue = site.issue(key)
            listed = [views.transition_json(_base(request), t) for t in site.transitions(issue)]
            return Reply(200, {"expand": "transitions", "transitions": listed})

        return await run(_call(request, "get_transitions"), work)

    @app.post(API + "/issue/{key}/transitions")
    async def transition_issue(request: Request, key: str) -> Response:
        """Perform ``{"transition": {"id": ...}}``, with comments under ``update``; 204."""
        raw = await request.body()

        def work(account: Account) -> Reply:
            site.transition(account, key, _payload(raw))
            return Reply(204, None)

        return await run(_call(request, "transition_issue"), work)

    @app.get(API + "/search/jql")
    async def search_get(request: Request) -> Response:
        params = request.query_params
        query = {
            "jql": params.get("jql", ""),
            "fields": params.get("fields"),
            "maxResults": params.get("maxResults"),
            "nextPageToken": params.get("nextPageToken"),
        }
        return await run(_call(request, "search"), lambda a: _search(request, site, query))

    @app.post(API + "/search/jql")
    async def search_post(request: Request) -> Response:
        raw = await request.body()

        def work(account: Account) -> Reply:
            body = _payload(raw)
            return _search(request, site, body if isinstance(body, dict) else {})

        return await run(_call(request, "search"), work)


def _search(request: Request, site: JiraSite, query: dict[str, Any]) -> Reply:
    """The enhanced JQL search: a page of issues and a token for the next one."""
    try:
        found = site.search(str(query.get("jql") or ""))
    except JqlError as error:
        raise errors.bad_request(str(error)) from None
    try:
        size = min(max(int(query.get("maxResults") or SEARCH_DEFAULT), 1), SEARCH_MAX)
        token = query.get("nextPageToken")
        start = int(base64.urlsafe_b64decode(str(token)).decode()) if token else 0
    except ValueError:
        raise errors.bad_request("The nextPageToken or maxResults is not valid.") from None
    fields = views.fields_wanted(query.get("fields"), SEARCH_FIELDS)
    page = found[start : start + size]
    base = _base(request)
    body: dict[str, Any] = {"issues": [views.issue_json(base, site, i, fields) for i in page]}
    if start + size < len(found):
        body["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        body["isLast"] = False
    else:
        body["isLast"] = True
    return Reply(200, body)


def _add_comment_routes(app: FastAPI, sandbox: JiraSandbox) -> None:
    site = sandbox.site

    @app.get(API + "/issue/{key}/comment")
    async def get_comments(request: Request, key: str) -> Response:
        """A page of comments: ``startAt``, ``maxResults``, ``orderBy`` (created or -created)."""
        params = request.query_params

        def work(account: Account) -> Reply:
            found = site.issue_comments(key)
            if params.get("orderBy", "created").lstrip("+") == "-created":
                found.reverse()
            try:
                start = max(int(params.get("startAt", 0)), 0)
                size = min(max(int(params.get("maxResults", 5000)), 1), 5000)
            except ValueError:
                raise errors.bad_request("startAt and maxResults must be numbers.") from None
            base = _base(request)
            return Reply(
                200,
                {
                    "startAt": start,
                    "maxResults": size,
                    "total": len(found),
                    "comments": [
                        views.comment_json(base, site, c) for c in found[start : start + size]
                    ],
                },
            )

        return await run_in_threadpool(sandbox.handle, _call(request, "get_comments"), work)

    @app.post(API + "/issue/{key}/comment")
    async def add_comment(request: Request, key: str) -> Response:
        """Add a comment whose ``body`` is an ADF document; 201 with the comment."""
        raw = await request.body()

        def work(account: Account) -> Reply:
            payload = _payload(raw)
            body = payload.get("body") if isinstance(payload, dict) else None
            comment = site.add_comment(account, key, body)
            return Reply(201, views.comment_json(_base(request), site, comment))

        return await run_in_threadpool(sandbox.handle, _call(request, "add_comment"), work)
