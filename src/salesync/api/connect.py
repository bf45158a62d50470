"""Connecting new books: a merchant signs in to QuickBooks Online or Xero from salesync,
and the company chosen becomes a destination connection of their tenant.

1. The dashboard's form (``POST /app/{tenant}/connections/new``) or the REST API
   (``POST /api/v1/tenants/{tenant}/connections/authorizations``) calls ``Connect.begin``:
   a ``state`` sealed by the vault binds the tenant, the provider, the connection's name,
   who started (the signed-in user, or any user who may manage the tenant's connections
   when a tenant API token started), a nonce and an expiry ten minutes out. The browser
   that started from the dashboard also holds the nonce in a cookie.
2. The provider sends the merchant back to ``GET /oauth/callback``, which hands states
   whose purpose is ``connect`` to ``Connect.callback``: the dashboard session of the user
   who started must be open (any manager of the tenant for a token's start), the browser
   must hold the nonce when it started in one, and the code is exchanged as a reconnect
   exchanges it (``api.oauth``). The company is QuickBooks' ``realmId``, or the one Xero
   organisation the grant reaches; books the tenant already posts into are refused.
   The connection is stored with its tokens sealed by the vault and its company in its
   settings, exactly as ``salesync connection add`` stores one, so posting works the same.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import structlog
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.roles import Action, Principal
from salesync.api.auth import signed_in
from salesync.api.dashboard.shell import NOTICE_COOKIE
from salesync.api.oauth import (
    CALLBACK_PATH,
    COOKIE,
    Company,
    Consent,
    OAuthApp,
    Provider,
    RefusedError,
    company_of,
    page,
)
from salesync.connectors.tokens import Grant
from salesync.store.repositories import Connections
from salesync.store.tables import ConnectionRow, TenantRow
from salesync.store.vault import Vault

log = structlog.get_logger("salesync.connect")

PURPOSE = "connect"
MAX_NAME = 200
"""As long as a connection's name may be (``connections.name``)."""
_WHERE = "the Connections page in salesync"


class ConnectRefusedError(Exception):
    """A connect flow that cannot start: ``status`` and ``code`` as the REST API answers,
    ``message`` in words for the merchant."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Started:
    """Where to send the merchant, until when the sign-in may finish, and the nonce a
    browser that started it holds."""

    authorize_url: str
    expires_at: datetime
    nonce: str


@dataclass(frozen=True, slots=True)
class _State:
    tenant_id: str
    provider: str
    name: str
    user_id: str | None
    """None: any user who may manage the tenant's connections (a tenant token started)."""
    email: str | None
    nonce: str
    browser: bool
    """Whether a browser started, and holds the nonce in its cookie."""

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> _State:
        user = data.get("user")
        return cls(
            str(data["tenant"]),
            str(data["provider"]),
            str(data["name"]),
            str(user) if user else None,
            str(data["email"]) if data.get("email") else None,
            str(data["nonce"]),
            bool(data.get("browser")),
        )


def start_link(tenant_id: str, provider: str) -> str:
    """The dashboard's form to connect books of ``provider`` to the tenant."""
    return f"/app/{tenant_id}/connections/new?{urlencode({'provider': provider})}"


def name_problem(name: str) -> str | None:
    """What is wrong with a connection's name, if anything."""
    if not name.strip():
        return "Give the connection a name, such as 'QuickBooks books'."
    if len(name) > MAX_NAME:
        return f"A connection's name has at most {MAX_NAME} characters."
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in name):
        return "A connection's name cannot hold control characters."
    return None


