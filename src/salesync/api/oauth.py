"""salesync's side of the OAuth 2.0 authorization code grant (RFC 6749 §4.1) with
QuickBooks Online and Xero, shared by connecting new books (``api.connect``) and
reconnecting existing ones (``api.reconnect``): the consent request, the sealed ``state``
and the browser's nonce, the code exchange, and which company a grant reaches.

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

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.datastructures import QueryParams

from salesync.api.answers import declared
from salesync.connectors.tokens import Grant, _parse_grant
from salesync.domain.errors import AuthError, SyncError
from salesync.store.vault import Vault

QBO_AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
XERO_AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
XERO_CONNECTIONS_URL = "https://api.xero.com/connections"
CALLBACK_PATH = "/oauth/callback"
STATE_TTL = timedelta(minutes=10)
COOKIE = "salesync_reconnect"
"""Holds the nonce of the sign-in this browser started (OAuth's CSRF defence, RFC 6749
§10.12): a state carried to another browser cannot complete there. The name predates
connecting new books through the same callback."""

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
    its credentials); the first is where a new connection's settings name it."""
    company_word: str = "company"
    """What the provider calls the books of one business."""


@dataclass(frozen=True, slots=True)
class Company:
    """What a grant reaches: the company ids, and their names where known."""

    ids: tuple[str, ...]
    names: tuple[str, ...] = ()

    def name_of(self, company_id: str) -> str:
        """The company's name, or its id when the provider does not say."""
        return dict(zip(self.ids, self.names, strict=False)).get(company_id) or company_id


class RefusedError(Exception):
    """The sign-in cannot complete; carries the page that says why."""

    def __init__(self, page: Response) -> None:
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


def render(template: str, **context: Any) -> HTMLResponse:
    """One of the flow's own pages (not in the dashboard's layout)."""
    html = _ENV.get_template(template).render(**context)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def company_of(
    provider: Provider, settings: Mapping[str, Any], credentials: Mapping[str, Any]
) -> str | None:
    """The company a connection posts into, as its settings (else credentials) name it."""
    for source in (settings, credentials):
        for key in provider.company_keys:
            if source.get(key):
                return str(source[key])
    return None


class Consent:
    """Asks a provider for consent and turns the answer into a grant and its company."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        vault: Vault,
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
        """See ``Reconnect``, which takes the same arguments."""
        self.clock = clock
        self.vault = vault
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
                "organisation",
            ),
        }

    # -- asking ---------------------------------------------------------------------------

    def authorize_url(self, provider: Provider, app: OAuthApp, state: str) -> str:
        """Where the merchant gives consent; the provider sends them back with ``state``."""
        query = urlencode(
            {
                "client_id": app.client_id,
                "redirect_uri": self.redirect_uri,
                "response_type": "code",
                "scope": provider.scope,
                "state": state,
            },
            quote_via=quote,
        )
        return f"{provider.authorize_url}?{query}"

    def hold_nonce(self, response: Response, nonce: str) -> None:
        """Give the browser the nonce its callback must show (only to the callback)."""
        response.set_cookie(
            COOKIE,
            nonce,
            max_age=int(self.state_ttl.total_seconds()),
            path=CALLBACK_PATH,
            secure=self.public_url.startswith("https://"),
            httponly=True,
            samesite="lax",  # the provider's redirect back is a top-level GET
        )

    def seal(self, purpose: str, fields: Mapping[str, Any]) -> tuple[str, datetime]:
        """A state only salesync can read, expiring ``state_ttl`` from now, and when."""
        expires_at = self.clock() + self.state_ttl
        sealed = self.vault.seal(
            {"purpose": purpose, **fields, "expires_at": expires_at.isoformat()}
        )
        return sealed.decode(), expires_at

    def unseal(self, sealed: str) -> dict[str, Any] | None:
        """What a state holds if the vault sealed it (expired or not); None otherwise."""
        if not sealed:
            return None
        try:
            data = self.vault.open(sealed.encode())
            datetime.fromisoformat(str(data["expires_at"]))
        except (AuthError, KeyError, TypeError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def expired(self, data: Mapping[str, Any]) -> bool:
        return datetime.fromisoformat(str(data["expires_at"])) <= self.clock()

    # -- the answer -----------------------------------------------------------------------

    def client(self) -> httpx.Client:
        return httpx.Client(transport=self.transport, timeout=self.timeout)

    def exchange(
        self,
        http: httpx.Client,
        provider: Provider,
        app: OAuthApp,
        code: str,
        *,
        link: str,
        where: str,
    ) -> Grant:
        """The authorization_code grant (RFC 6749 §4.1.3) with HTTP Basic client auth;
        a refusal's page sends the merchant back to ``where`` (``link``)."""
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
            raise RefusedError(self.unanswered(provider, link, where))
        error = str(body.get("error") or "") if isinstance(body, dict) else ""
        if error == "invalid_client":
            raise RefusedError(
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
            raise RefusedError(
                page(
                    400,
                    "The sign-in could not be finished",
                    f"{provider.label} did not accept the sign-in ({error or response.status_code}"
                    "): it may have been used already or have expired. Nothing has changed.",
                    f"Start again from {where}.",
                    link=link,
                )
            )
        try:
            return _parse_grant(body, Grant(""), self.clock())
        except SyncError:
            raise RefusedError(self.unanswered(provider, link, where)) from None

    def company(
        self,
        http: httpx.Client,
        provider: Provider,
        grant: Grant,
        params: QueryParams,
        *,
        link: str,
        where: str,
        this_sign_in: bool = False,
    ) -> Company:
        """The companies the grant reaches: Intuit names the one chosen in ``realmId``;
        Xero lists the connected tenants at ``GET /connections``, every one the user ever
        connected salesync to unless ``this_sign_in`` keeps those this sign-in connected
        (when the token says which)."""
        if provider.name == "qbo":
            realm = params.get("realmId")
            return Company((realm,) if realm else ())
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
            raise RefusedError(self.unanswered(provider, link, where))
        tenants = [t for t in listed if isinstance(t, dict) and t.get("tenantId")]
        event = auth_event(grant.access_token) if this_sign_in and len(tenants) > 1 else None
        if event is not None:
            tenants = [t for t in tenants if t.get("authEventId") == event] or tenants
        return Company(
            tuple(str(t["tenantId"]) for t in tenants),
            tuple(str(t.get("tenantName") or t["tenantId"]) for t in tenants),
        )

    def unanswered(self, provider: Provider, link: str, where: str) -> HTMLResponse:
        return page(
            502,
            f"{provider.label} did not answer",
            f"{provider.label}'s sign-in service did not answer in time, so the sign-in "
            "could not finish. Nothing has changed.",
            f"Try again in a few minutes from {where}.",
            link=link,
        )


def auth_event(access_token: str) -> str | None:
    """The ``authentication_event_id`` claim of a Xero access token (a JWT), naming the
    sign-in that issued it; None for a token that is not a JWT.

    The token comes straight from Xero's token endpoint over TLS, so its claims are read
    without checking the signature: they only narrow which of the listed tenants this
    sign-in connected. Xero, "Managing connections" (``authEventId``):
    https://developer.xero.com/documentation/guides/oauth2/tenants/
    """
    parts = access_token.split(".")
    if len(parts) != 3:  # header, claims, signature
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    found = claims.get("authentication_event_id") if isinstance(claims, dict) else None
    return str(found) if found else None
