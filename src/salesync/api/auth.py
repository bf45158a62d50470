"""Who may call a tenant's API: a live API token of that tenant, or a user allowed there.

Scripts send a bearer secret, a tenant's API token (``ssk_``: that tenant, everything its
API does) or a user's API key (``ssu_``: what the user's role allows). Browsers carry the
dashboard session cookie, and prove with the session's CSRF token, sent in the
``X-CSRF-Token`` header or a form's ``csrf_token`` field, that a change came from a
salesync page. Every refusal has the API's error shape: 401 without a live credential,
404 for a tenant that does not exist, 403 for one the caller may not act in.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.keys import principal_of_key
from salesync.accounts.roles import Action, Principal
from salesync.accounts.sessions import OpenSession, Sessions
from salesync.api.answers import answer
from salesync.api.tokens import tenant_of
from salesync.store.tables import TenantRow

CHALLENGE = {"WWW-Authenticate": "Bearer"}
SESSION_COOKIE = "salesync_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FOUND = "salesync_session"
"""Where a request keeps the session its cookie opened, so it is looked up once."""


class Refused(Exception):  # noqa: N818 -- an answer carried to the handler, not a fault
    """A request refused with ``response`` (the API's error shape)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def refused(_: Request, exc: Exception) -> Response:
    """The exception handler that answers a ``Refused``."""
    if not isinstance(exc, Refused):
        raise exc
    return exc.response


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if that is what it is."""
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def refusal(
    factory: sessionmaker[Session],
    tenant_id: str,
    authorization: str | None,
    *,
    action: Action = Action.VIEW_TENANT,
) -> JSONResponse | None:
    """The answer refusing a bearer request for ``tenant_id``'s API, or None to let it
    through: a tenant token of that tenant, or a user key whose user may take ``action``
    there."""
    secret = bearer(authorization)
    if secret is None:
        return _unauthenticated()
    with factory() as session:
        owner = tenant_of(session, secret)
        if owner is None:
            principal = principal_of_key(session, secret)
            if principal is None:
                return answer(
                    401, "bad_token", "The API token is unknown or revoked.", headers=CHALLENGE
                )
            return judged(session, principal, tenant_id, action)
        if owner != tenant_id and session.get(TenantRow, tenant_id) is None:
            return _unknown(tenant_id)
    if owner != tenant_id:
        return answer(403, "wrong_tenant", f"This API token does not belong to {tenant_id!r}.")
    return None


def request_refusal(
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    tenant_id: str,
    request: Request,
    *,
    action: Action = Action.VIEW_TENANT,
) -> JSONResponse | None:
    """``refusal`` for a request that may also come from a signed-in browser; a change
    sent with the session cookie needs the ``X-CSRF-Token`` header as well."""
    authorization = request.headers.get("authorization")
    if authorization is not None or SESSION_COOKIE not in request.cookies:
        return refusal(factory, tenant_id, authorization, action=action)
    opened = signed_in(factory, clock, request)
    if opened is None:
        return _session_ended()
    if request.method not in SAFE_METHODS and not csrf_matches(
        opened, request.headers.get(CSRF_HEADER)
    ):
        return _csrf_refused()
    with factory() as session:
        return judged(session, opened.principal, tenant_id, action)


def judged(
    session: Session, principal: Principal, tenant_id: str, action: Action
) -> JSONResponse | None:
    """The answer refusing ``principal`` ``action`` in ``tenant_id``, or None to allow it.
    A tenant that does not exist is 404 to everyone, so staff get the same answer as
    merchants."""
    if session.get(TenantRow, tenant_id) is None:
        return _unknown(tenant_id)
    if principal.can(action, tenant_id):
        return None
    if principal.tenant_id is not None and principal.tenant_id != tenant_id:
        return answer(403, "wrong_tenant", f"{principal.email} does not belong to {tenant_id!r}.")
    return answer(
        403,
        "not_allowed",
        f"A {principal.role} may not {action.value.replace('_', ' ')} for {tenant_id!r}.",
    )


def signed_in(
    factory: sessionmaker[Session], clock: Callable[[], datetime], request: Request
) -> OpenSession | None:
    """The live session the request's cookie opens, looked up once per request."""
    if hasattr(request.state, _FOUND):
        found: OpenSession | None = getattr(request.state, _FOUND)
        return found
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token:
        with factory() as session, session.begin():
            found = Sessions(session, clock).find(token)
    setattr(request.state, _FOUND, found)
    return found


def caller(
    factory: sessionmaker[Session], clock: Callable[[], datetime], request: Request
) -> tuple[Principal, OpenSession | None] | None:
    """Who a request comes from: a user key's user (bearer) or a session's user (cookie),
    with the session; None when neither is live. Tenant tokens are no user."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        secret = bearer(authorization)
        if secret is None:
            return None
        with factory() as session:
            principal = principal_of_key(session, secret)
        return (principal, None) if principal is not None else None
    opened = signed_in(factory, clock, request)
    return (opened.principal, opened) if opened is not None else None


async def require_csrf(request: Request, opened: OpenSession | None) -> None:
    """Refuse (403) a change sent with a session cookie unless it carries the session's
    CSRF token, in the ``X-CSRF-Token`` header or a url-encoded form's ``csrf_token``."""
    if opened is None or request.method in SAFE_METHODS:
        return
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        submitted = form_field(await request.body(), CSRF_FIELD)
    if not csrf_matches(opened, submitted):
        raise Refused(_csrf_refused())


def csrf_matches(opened: OpenSession, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(
        submitted.encode(), opened.csrf_token.encode()
    )


def form_field(body: bytes, name: str) -> str | None:
    """One field of a url-encoded form body."""
    values = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    found = values.get(name)
    return found[0] if found else None


def _unauthenticated() -> JSONResponse:
    return answer(
        401,
        "unauthenticated",
        "Send an API token: Authorization: Bearer <token>.",
        headers=CHALLENGE,
    )


def _session_ended() -> JSONResponse:
    return answer(401, "session_ended", "Your session has ended; sign in again at /login.")


def _csrf_refused() -> JSONResponse:
    return answer(
        403,
        "csrf",
        f"A change from the dashboard must carry the page's CSRF token ({CSRF_HEADER}).",
    )


def _unknown(tenant_id: str) -> JSONResponse:
    return answer(404, "unknown_tenant", f"There is no tenant {tenant_id!r}.")
