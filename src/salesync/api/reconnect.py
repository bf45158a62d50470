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
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import QueryParams

from salesync.api.answers import declared
from salesync.connectors.tokens import Grant, TokenManager, _parse_grant
from salesync.domain.errors import AuthError, ErrorKind, SyncError
from salesync.domain.tickets import TicketState
from salesync.engine.incidents import add_event
from salesync.engine.outbox import Outbox, PostingState
from salesync.store.tables import ConnectionRow, PostingRow, TicketRow
from salesync.store.vault import Vault

log = structlog.get_logger("salesync.reconnect")

QBO_AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
XERO_AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
XERO_CONNECTIONS_URL = "https://api.xero.com/connections"
CALLBACK_PATH = "/oauth/callback"
STATE_TTL = timedelta(minutes=10)
COOKIE = "salesync_reconnect"
"""Holds the nonce of the sign-in this browser started (OAuth's CSRF defence, RFC 6749
§10.12): a state carried to another browser cannot complete there."""
_PURPOSE = "reconnect"
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

_ENV = Environment(
    loader=PackageLoader("salesync.api", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """salesync's app at one provider, in the order ``Settings.oauth_client`` gives it."""

    token_url: str
    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class Provider:
    """How one provider's consent is asked for, and which company a grant reaches."""

    name: str
    label: str
    authorize_url: str
    scope: str
    company_keys: tuple[str, ...]
    """Where a connection names the company its postings go into (its settings, else
    its credentials)."""


@dataclass(frozen=True, slots=True)
class _State:
    tenant_id: str
    connection_id: str
    nonce: str


@dataclass(frozen=True, slots=True)
class _Company:
    """What the new grant reaches: the company ids, and their names where known."""

    ids: tuple[str, ...]
    names: tuple[str, ...] = ()


class _RefusedError(Exception):
    """The sign-in cannot complete; carries the page that says why."""

    def __init__(self, page: HTMLResponse) -> None:
        super().__init__(page.status_code)
        self.page = page


def pages(statuses: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses``: each status (and when) a page for the merchant's browser;
    a database that is unavailable or an unexpected failure answers in the API's JSON."""
    html = {"text/html": {"schema": {"type": "string"}}}
    responses: dict[int | str, dict[str, Any]] = {
        status: {"description": when, "content": html} for status, when in statuses.items()
    }
    for status, json_answer in declared({}).items():
        if status in responses:
            responses[status]["model"] = json_answer["model"]
        else:
            responses[status] = json_answer
    return responses


def page(status: int, title: str, *paragraphs: str, link: str | None = None) -> HTMLResponse:
    """A small page in plain words; ``link`` is offered as the way to start again."""
    html = _ENV.get_template("message.html").render(title=title, paragraphs=paragraphs, link=link)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


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
    ) -> None:
        """``clients`` gives salesync's OAuth app at a provider (None when not configured);
        ``public_url`` is where merchants reach salesync, so the provider sends them back
        to ``<public_url>/oauth/callback`` (registered as a redirect URI of each app)."""
        self.factory = factory
        self.clock = clock
        self.vault = vault
        self.tokens = tokens
        self.clients = clients
        self.public_url = public_url.rstrip("/")
        self.redirect_uri = self.public_url + CALLBACK_PATH
        self.xero_connections_url = xero_connections_url
        self.transport = transport
        self.state_ttl = state_ttl
        self.timeout = timeout
        self.providers = {
            "qbo": Provider(
                "qbo",
                "QuickBooks Online",
                qbo_authorize_url,
                "com.intuit.quickbooks.accounting",
                ("realm_id", "realmId"),
            ),
            "xero": Provider(
                "xero",
                "Xero",
                xero_authorize_url,
                "offline_access accounting.transactions accounting.settings accounting.contacts",
                ("tenant_id",),
            ),
        }

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
            responses=pages(
                {
                    200: "Connected again, or nothing changed as the merchant chose.",
                    400: "The sign-in cannot finish: expired, started in another browser, "
                    "not from salesync, or refused by the provider.",
                    404: "The connection no longer exists.",
                    409: "The merchant signed in to another company than the connection's.",
                    502: "The provider did not answer, or refused salesync's app.",
                }
            ),
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
        except _RefusedError as refused:
            return refused.page
        nonce = secrets.token_urlsafe(16)
        query = urlencode(
            {
                "client_id": app.client_id,
                "redirect_uri": self.redirect_uri,
                "response_type": "code",
                "scope": provider.scope,
                "state": self._seal(_State(tenant_id, connection_id, nonce)),
            },
            quote_via=quote,
        )
        response = RedirectResponse(f"{provider.authorize_url}?{query}", status_code=302)
        response.set_cookie(
            COOKIE,
            nonce,
            max_age=int(self.state_ttl.total_seconds()),
            path=CALLBACK_PATH,
            secure=self.public_url.startswith("https://"),
            httponly=True,
            samesite="lax",  # the provider's redirect back is a top-level GET
        )
        return response

    def _provider(self, name: str) -> tuple[Provider, OAuthApp]:
        provider = self.providers.get(name)
        if provider is None:
            raise _RefusedError(
                page(
                    404,
                    "Nothing to reconnect here",
                    "This connection does not sign in through salesync, so there is "
                    "nothing to reconnect from this page. Its settings in salesync say how "
                    "it connects.",
                )
            )
        app = self.clients(name)
        if app is None:
            setting = f"SALESYNC_{name.upper()}_CLIENT"
            raise _RefusedError(
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
        """Finish the sign-in the provider sends the merchant back from."""
        params = request.query_params
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
        except _RefusedError as refused:
            return refused.page
        answer.delete_cookie(COOKIE, path=CALLBACK_PATH)
        return answer

    def _finish(
        self, state: _State, error: str | None, params: QueryParams, link: str
    ) -> HTMLResponse:
        with self.factory() as session:
            row = session.get(ConnectionRow, state.connection_id)
            if row is None or row.tenant_id != state.tenant_id:
                raise _RefusedError(
                    page(404, "Connection not found", "This connection no longer exists.")
                )
            name, (provider, app) = row.name, self._provider(row.provider)
            expected = _company_of(provider, row.settings or {}, self.vault.open(row.credentials))
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
            raise _RefusedError(
                page(
                    400,
                    "The sign-in did not finish",
                    f"{provider.label} answered: {described}. Nothing has changed.",
                    "Start again from the reconnect link.",
                    link=link,
                )
            )
        with httpx.Client(transport=self.transport, timeout=self.timeout) as http:
            grant = self._exchange(http, provider, app, params["code"], link)
            company = self._company(http, provider, grant, params, link)
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
            raise _RefusedError(
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
            raise _RefusedError(
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
        html = _ENV.get_template("reconnected.html").render(
            title=f"{provider.label} is connected again",
            label=provider.label,
            name=name,
            released=released,
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    def _exchange(
        self, http: httpx.Client, provider: Provider, app: OAuthApp, code: str, link: str
    ) -> Grant:
        """The authorization_code grant (RFC 6749 §4.1.3) with HTTP Basic client auth."""
        try:
            response = http.post(
                app.token_url,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri,
                },
                auth=(app.client_id, app.client_secret),
                headers={"Accept": "application/json"},
            )
            body = response.json() if response.content else {}
        except (httpx.HTTPError, ValueError):
            body, response = {}, None
        if response is None or response.status_code == 429 or response.status_code >= 500:
            raise _RefusedError(self._unanswered(provider, link))
        error = str(body.get("error") or "") if isinstance(body, dict) else ""
        if error == "invalid_client":
            raise _RefusedError(
                page(
                    502,
                    f"{provider.label} refused salesync's app",
                    f"{provider.label} did not accept salesync's app credentials, so the "
                    "sign-in could not finish. Nothing has changed.",
                    f"The person running salesync should check SALESYNC_{provider.name.upper()}"
                    f"_CLIENT_ID and SALESYNC_{provider.name.upper()}_CLIENT_SECRET.",
                )
            )
        if response.status_code >= 400 or not isinstance(body, dict):
            raise _RefusedError(
                page(
                    400,
                    "The sign-in could not be finished",
                    f"{provider.label} did not accept the sign-in ({error or response.status_code}"
                    "): it may have been used already or have expired. Nothing has changed.",
                    "Start again from the reconnect link.",
                    link=link,
                )
            )
        try:
            return _parse_grant(body, Grant(""), self.clock())
        except SyncError:
            raise _RefusedError(self._unanswered(provider, link)) from None

    def _company(
        self,
        http: httpx.Client,
        provider: Provider,
        grant: Grant,
        params: QueryParams,
        link: str,
    ) -> _Company:
        """The companies the grant reaches: Intuit names the one chosen in ``realmId``;
        Xero lists the connected tenants at ``GET /connections``."""
        if provider.name == "qbo":
            realm = params.get("realmId")
            return _Company((realm,) if realm else ())
        try:
            response = http.get(
                self.xero_connections_url,
                headers={
                    "Authorization": f"Bearer {grant.access_token}",
                    "Accept": "application/json",
                },
            )
            listed = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            listed = None
        if not isinstance(listed, list):
            raise _RefusedError(self._unanswered(provider, link))
        tenants = [t for t in listed if isinstance(t, dict) and t.get("tenantId")]
        return _Company(
            tuple(str(t["tenantId"]) for t in tenants),
            tuple(str(t.get("tenantName") or t["tenantId"]) for t in tenants),
        )

    def _unanswered(self, provider: Provider, link: str) -> HTMLResponse:
        return page(
            502,
            f"{provider.label} did not answer",
            f"{provider.label}'s sign-in service did not answer in time, so the sign-in "
            "could not finish. Nothing has changed.",
            "Try again in a few minutes from the reconnect link.",
            link=link,
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
        expires_at = self.clock() + self.state_ttl
        sealed = self.vault.seal(
            {
                "purpose": _PURPOSE,
                "tenant": state.tenant_id,
                "connection": state.connection_id,
                "nonce": state.nonce,
                "expires_at": expires_at.isoformat(),
            }
        )
        return sealed.decode()

    def _open(self, sealed: str, nonce: str | None) -> _State | None:
        """The state if the vault sealed it, it has not expired, and this browser holds
        its nonce; None otherwise."""
        if not sealed or not nonce:
            return None
        try:
            data = self.vault.open(sealed.encode())
            expires_at = datetime.fromisoformat(str(data["expires_at"]))
            state = _State(str(data["tenant"]), str(data["connection"]), str(data["nonce"]))
        except (AuthError, KeyError, TypeError, ValueError):
            return None
        if data.get("purpose") != _PURPOSE or expires_at <= self.clock():
            return None
        if not hmac.compare_digest(state.nonce.encode(), nonce.encode()):
            return None
        return state


def _company_of(
    provider: Provider, settings: dict[str, Any], credentials: dict[str, Any]
) -> str | None:
    for source in (settings, credentials):
        for key in provider.company_keys:
            if source.get(key):
                return str(source[key])
    return None


def _held_for(posting: PostingRow, connection_id: str) -> bool:
    """Whether the posting waits for this connection's reconnect: held for an auth
    failure, and bound for the connection (its destination) or failed on it."""
    error = posting.last_error or {}
    if error.get("kind") != ErrorKind.AUTH.value:
        return False
    return connection_id in (posting.destination, error.get("connection"))