class Connect:
    """Starts the sign-in that connects new books, and finishes it at the callback."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        vault: Vault,
        consent: Consent,
        *,
        api_urls: Mapping[str, str] | None = None,
    ) -> None:
        """``api_urls`` is the accounting API, by provider, new connections post to (the
        provider's own when not given)."""
        self.factory = factory
        self.clock = clock
        self.vault = vault
        self.consent = consent
        self.api_urls = dict(api_urls or {})

    def offered(self) -> list[Provider]:
        """The providers whose OAuth app is configured, so books of theirs can connect."""
        return [p for p in self.consent.providers.values() if self.consent.clients(p.name)]

    # -- starting ---------------------------------------------------------------------

    def begin(
        self, tenant_id: str, provider: str, name: str, user: Principal | None, *, browser: bool
    ) -> Started:
        """Seal the state of a new connection called ``name`` and give the consent URL;
        ``user`` is who must finish it (None: any user who may manage the tenant's
        connections); raises ``ConnectRefusedError`` saying why it cannot start."""
        found = self.consent.providers.get(provider)
        if found is None:
            known = " or ".join(f"{p.name} ({p.label})" for p in self.consent.providers.values())
            raise ConnectRefusedError(422, "unknown_provider", f"Choose {known}.")
        name = name.strip()
        problem = name_problem(name)
        if problem is not None:
            raise ConnectRefusedError(422, "bad_name", problem)
        app = self.consent.clients(provider)
        if app is None:
            raise ConnectRefusedError(503, "oauth_app_missing", _not_set_up(found))
        with self.factory() as session:
            if _named(session, tenant_id, name) is not None:
                raise ConnectRefusedError(
                    409,
                    "name_taken",
                    f"A connection called {name!r} exists already; choose another name.",
                )
        nonce = secrets.token_urlsafe(16)
        sealed, expires_at = self.consent.seal(
            PURPOSE,
            {
                "tenant": tenant_id,
                "provider": provider,
                "name": name,
                "user": user.user_id if user is not None else None,
                "email": user.email if user is not None else None,
                "nonce": nonce,
                "browser": browser,
            },
        )
        log.info("connect_started", tenant=tenant_id, provider=provider, by_token=user is None)
        return Started(self.consent.authorize_url(found, app, sealed), expires_at, nonce)

    # -- the way back -----------------------------------------------------------------

    def callback(self, request: Request, data: Mapping[str, Any]) -> Response:
        """Finish a connect sign-in whose sealed state is ``data``."""
        try:
            state = _State.of(data)
        except KeyError:
            return page(
                400,
                "This sign-in cannot be finished",
                "The sign-in did not come from salesync. Nothing was added.",
                f"Start again from {_WHERE}.",
            )
        again = start_link(state.tenant_id, state.provider)
        try:
            self._check_fresh(request, data, state, again)
            opened = signed_in(self.factory, self.clock, request)
            if opened is None:
                # The code stays good for a few minutes: signing in comes straight back
                # here, and the browser keeps its nonce for it.
                back = f"{request.url.path}?{request.url.query}"
                return RedirectResponse(f"/login?next={quote(back, safe='')}", status_code=303)
            answer = self._finish(request, state, opened.principal, again)
        except RefusedError as refused:
            answer = refused.page
        answer.delete_cookie(COOKIE, path=CALLBACK_PATH)
        return answer

    def _check_fresh(
        self, request: Request, data: Mapping[str, Any], state: _State, again: str
    ) -> None:
        """Refuse a state that expired, or a browser that did not start the sign-in."""
        if self.consent.expired(data):
            raise RefusedError(
                page(
                    400,
                    "This sign-in has expired",
                    "More than ten minutes passed between starting the sign-in and coming "
                    "back to salesync. Nothing was added.",
                    f"Start again from {_WHERE}.",
                    link=again,
                )
            )
        if state.browser and not _same(state.nonce, request.cookies.get(COOKIE)):
            raise RefusedError(
                page(
                    400,
                    "This sign-in was started in another browser",
                    "salesync only finishes a sign-in in the browser that started it, so "
                    "that nobody can connect their books to your account with a link. "
                    "Nothing was added.",
                    f"Start again from {_WHERE} in this browser.",
                    link=again,
                )
            )

    def _finish(self, request: Request, state: _State, who: Principal, again: str) -> Response:
        params = request.query_params
        self._check_user(state, who, again)
        provider, app = self._provider(state)
        error = params.get("error")
        if error == "access_denied":
            return page(
                200,
                "Nothing changed",
                f"You chose not to give salesync access to {provider.label}, so no books "
                "were connected.",
                "When you are ready, start again from the Connections page.",
                link=again,
            )
        if error or not params.get("code"):
            described = params.get("error_description") or error or "no authorization code"
            raise RefusedError(
                page(
                    400,
                    "The sign-in did not finish",
                    f"{provider.label} answered: {described}. Nothing was added.",
                    f"Start again from {_WHERE}.",
                    link=again,
                )
            )
        with self.consent.client() as http:
            code = params["code"]
            grant = self.consent.exchange(http, provider, app, code, link=again, where=_WHERE)
            company = self.consent.company(
                http, provider, grant, params, link=again, where=_WHERE, this_sign_in=True
            )
        chosen = self._chosen(provider, company, again)
        created = self._create(state, provider, company, grant, chosen=chosen, again=again)
        log.info(
            "connected",
            tenant=state.tenant_id,
            connection=created,
            provider=provider.name,
            by=who.user_id,
        )
        return _notice_redirect(
            f"/app/{state.tenant_id}/connections",
            f"Connected {provider.label} {provider.company_word} {company.name_of(chosen)} "
            f"as {state.name}: your sales post into these books from now on.",
        )

    def _check_user(self, state: _State, who: Principal, again: str) -> None:
        """The signed-in user must be the one who started, and may still manage the
        tenant's connections."""
        if state.user_id is not None and who.user_id != state.user_id:
            starter = state.email or "another user"
            raise RefusedError(
                page(
                    403,
                    "Started by another user",
                    f"This sign-in was started by {starter}, but you are signed in to "
                    f"salesync as {who.email}. Nothing was added.",
                    f"Sign in to salesync as {starter} and start again, or start again "
                    "yourself from the Connections page.",
                    link=again,
                )
            )
        if not who.can(Action.MANAGE_CONNECTIONS, state.tenant_id):
            raise RefusedError(
                page(
                    403,
                    "You may not connect books here",
                    f"Signed in as {who.email} ({who.role.value}), you may not manage this "
                    "salesync account's connections. Nothing was added.",
                    "Sign in as the account's owner, or ask them to connect the books.",
                )
            )

    def _provider(self, state: _State) -> tuple[Provider, OAuthApp]:
        provider = self.consent.providers.get(state.provider)
        app = self.consent.clients(state.provider) if provider is not None else None
        if provider is None or app is None:
            label = provider.label if provider is not None else state.provider
            raise RefusedError(
                page(
                    503,
                    f"{label} sign-in is not set up",
                    _not_set_up(provider) if provider else f"salesync cannot sign in to {label}.",
                )
            )
        return provider, app

    def _chosen(self, provider: Provider, company: Company, again: str) -> str:
        """The one company the grant connects, or the page saying why there is none."""
        if len(company.ids) == 1:
            return company.ids[0]
        word = provider.company_word
        if not company.ids:
            raise RefusedError(
                page(
                    400,
                    "No company was chosen",
                    f"{provider.label} did not say which {word} you gave salesync access to. "
                    "Nothing was added.",
                    f"Start again from {_WHERE} and choose a {word} on {provider.label}'s screen.",
                    link=again,
                )
            )
        listed = ", ".join(company.names or company.ids)
        raise RefusedError(
            page(
                409,
                f"Several {word}s at once",
                f"This sign-in gave salesync access to {len(company.ids)} {provider.label} "
                f"{word}s ({listed}), and a connection posts into exactly one. "
                "Nothing was added.",
                f"Start again from {_WHERE} and choose only the {word} these sales belong "
                "in; connect any other as a connection of its own.",
                link=again,
            )
        )

    def _create(
        self,
        state: _State,
        provider: Provider,
        company: Company,
        grant: Grant,
        *,
        chosen: str,
        again: str,
    ) -> str:
        """Store the connection with its tokens and company; the id."""
        settings: dict[str, Any] = {provider.company_keys[0]: chosen}
        if provider.name in self.api_urls:
            settings["base_url"] = self.api_urls[provider.name]
        try:
            with self.factory() as session, session.begin():
                if session.get(TenantRow, state.tenant_id) is None:
                    raise RefusedError(
                        page(404, "Account not found", "This salesync account no longer exists.")
                    )
                self._refuse_twice(session, state, provider, company, chosen=chosen, again=again)
                if _named(session, state.tenant_id, state.name) is not None:
                    raise _name_taken(state, again)
                return Connections(session, state.tenant_id, self.vault).add(
                    provider.name, "destination", state.name, grant.into({}), settings
                )
        except IntegrityError:
            # Another sign-in took the name between the check and the commit.
            raise _name_taken(state, again) from None

    def _refuse_twice(
        self,
        session: Session,
        state: _State,
        provider: Provider,
        company: Company,
        *,
        chosen: str,
        again: str,
    ) -> None:
        rows = session.scalars(
            select(ConnectionRow).where(
                ConnectionRow.tenant_id == state.tenant_id,
                ConnectionRow.provider == provider.name,
            )
        )
        for row in rows:
            if company_of(provider, row.settings or {}, self.vault.open(row.credentials)) != chosen:
                continue
            log.warning(
                "connect_refused", tenant=state.tenant_id, provider=provider.name, reason="twice"
            )
            raise RefusedError(
                page(
                    409,
                    "These books are connected already",
                    f"Your sales already post into the {provider.label} {provider.company_word} "
                    f"{company.name_of(chosen)} through the connection {row.name!r}. "
                    "Nothing was added: a second connection would post every sale twice.",
                    f"If {row.name!r} needs signing in again, use its Reconnect button on "
                    "the Connections page; to connect other books, start again and choose "
                    "another company.",
                    link=again,
                )
            )


def _same(nonce: str, held: str | None) -> bool:
    return held is not None and secrets.compare_digest(nonce.encode(), held.encode())


def _named(session: Session, tenant_id: str, name: str) -> str | None:
    return session.scalar(
        select(ConnectionRow.id).where(
            ConnectionRow.tenant_id == tenant_id, ConnectionRow.name == name
        )
    )


def _name_taken(state: _State, again: str) -> RefusedError:
    return RefusedError(
        page(
            409,
            "That name is taken",
            f"A connection called {state.name!r} was added meanwhile. Nothing was added.",
            f"Start again from {_WHERE} with another name.",
            link=again,
        )
    )


def _not_set_up(provider: Provider) -> str:
    setting = f"SALESYNC_{provider.name.upper()}_CLIENT"
    return (
        f"salesync has no {provider.label} app to sign in with, so books cannot be "
        f"connected yet. The person running salesync should set {setting}_ID and "
        f"{setting}_SECRET (the app's credentials from the provider's developer site) and "
        "restart salesync."
    )


def _notice_redirect(target: str, notice: str) -> RedirectResponse:
    """To a dashboard page showing ``notice`` once, as ``Dashboard.redirect`` does."""
    response = RedirectResponse(target, status_code=303)
    encoded = base64.urlsafe_b64encode(notice[:500].encode()).decode()
    response.set_cookie(NOTICE_COOKIE, encoded, max_age=60, path="/", httponly=True)
    return response
