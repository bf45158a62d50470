"""The simulated GitHub REST API (v3) for one repository's issues and comments."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from salesync.clock import system_clock
from salesync.sandbox.faults import FaultPlan
from salesync.sandbox.github import errors, views
from salesync.sandbox.github.admin import add_admin_routes
from salesync.sandbox.github.errors import problem
from salesync.sandbox.github.repo import GitHubRepo, Issue
from salesync.sandbox.github.service import ApiCall, GitHubSandbox
from salesync.sandbox.replies import Reply

DEFAULT_TOKEN = "ghp_sandboxDeveloperToken0000000000000000"  # noqa: S105 - a fixture credential
DEFAULT_LOGIN = "salesync-bot"
PER_PAGE = 30
PER_PAGE_MAX = 100


def create_app(
    repo: GitHubRepo | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    faults: FaultPlan | None = None,
    token: str | None = DEFAULT_TOKEN,
    login: str = DEFAULT_LOGIN,
) -> FastAPI:
    """A repository's issues served over HTTP, with control endpoints under /_sandbox.

    ``token`` (for ``login``, with write access) is issued unless None; ``clock`` is used
    only when no ``repo`` is given.
    """
    repo = repo or GitHubRepo(clock=clock or system_clock)
    if token is not None:
        repo.add_token(token, login)
    sandbox = GitHubSandbox(repo, faults or FaultPlan())
    app = FastAPI(title="GitHub sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = sandbox
    _add_api_routes(app, sandbox)
    add_admin_routes(app, sandbox)
    return app


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _payload(raw: bytes) -> dict[str, Any]:
    try:
        found = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise errors.bad_json() from None
    if not isinstance(found, dict):
        raise errors.bad_json()
    return found


def _number(raw: str) -> int:
    if not raw.isdigit():
        raise errors.not_found()
    return int(raw)


def _since(raw: str | None, resource: str) -> datetime | None:
    if raw is None:
        return None
    try:
        found = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise errors.validation_failed([problem("since", "invalid", resource=resource)]) from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _page(request: Request) -> tuple[int, int]:
    params = request.query_params
    try:
        per_page = min(max(int(params.get("per_page", PER_PAGE)), 1), PER_PAGE_MAX)
        page = max(int(params.get("page", 1)), 1)
    except ValueError:
        return PER_PAGE, 1
    return per_page, page


def _paged(request: Request, items: list[Any], body: Callable[[Any], dict[str, Any]]) -> Reply:
    """One page of ``items`` with GitHub's ``link`` header pointing at the others."""
    per_page, page = _page(request)
    last = max((len(items) + per_page - 1) // per_page, 1)
    shown = items[(page - 1) * per_page : page * per_page]
    params = dict(request.query_params)

    def url(number: int) -> str:
        query = urlencode({**params, "per_page": per_page, "page": number})
        return f"{_base(request)}{request.url.path}?{query}"

    links = []
    if page > 1:
        links += [f'<{url(page - 1)}>; rel="prev"', f'<{url(1)}>; rel="first"']
    if page < last:
        links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    headers = {"link": ", ".join(links)} if links else {}
    return Reply(200, [body(item) for item in shown], headers)


ISSUES = "/repos/{owner}/{name}/issues"


def _check_repo(repo: GitHubRepo, owner: str, name: str) -> None:
    if (owner.lower(), name.lower()) != (repo.owner.lower(), repo.name.lower()):
        raise errors.not_found()
    if not repo.has_issues:
        raise errors.issues_disabled()


def _call(request: Request, operation: str, *, creates: bool = False) -> ApiCall:
    return ApiCall(
        method=request.method,
        operation=operation,
        authorization=request.headers.get("authorization"),
        write=request.method in ("POST", "PATCH", "PUT", "DELETE"),
        creates=creates,
    )


def _add_api_routes(app: FastAPI, sandbox: GitHubSandbox) -> None:
    repo = sandbox.repo

    async def run(call: ApiCall, work: Callable[[str], Reply]) -> Response:
        return await run_in_threadpool(sandbox.handle, call, work)

    @app.get("/user")
    async def user(request: Request) -> Response:
        """The account the token belongs to."""

        def work(login: str) -> Reply:
            found = views.person_json(_base(request), repo.person(login))
            return Reply(200, {**found, "name": login})

        return await run(_call(request, "get_user"), work)

    @app.post(ISSUES)
    async def create_issue(request: Request, owner: str, name: str) -> Response:
        raw = await request.body()

        def work(login: str) -> Reply:
            _check_repo(repo, owner, name)
            issue = repo.create_issue(login, _payload(raw))
            base = _base(request)
            headers = {"location": f"{base}/repos/{repo.full_name}/issues/{issue.number}"}
            return Reply(201, views.issue_json(base, repo, issue), headers)

        return await run(_call(request, "create_issue", creates=True), work)

    @app.get(ISSUES)
    async def list_issues(request: Request, owner: str, name: str) -> Response:
        """Issues filtered by state, labels (all of them) and ``since`` (updated at or after)."""

        def work(login: str) -> Reply:
            _check_repo(repo, owner, name)
            base = _base(request)
            found = _listed(repo, dict(request.query_params))
            return _paged(request, found, lambda i: views.issue_json(base, repo, i, single=False))

        return await run(_call(request, "list_issues"), work)

    @app.get(ISSUES + "/{number}")
    async def get_issue(request: Request, owner: str, name: str, number: str) -> Response:
        def work(login: str) -> Reply:
            _check_repo(repo, owner, name)
            return Reply(200, views.issue_json(_base(request), repo, repo.issue(_number(number))))

        return await run(_call(request, "get_issue"), work)

    @app.patch(ISSUES + "/{number}")
    async def update_issue(request: Request, owner: str, name: str, number: str) -> Response:
        """Change title, body, state (with ``state_reason``), labels or assignees."""
        raw = await request.body()

        def work(login: str) -> Reply:
            _check_repo(repo, owner, name)
            issue = repo.update_issue(login, _number(number), _payload(raw))
            return Reply(200, views.issue_json(_base(request), repo, issue))

        return await run(_call(request, "update_issue"), work)

    @app.get(ISSUES + "/{number}/events")
    async def list_events(request: Request, owner: str, name: str, number: str) -> Response:
        """Who closed, reopened or renamed the issue, and when."""

        def work(login: str) -> Reply:
            _check_repo(repo, owner, name)
            issue = repo.issue(_number(number))
            base = _base(request)
            events = [
                views.event_json(base, repo, event, issue.id * 100 + n)
                for n, event in enumerate(issue.events, start=1)
            ]
            return _paged(request, events, lambda e: e)

        return await run(_call(request, "list_events"), work)

    _add_comment_routes(app, sandbox)


def _listed(repo: GitHubRepo, params: dict[str, str]) -> list[Issue]:
    state = params.get("state", "open")
    sort = params.get("sort", "created")
    direction = params.get("direction", "desc")
    bad = [
        problem(field_name, "invalid")
        for field_name, value, allowed in (
            ("state", state, ("open", "closed", "all")),
            ("sort", sort, ("created", "updated", "comments")),
            ("direction", direction, ("asc", "desc")),
        )
        if value not in allowed
    ]
    if bad:
        raise errors.validation_failed(bad)
    return repo.list_issues(
        state=state,
        labels=[x.strip() for x in params.get("labels", "").split(",") if x.strip()],
        since=_since(params.get("since"), "Issue"),
        sort=sort,
        direction=direction,
    )


def _add_comment_routes(app: FastAPI, sandbox: GitHubSandbox) -> None:
    repo = sandbox.repo

    @app.get(ISSUES + "/{number}/comments")
    async def list_comments(request: Request, owner: str, name: str, number: str) -> Response:
        """An issue's comments, oldest first, optionally only those updated since a time."""
        since = request.query_params.get("since")

        def work(login: str) -> Reply:
            _check_repo(repo, owner, name)
            found = repo.issue_comments(_number(number), _since(since, "IssueComment"))
            base = _base(request)
            return _paged(request, found, lambda c: views.comment_json(base, repo, c))

        return await run_in_threadpool(sandbox.handle, _call(request, "list_comments"), work)

    @app.post(ISSUES + "/{number}/comments")
    async def create_comment(request: Request, owner: str, name: str, number: str) -> Response:
        raw = await request.body()

        def work(login: str) -> Reply:
            _check_repo(repo, owner, name)
            comment = repo.add_comment(login, _number(number), _payload(raw).get("body"))
            return Reply(201, views.comment_json(_base(request), repo, comment))

        call = _call(request, "create_comment", creates=True)
        return await run_in_threadpool(sandbox.handle, call, work)
