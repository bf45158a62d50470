"""The token endpoint of each connection: which refresher renews its tokens, with which
app's credentials.

Destinations refresh at one endpoint per app (Intuit, Xero). Sources refresh at one that
follows the connection: an X-Series retailer's own host, Square's or Clover's sandbox or
production as the connection's settings say, another host a connection names. The app's
client id and secret come from the settings (``SALESYNC_<PROVIDER>_CLIENT_ID`` and
``_CLIENT_SECRET``); a connection that holds its own app's credentials (older R-Series
connections, an X-Series add-on's secret) uses those. A refresh is rare (hourly at most
for a connection), so each opens its HTTP client and closes it after: nothing is left
open for the life of a process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from salesync.config import Settings
from salesync.connectors import clover, lightspeed_r, lightspeed_x, square
from salesync.connectors.clover.refresh import CloverRefresher
from salesync.connectors.tokens import Grant, OAuthRefresher, Refresher, TokenHolder
from salesync.domain.errors import AuthError, BugError


def _missing(provider: str, what: str = "CLIENT_ID and CLIENT_SECRET") -> BugError:
    """The operator's fix, not the merchant's: the connection is not paused for it (as a
    refused grant would be), and the message names the settings to set."""
    names = " and ".join(f"SALESYNC_{provider.upper()}_{part}" for part in what.split(" and "))
    return BugError(
        f"no OAuth app is configured for {provider}",
        user_message=f"salesync cannot renew its access to {provider}: set {names}.",
        code="oauth_app_missing",
        provider=provider,
    )


class ClosingRefresher(Refresher, Protocol):
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class OneRefresh:
    """A refresher opened for one refresh and closed after it."""

    make: Callable[[], ClosingRefresher]

    def __call__(self, grant: Grant, now: datetime) -> Grant:
        refresher = self.make()
        try:
            return refresher(grant, now)
        finally:
            refresher.close()


class Refreshers:
    """Gives the refresher of a connection (a ``TokenManager``'s ``refresher``).

    Square, both Lightspeeds and Clover renew expiring tokens with a refresh token;
    Shopify's offline tokens do not expire, so a Shopify token refused is a reconnect.
    """

    def __init__(self, cfg: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self.cfg = cfg
        self.transport = transport

    def __call__(self, holder: TokenHolder) -> Refresher:
        provider = holder.provider
        if provider in ("qbo", "xero"):
            return self._destination(provider)
        if provider == "lightspeed_x":
            client_id, secret = self._app(provider, holder.credentials)
            url = lightspeed_x.token_url(holder.settings)
            return OneRefresh(
                lambda: lightspeed_x.token_refresher(url, client_id, secret, self.transport),
            )
        if provider == "lightspeed_r":
            client_id, secret = self._app(provider, holder.credentials)
            url = lightspeed_r.token_url(holder.settings)
            return OneRefresh(
                lambda: self._form(provider, url, client_id, secret),
            )
        if provider == "square":
            client_id, secret = self._app(provider, holder.credentials)
            # ObtainToken takes JSON with the app's credentials in it
            # (https://developer.squareup.com/reference/square/o-auth-api/obtain-token).
            url = square.base_url(holder.settings).rstrip("/") + "/oauth2/token"
            return OneRefresh(
                lambda: OAuthRefresher(
                    url,
                    client_id,
                    secret,
                    client_auth="body",
                    encoding="json",
                    provider=provider,
                    transport=self.transport,
                ),
            )
        if provider == "clover":
            found = self.cfg.source_app(provider)
            if found is None:
                raise _missing(provider, "CLIENT_ID")
            base = clover.base_url(holder.settings)
            return OneRefresh(
                lambda: CloverRefresher(found[0], base_url=base, transport=self.transport),
            )
        raise AuthError(
            f"{provider} access tokens are not renewed by salesync",
            user_message=f"salesync's access to {provider} was refused and cannot be "
            "renewed: connect it again.",
            code="no_refresh",
            provider=provider,
        )

    def _destination(self, provider: str) -> Refresher:
        client = self.cfg.oauth_client(provider)
        if client is None:
            raise _missing(provider)
        url, client_id, secret = client
        return OneRefresh(
            lambda: OAuthRefresher(
                url, client_id, secret, provider=provider, transport=self.transport
            ),
        )

    def _app(self, provider: str, credentials: Mapping[str, Any]) -> tuple[str, str]:
        """The app's client id and secret: the connection's own, else the configured."""
        own_id, own_secret = credentials.get("client_id"), credentials.get("client_secret")
        if own_id and own_secret:
            return str(own_id), str(own_secret)
        found = self.cfg.source_app(provider)
        secret = (found[1] if found else None) or own_secret
        if found is None or not secret:
            raise _missing(provider)
        return found[0], str(secret)

    def _form(self, provider: str, url: str, client_id: str, secret: str) -> OAuthRefresher:
        return OAuthRefresher(
            url,
            client_id,
            secret,
            client_auth="body",
            encoding="form",
            provider=provider,
            transport=self.transport,
        )
