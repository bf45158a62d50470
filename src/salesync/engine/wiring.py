"""An engine built from settings: the installed sources, each tenant's books, and the
token manager that keeps OAuth destinations connected."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
from sqlalchemy.orm import Session, sessionmaker

from salesync.config import Settings
from salesync.connectors.registry import DestinationRegistry, SourceRegistry
from salesync.connectors.tokens import OAuthRefresher, Refresher, TokenManager
from salesync.domain.errors import AuthError
from salesync.engine.destinations import DestinationBooks
from salesync.engine.runner import Engine


def token_manager(
    cfg: Settings,
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    transport: httpx.BaseTransport | None = None,
) -> TokenManager:
    """Refreshes tokens with the OAuth apps configured for each provider."""
    endpoints: dict[str, OAuthRefresher] = {}

    def refresher(provider: str) -> Refresher:
        if provider not in endpoints:
            client = cfg.oauth_client(provider)
            if client is None:
                raise AuthError(
                    f"no OAuth app is configured for {provider}",
                    user_message=f"salesync cannot renew its access to {provider}: set "
                    f"SALESYNC_{provider.upper()}_CLIENT_ID and "
                    f"SALESYNC_{provider.upper()}_CLIENT_SECRET.",
                    code="oauth_app_missing",
                    provider=provider,
                )
            url, client_id, secret = client
            endpoints[provider] = OAuthRefresher(
                url, client_id, secret, provider=provider, transport=transport
            )
        return endpoints[provider]

    return TokenManager(factory, cfg.vault(), clock, refresher)


def configured_engine(
    cfg: Settings,
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    *,
    sources: SourceRegistry | None = None,
    destinations: DestinationRegistry | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Engine:
    """The engine every command runs: sources from the registry, postings to each
    tenant's books (its destination connection, else the built-in ledger)."""
    books = DestinationBooks(
        factory,
        cfg.vault(),
        clock,
        registry=destinations,
        tokens=token_manager(cfg, factory, clock, transport),
        transport=transport,
    )
    return Engine(factory, clock, registry=sources, books=books)
