"""Who may call a tenant's API: a live API token of that tenant, or a user allowed there.

Scripts send a bearer secret, a tenant's API token (``ssk_``: that tenant, what its owner
may do there) or a user's API key (``ssu_``: what the user's role allows). Browsers carry
the dashboard session cookie, and prove with the session's CSRF token, sent in the
``X-CSRF-Token`` header or a form's ``csrf_token`` field, that a change came from a
salesync page. Every refusal has the API's error shape: 401 without a live credential,
404 for a tenant that does not exist, 403 for one the caller may not act in or an action
the caller's role does not allow.

A tenant token acts as the tenant's owner so that a merchant's script never does more
than the merchant could: replaying and working tickets stay with salesync's staff.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.keys import principal_of_key
from salesync.accounts.roles import Action, Principal, Role
from salesync.accounts.sessions import OpenSession, Sessions
from salesync.api.answers import answer
from salesync.api.tokens import token_hash
from salesync.store.tables import ApiTokenRow, TenantRow

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


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request comes from: a user (by API key or session), or a tenant's API token,
    which stands in as that tenant's owner (``principal``) and is named by its id."""

    principal: Principal
    token_id: str | None = None

    @property
    def actor(self) -> str:
        """How a ticket's timeline or a mapping's history names the caller: the user's
        email, or ``api-token:<id>`` (never the secret)."""
        return f"api-token:{self.token_id}" if self.token_id is not None else self.principal.email


def token_caller(session: Session, secret: str) -> Caller | None:
    """The caller a live tenant token makes: that tenant's owner, named by the token."""
    found = session.execute(
        select(ApiTokenRow.id, ApiTokenRow.tenant_id).where(
            ApiTokenRow.token_hash == token_hash(secret), ApiTokenRow.revoked_at.is_(None)
        )
    ).first()
    if found is None:
        return None
    token_id, tenant_id = found
    name = f"api-token:{token_id}"
    return Caller(Principal(name, name, Role.OWNER, tenant_id), token_id)


def bearer_caller(session: Session, secret: str) -> Caller | None:
    """The caller a bearer secret makes (a tenant token or a user key); None when it is
    unknown, revoked, or its user is disabled."""
    found = token_caller(session, secret)
    if found is not None:
        return found
    principal = principal_of_key(session, secret)
    return Caller(principal) if principal is not None else None


def refusal(
    factory: sessionmaker[Session],
    tenant_id: str,
    authorization: str | None,
    *,
    action: Action = Action.VIEW_TENANT,
) -> JSONResponse | None:
    """The answer refusing a bearer request for ``tenant_id``'s API, or None to let it
    through: a tenant token of that tenant whose owner may take ``action``, or a user key
    whose user may take ``action`` there."""
    admitted = _bearer_admission(factory, tenant_id, authorization, action)
    return admitted if isinstance(admitted, JSONResponse) else None


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
    admitted = admission(factory, clock, tenant_id, request, action=action)
    return admitted if isinstance(admitted, JSONResponse) else None


def admit(
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    tenant_id: str,
    request: Request,
    *,
    action: Action,
) -> Caller:
    """The caller ``request_refusal`` lets through; raises ``Refused`` with its refusal
    otherwise."""
    admitted = admission(factory, clock, tenant_id, request, action=action)
    if isinstance(admitted, JSONResponse):
        raise Refused(admitted)
    return admitted


def admission(
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    tenant_id: str,
    request: Request,
    *,
    action: Action,
) -> Caller | JSONResponse:
    """The caller allowed ``action`` in ``tenant_id``, or the answer refusing the request."""
    authorization = request.headers.get("authorization")
    if authorization is not None or SESSION_COOKIE not in request.cookies:
        return _bearer_admission(factory, tenant_id, authorization, action)
    opened = signed_in(factory, clock, request)
    if opened is None:
        return _session_ended()
    if request.method not in SAFE_METHODS and not csrf_matches(
        opened, request.headers.get(CSRF_HEADER)
    ):
        return _csrf_refused()
    with factory() as session:
        return judged(session, opened.principal, tenant_id, action) or Caller(opened.principal)


def identify(
    factory: sessionmaker[Session], clock: Callable[[], datetime], request: Request
) -> Caller:
    """Who a request comes from, for routes above any one tenant (a GET: no CSRF token is
    asked); raises ``Refused`` (401) without a live credential."""
    authorization = request.headers.get("authorization")
    if authorization is not None or SESSION_COOKIE not in request.cookies:
        secret = bearer(authorization)
        if secret is None:
            raise Refused(_unauthenticated())
        with factory() as session:
            found = bearer_caller(session, secret)
        if found is None:
            raise Refused(_bad_token())
        return found
    opened = signed_in(factory, clock, request)
    if opened is None:
        raise Refused(_session_ended())
    return Caller(opened.principal)


def _bearer_admission(
    factory: sessionmaker[Session], tenant_id: str, authorization: str | None, action: Action
) -> Caller | JSONResponse:
    secret = bearer(authorization)
    if secret is None:
        return _unauthenticated()
    with factory() as session:
        found = bearer_caller(session, secret)
        if found is None:
            return _bad_token()
        if found.token_id is None:
            return judged(session, found.principal, tenant_id, action) or found
        if found.principal.tenant_id != tenant_id and session.get(TenantRow, tenant_id) is None:
            return _unknown(tenant_id)
    if found.principal.tenant_id != tenant_id:
        return answer(403, "wrong_tenant", f"This API token does not belong to {tenant_id!r}.")
    if not found.principal.can(action, tenant_id):
        return answer(
            403,
            "not_allowed",
            f"An API token acts as its tenant's owner, who may not "
            f"{action.value.replace('_', ' ')}; use the API key of a user allowed to.",
        )
    return found


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


def _bad_token() -> JSONResponse:
    return answer(401, "bad_token", "The API token is unknown or revoked.", headers=CHALLENGE)


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
