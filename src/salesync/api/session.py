"""Signing in to the dashboard: the login page, sessions in an HttpOnly cookie, signing
out, and ``principal``, the dependency that says who a request comes from.

The login form carries a nonce that is also in a short-lived cookie, so another site
cannot sign a browser in to an account of its choosing (login CSRF). Failed attempts are
counted per email and address, in memory: a restart forgets them, which costs an
attacker's few guesses nothing worth a table.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.passwords import DEFAULT_COST, Cost
from salesync.accounts.roles import PERMISSIONS, Principal, Reach
from salesync.accounts.sessions import LIFETIME, Sessions
from salesync.accounts.users import Users, normal_email
from salesync.api.answers import answer, declared
from salesync.api.auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    Refused,
    caller,
    form_field,
    refused,
    require_csrf,
    signed_in,
)

LOGIN_COOKIE = "salesync_login"
"""Holds the login form's nonce until the form is sent."""
LOGIN_FORM_TTL = 3600
HOME = "/account"
START = "/"
"""Where signing in leads unless the link asked for a page: the dashboard sends each
user on to their own start."""
WRONG = "The email or password is wrong."

_ENV = Environment(
    loader=PackageLoader("salesync.api", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class Throttle:
    """Counts failed sign-ins per key (email and address) and holds a key back once it
    has failed ``limit`` times within ``window``."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        limit: int = 5,
        window: timedelta = timedelta(minutes=15),
        capacity: int = 10_000,
    ) -> None:
        """``capacity`` bounds the keys remembered; past it the oldest are forgotten, so
        a flood of made-up emails cannot fill the memory."""
        self.clock = clock
        self.limit = limit
        self.window = window
        self.capacity = capacity
        self._failures: dict[tuple[str, str], deque[datetime]] = {}
        self._lock = threading.Lock()

    def wait(self, key: tuple[str, str]) -> timedelta | None:
        """How long ``key`` must wait before trying again; None when it may try now."""
        with self._lock:
            recent = self._recent(key)
            if len(recent) < self.limit:
                return None
            return recent[0] + self.window - self.clock()

    def failed(self, key: tuple[str, str]) -> None:
        with self._lock:
            recent = self._recent(key)
            recent.append(self.clock())
            self._failures[key] = recent
            while len(self._failures) > self.capacity:
                del self._failures[next(iter(self._failures))]

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str]) -> deque[datetime]:
        recent = self._failures.pop(key, deque())
        cutoff = self.clock() - self.window
        while recent and recent[0] <= cutoff:
            recent.popleft()
        if recent:
            self._failures[key] = recent
        return recent


class Me(BaseModel):
    """A user, and where each action their role allows reaches (``own`` or ``any``)."""

    user_id: str
    email: str
    role: str
    tenant_id: str | None
    may: dict[str, str]


class SignIn:
    """The sign-in pages and what they need; ``register`` also makes ``principal`` work
    on the app."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        throttle: Throttle | None = None,
        cost: Cost = DEFAULT_COST,
    ) -> None:
        """``cost`` is the scrypt work for passwords set or upgraded at sign-in."""
        self.factory = factory
        self.clock = clock
        self.throttle = throttle or Throttle(clock)
        self.cost = cost

    def register(self, app: FastAPI) -> None:
        app.state.accounts = self
        app.add_exception_handler(Refused, refused)
        for method, page in (("GET", self.login_page), ("POST", self.login)):
            app.add_api_route(
                "/login",
                page,
                methods=[method],
                response_class=HTMLResponse,
                include_in_schema=False,
            )
        app.add_api_route("/logout", self.logout, methods=["POST"], include_in_schema=False)
        app.add_api_route(
            HOME,
            self.account,
            methods=["GET"],
            response_class=HTMLResponse,
            include_in_schema=False,
        )
        app.add_api_route(
            "/api/v1/me",
            self.me,
            methods=["GET"],
            summary="Who the credentials belong to, and what they may do",
            tags=["accounts"],
            response_model=Me,
            responses=declared(
                {401: "No session and no user API key, or one that ended (`unauthenticated`)."}
            ),
        )

    # -- signing in ------------------------------------------------------------------

    def login_page(self, request: Request) -> HTMLResponse:
        """The sign-in form."""
        return self._form(request, status_code=200)

    async def login(self, request: Request) -> Response:
        """Check the email and password; on success open a session and go on."""
        body = await request.body()
        email = form_field(body, "email") or ""
        password = form_field(body, "password") or ""
        target = _local(form_field(body, "next"))
        nonce = request.cookies.get(LOGIN_COOKIE)
        sent = form_field(body, CSRF_FIELD)
        if not nonce or not sent or not secrets.compare_digest(nonce.encode(), sent.encode()):
            message = "This sign-in form has expired; please try again."
            return self._form(request, status_code=403, error=message, email=email)
        key = (normal_email(email), request.client.host if request.client else "")
        wait = self.throttle.wait(key)
        if wait is not None:
            minutes = max(1, round(wait.total_seconds() / 60))
            message = f"Too many failed attempts; try again in {minutes} minute(s)."
            page = self._form(request, status_code=429, error=message, email=email)
            page.headers["Retry-After"] = str(max(1, int(wait.total_seconds())))
            return page
        # scrypt and the database would hold up every other request on the event loop.
        token = await run_in_threadpool(self._open, email, password)
        if token is None:
            self.throttle.failed(key)
            return self._form(request, status_code=401, error=WRONG, email=email)
        self.throttle.succeeded(key)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(LIFETIME.total_seconds()),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    async def logout(self, request: Request) -> Response:
        """End the session (the form must carry its CSRF token) and forget the cookie."""
        opened = await run_in_threadpool(signed_in, self.factory, self.clock, request)
        await require_csrf(request, opened)
        token = request.cookies.get(SESSION_COOKIE)
        if opened is not None and token:
            await run_in_threadpool(self._close, token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- who is signed in ------------------------------------------------------------

    def account(self, request: Request) -> Response:
        """Who is signed in, with the sign-out button."""
        opened = signed_in(self.factory, self.clock, request)
        if opened is None:
            return RedirectResponse(f"/login?next={HOME}", status_code=303)
        html = _ENV.get_template("account.html").render(
            title="Signed in", who=opened.principal, csrf_token=opened.csrf_token
        )
        return HTMLResponse(html, headers=_PRIVATE)

    def me(self, request: Request) -> JSONResponse:
        """Who the request's key or session belongs to, and where each action reaches."""
        found = caller(self.factory, self.clock, request)
        if found is None:
            return _sign_in_first()
        who = found[0]
        return JSONResponse(
            {
                "user_id": who.user_id,
                "email": who.email,
                "role": who.role.value,
                "tenant_id": who.tenant_id,
                "may": {
                    action.value: PERMISSIONS[action][who.role].value
                    for action in PERMISSIONS
                    if PERMISSIONS[action][who.role] is not Reach.NONE
                },
            },
            headers=_PRIVATE,
        )

    # -- helpers ---------------------------------------------------------------------

    def _open(self, email: str, password: str) -> str | None:
        """A new session's cookie for the right email and password, else None."""
        with self.factory() as session, session.begin():
            user = Users(session, self.clock, self.cost).authenticate(email, password)
            if user is None:
                return None
            sessions = Sessions(session, self.clock)
            sessions.sweep()
            return sessions.open(user.id)[1]

    def _close(self, token: str) -> None:
        with self.factory() as session, session.begin():
            Sessions(session, self.clock).close(token)

    def _form(
        self, request: Request, *, status_code: int, error: str | None = None, email: str = ""
    ) -> HTMLResponse:
        nonce = secrets.token_urlsafe(24)
        target = _local(request.query_params.get("next") or None)
        html = _ENV.get_template("login.html").render(
            title="Sign in to salesync", error=error, email=email, csrf_token=nonce, next=target
        )
        response = HTMLResponse(html, status_code=status_code, headers=_PRIVATE)
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=LOGIN_FORM_TTL,
            path="/login",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        return response


_PRIVATE = {"Cache-Control": "no-store"}


async def principal(request: Request) -> Principal:
    """Who the request comes from (a FastAPI dependency): a user API key sent as a bearer
    token, or the dashboard session cookie. Refuses 401 without either, and 403 a change
    sent with the cookie but without the session's CSRF token."""
    accounts: SignIn = request.app.state.accounts
    found = await run_in_threadpool(caller, accounts.factory, accounts.clock, request)
    if found is None:
        raise Refused(_sign_in_first())
    who, opened = found
    await require_csrf(request, opened)
    return who


def csrf_token(request: Request) -> str | None:
    """The CSRF token for the forms of a page shown to the request's session."""
    accounts: SignIn = request.app.state.accounts
    opened = signed_in(accounts.factory, accounts.clock, request)
    return opened.csrf_token if opened is not None else None


def _sign_in_first() -> JSONResponse:
    return answer(
        401,
        "unauthenticated",
        "Sign in at /login, or send a user API key: Authorization: Bearer <key>.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _local(target: str | None) -> str:
    """``target`` if it is a path on this site, else the dashboard's start page: a
    sign-in link must not forward anyone to another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return START
    return target
