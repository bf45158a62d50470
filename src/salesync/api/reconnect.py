"""The merchant's way back in: reconnecting books whose authorization is gone.

When a provider refuses a connection's refresh token, ``TokenManager`` pauses the
connection and sends the merchant to ``/connections/<id>/reconnect``. From there the OAuth
2.0 authorization code grant (RFC 6749 §4.1) runs again:

1. ``GET /connections/{id}/reconnect`` redirects to the provider's consent screen with a
   ``state`` sealed by the vault (tenant, connection, a nonce, an expiry ten minutes out)
   and the nonce in a cookie, so only the browser that started the sign-in can finish it;
2. ``GET /oauth/callback`` checks the state, exchanges the code at the token endpoint,
   checks that the new grant reaches the very company the connection posts into, stores
   the tokens and resumes the connection, makes the postings held for the reconnect due
   again, and notes the reconnect on the connection's open auth ticket.

The callback also finishes the sign-ins that connect new books (``api.connect``), told
apart by the purpose sealed in their state; what both flows share is in ``api.oauth``.

The providers' side, as documented:

- Intuit, "Set up OAuth 2.0" (authorization request with client_id, scope, redirect_uri,
  response_type=code and state; the redirect back carries code, state and realmId):
  https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0
- Xero, "The standard authorization code flow" (authorize at login.xero.com, tokens at
  identity.xero.com with HTTP Basic client credentials, then ``GET /connections`` to learn
  which tenants the token may call):
  https://developer.xero.com/documentation/guides/oauth2/auth-flow/
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import QueryParams

from salesync.api.connect import PURPOSE as CONNECT
from salesync.api.connect import Connect
from salesync.api.oauth import (
    CALLBACK_PATH,
    COOKIE,
    QBO_AUTHORIZE_URL,
    STATE_TTL,
    XERO_AUTHORIZE_URL,
    XERO_CONNECTIONS_URL,
    Consent,
    OAuthApp,
    Provider,
    RefusedError,
    company_of,
    page,
    pages,
    render,
)
from salesync.connectors.tokens import TokenManager
from salesync.domain.errors import ErrorKind
from salesync.domain.tickets import TicketState
from salesync.engine.incidents import add_event
from salesync.engine.outbox import Outbox, PostingState
from salesync.store.tables import ConnectionRow, PostingRow, TicketRow
from salesync.store.vault import Vault

__all__ = ["CALLBACK_PATH", "COOKIE", "OAuthApp", "Reconnect"]

log = structlog.get_logger("salesync.reconnect")

_PURPOSE = "reconnect"
_WHERE = "the reconnect link"
_ACTIVE_TICKETS = [s.value for s in TicketState if s.active]
_CALLBACK_QUERY = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "description": what,
        "schema": {"type": "string"},
    }
    for name, what in (
        ("state", "The state salesync sealed into the consent request."),
        ("code", "The authorization code to exchange for tokens."),
        ("realmId", "The QuickBooks company chosen (Intuit only)."),
        ("error", "Why the provider sends the merchant back without a code."),
        ("error_description", "The provider's words for ``error``."),
    )
] + [
    {
        "name": COOKIE,
        "in": "cookie",
        "required": False,
        "description": "The nonce of the sign-in this browser started.",
        "schema": {"type": "string"},
    }
]


@dataclass(frozen=True, slots=True)
class _State:
    tenant_id: str
    connection_id: str
    nonce: str


class Reconnect:
    """The reconnect link and the OAuth callback (see the module docstring)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        vault: Vault,
        tokens: TokenManager,
        *,
        clients: Callable[[str], OAuthApp | None],
        public_url: str,
        qbo_authorize_url: str = QBO_AUTHORIZE_URL,
        xero_authorize_url: str = XERO_AUTHORIZE_URL,
        xero_connections_url: str = XERO_CONNECTIONS_URL,
        transport: httpx.BaseTransport | None = None,
        state_ttl: timedelta = STATE_TTL,
        timeout: float = 30.0,
        api_urls: Mapping[str, str] | None = None,
    ) -> None:
        """``clients`` gives salesync's OAuth app at a provider (None when not configured);
        ``public_url`` is where merchants reach salesync, so the provider sends them back
        to ``<public_url>/oauth/callback`` (registered as a redirect URI of each app).
        ``api_urls`` is the accounting API, by provider, that books connected from the
        dashboard post to (the provider's own when not given; a sandbox's in tests)."""
        self.factory = factory
        self.clock = clock
        self.vault = vault
        self.tokens = tokens
        self.consent = Consent(
            clock,
            vault,
            clients=clients,
            public_url=public_url,
            qbo_authorize_url=qbo_authorize_url,
            xero_authorize_url=xero_authorize_url,
            xero_connections_url=xero_connections_url,
            transport=transport,
            state_ttl=state_ttl,
            timeout=timeout,
        )
        self.public_url = self.consent.public_url
        self.connect = Connect(factory, clock, vault, self.consent, api_urls=api_urls)
        """Connecting new books, which comes back through the same callback."""

    def register(self, app: FastAPI) -> None:
        # Each answer is built whole (a page or a redirect); ``Response`` keeps FastAPI from
        # declaring an answer of its own next to the ones listed.
        app.add_api_route(
            "/connections/{connection_id}/reconnect",
            self.start,
            methods=["GET"],
            summary="Sign in to the books again",
            tags=["reconnect"],
            response_class=Response,
            status_code=302,
            response_description="To the provider's consent screen.",
            responses={
                302: {
                    "headers": {
                        "Location": {"required": True, "schema": {"type": "string"}},
                    }
                },
                **pages(
                    {
                        404: "No such connection, or one that does not sign in through salesync.",
                        503: "Sign-in with this provider is not set up on this server, or "
                        "the database is unavailable (then in the API's JSON).",
                    }
                ),
            },
        )
        app.add_api_route(
            CALLBACK_PATH,
            self.callback,
            methods=["GET"],
            summary="Where the provider sends the merchant back",
            tags=["reconnect"],
            response_class=Response,
            response_description="Connected again, or nothing changed as the merchant chose.",
            responses={
                303: {
                    "description": "New books connected: to the tenant's connections page; "
                    "or, not signed in, to the sign-in page and back here.",
                    "headers": {
                        "Location": {"required": True, "schema": {"type": "string"}},
                    },
                },
                **pages(
                    {
                        200: "Connected again, or nothing changed as the merchant chose.",
                        400: "The sign-in cannot finish: expired, started in another browser, "
                        "not from salesync, or refused by the provider.",
                        403: "New books: another user than the one who started is signed in, "
                        "or one who may not manage the tenant's connections.",
                        404: "The connection, or the tenant new books were for, no longer exists.",
                        409: "The merchant signed in to another company than the connection's, "
                        "to books the tenant already posts into, or to several at once.",
                        502: "The provider did not answer, or refused salesync's app.",
                        503: "Sign-in with this provider is no longer set up on this server, "
                        "or the database is unavailable (then in the API's JSON).",
                    }
                ),
            },
            openapi_extra={"parameters": _CALLBACK_QUERY},
        )

    def link(self, connection_id: str) -> str:
        return f"{self.public_url}/connections/{connection_id}/reconnect"

    # -- the link ---------------------------------------------------------------------

    def start(self, connection_id: str) -> Response:
        """Send the merchant to the provider's consent screen for this connection."""
        with self.factory() as session:
            row = session.get(ConnectionRow, connection_id)
            found = (row.tenant_id, row.provider) if row is not None else None
        if found is None:
            return page(
                404,
                "Connection not found",
                "salesync has no connection behind this link. It may have been removed, "
                "or the link was copied incompletely.",
                "Open the link from the latest e-mail salesync sent you, or ask your "
                "support contact for a new one.",
            )
        tenant_id, name = found
        try:
            provider, app = self._provider(name)
        except RefusedError as refused:
            return refused.page
        nonce = secrets.token_urlsafe(16)
        state = self._seal(_State(tenant_id, connection_id, nonce))
        response = RedirectResponse(
            self.consent.authorize_url(provider, app, state), status_code=302
        )
        self.consent.hold_nonce(response, nonce)
        return response

    def _provider(self, name: str) -> tuple[Provider, OAuthApp]:
        provider = self.consent.providers.get(name)
        if provider is None:
            raise RefusedError(
                page(
                    404,
                    "Nothing to reconnect here",
                    "This connection does not sign in through salesync, so there is "
                    "nothing to reconnect from this page. Its settings in salesync say how "
                    "it connects.",
                )
            )
        app = self.consent.clients(name)
        if app is None:
            setting = f"SALESYNC_{name.upper()}_CLIENT"
            raise RefusedError(
                page(
                    503,
                    f"{provider.label} sign-in is not set up",
                    f"salesync has no {provider.label} app to sign in with, so it cannot "
                    "reconnect this connection yet. Nothing has changed.",
                    f"The person running salesync should set {setting}_ID and "
                    f"{setting}_SECRET (the app's credentials from the provider's developer "
                    "site) and restart salesync; then open this link again.",
                )
            )
        return provider, app

    # -- the way back -----------------------------------------------------------------

    def callback(self, request: Request) -> Response:
        """Finish the sign-in the provider sends the merchant back from: new books when
        the state says so (``Connect``), else a reconnect."""
        params = request.query_params
        opened = self.consent.unseal(params.get("state", ""))
        if opened is not None and opened.get("purpose") == CONNECT:
            return self.connect.callback(request, opened)
        state = self._open(params.get("state", ""), request.cookies.get(COOKIE))
        if state is None:
            return page(
                400,
                "This sign-in cannot be finished",
                "The sign-in took longer than ten minutes, was started in another browser, "
                "or did not come from salesync. Nothing has changed.",
                "Start again from the reconnect link in salesync's e-mail.",
            )
        link = self.link(state.connection_id)
        try:
            answer = self._finish(state, params.get("error"), params, link)
        except RefusedError as refused:
            return refused.page
        answer.delete_cookie(COOKIE, path=CALLBACK_PATH)
        return answer

    def _finish(
        self, state: _State, error: str | None, params: QueryParams, link: str
    ) -> HTMLResponse:
        with self.factory() as session:
            row = session.get(ConnectionRow, state.connection_id)
            if row is None or row.tenant_id != state.tenant_id:
                raise RefusedError(
                    page(404, "Connection not found", "This connection no longer exists.")
                )
            name, (provider, app) = row.name, self._provider(row.provider)
            expected = company_of(provider, row.settings or {}, self.vault.open(row.credentials))
        if error == "access_denied":
            return page(
                200,
                "Nothing changed",
                f"You chose not to give salesync access to {provider.label}. Nothing has "
                f"changed: {name} stays paused, and the sales waiting for it are kept.",
                "When you are ready, open the reconnect link again.",
                link=link,
            )
        if error or not params.get("code"):
            described = params.get("error_description") or error or "no authorization code"
            raise RefusedError(
                page(
                    400,
                    "The sign-in did not finish",
                    f"{provider.label} answered: {described}. Nothing has changed.",
                    "Start again from the reconnect link.",
                    link=link,
                )
            )
        with self.consent.client() as http:
            code = params["code"]
            grant = self.consent.exchange(http, provider, app, code, link=link, where=_WHERE)
            company = self.consent.company(http, provider, grant, params, link=link, where=_WHERE)
        if expected is None or expected not in company.ids:
            log.warning(
                "reconnect_refused",
                tenant=state.tenant_id,
                connection=state.connection_id,
                provider=provider.name,
                reason="other_company",
            )
            chosen = ", ".join(company.names or company.ids) or "no company"
            own = f"company {expected}" if expected else "company it was set up for"
            raise RefusedError(
                page(
                    409,
                    "That is a different company",
                    f"You signed in to {chosen}, but {name} posts into the {provider.label} "
                    f"{own}. salesync did not switch it: posting your sales "
                    "into another company's books would put them in the wrong books, and "
                    "nothing has changed.",
                    f"Start again from the reconnect link and choose the {own}. "
                    "To move to other books, set up a new connection instead.",
                    link=link,
                )
            )
        try:
            self.tokens.reconnected(state.tenant_id, state.connection_id, grant)
        except KeyError:
            raise RefusedError(
                page(404, "Connection not found", "This connection no longer exists.")
            ) from None
        released = self._resume(state, provider, name)
        log.info(
            "reconnected",
            tenant=state.tenant_id,
            connection=state.connection_id,
            provider=provider.name,
            released=released,
        )
        return render(
            "reconnected.html",
            title=f"{provider.label} is connected again",
            label=provider.label,
            name=name,
            released=released,
        )

    def _resume(self, state: _State, provider: Provider, name: str) -> int:
        """Make this connection's postings held for the reconnect due again, and note the
        reconnect on its open auth tickets; how many postings were released."""
        now = self.clock()
        with self.factory() as session, session.begin():
            outbox = Outbox(session, state.tenant_id)
            held = session.scalars(
                select(PostingRow).where(
                    PostingRow.tenant_id == state.tenant_id,
                    PostingRow.state == PostingState.HELD.value,
                )
            )
            waiting = [p.id for p in held if _held_for(p, state.connection_id)]
            released = sum(outbox.retry_now(posting_id, now) for posting_id in waiting)
            tickets = session.scalars(
                select(TicketRow).where(
                    TicketRow.tenant_id == state.tenant_id,
                    TicketRow.connection_id == state.connection_id,
                    TicketRow.kind == ErrorKind.AUTH.value,
                    TicketRow.state.in_(_ACTIVE_TICKETS),
                )
            )
            for ticket in tickets:
                add_event(
                    session,
                    ticket,
                    "reconnected",
                    now,
                    actor="merchant",
                    text=f"The merchant reconnected {name} ({provider.label}); "
                    f"{released} held posting(s) released.",
                    data={"connection": state.connection_id, "released": released},
                )
        return released

    # -- the state --------------------------------------------------------------------

    def _seal(self, state: _State) -> str:
        sealed, _ = self.consent.seal(
            _PURPOSE,
            {"tenant": state.tenant_id, "connection": state.connection_id, "nonce": state.nonce},
        )
        return sealed

    def _open(self, sealed: str, nonce: str | None) -> _State | None:
        """The state if the vault sealed it, it has not expired, and this browser holds
        its nonce; None otherwise."""
        if not nonce:
            return None
        data = self.consent.unseal(sealed)
        if data is None or data.get("purpose") != _PURPOSE or self.consent.expired(data):
            return None
        try:
            state = _State(str(data["tenant"]), str(data["connection"]), str(data["nonce"]))
        except KeyError:
            return None
        if not hmac.compare_digest(state.nonce.encode(), nonce.encode()):
            return None
        return state


def _held_for(posting: PostingRow, connection_id: str) -> bool:
    """Whether the posting waits for this connection's reconnect: held for an auth
    failure, and bound for the connection (its destination) or failed on it."""
    error = posting.last_error or {}
    if error.get("kind") != ErrorKind.AUTH.value:
        return False
    return connection_id in (posting.destination, error.get("connection"))
