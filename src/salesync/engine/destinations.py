"""Which books a tenant's postings go to, and opening them.

A tenant posts into one set of books: the built-in ledger, unless it has an active
destination connection (QuickBooks Online, Xero...), whose id is then the destination
name its postings carry. A connection waiting for the merchant to reconnect still names
the books: its postings are planned and then held with the reconnect link, not quietly
posted to the ledger instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.destination import Books, DestinationConnection
from salesync.connectors.ledger.destination import NAME as LEDGER
from salesync.connectors.ledger.destination import LedgerDestination
from salesync.connectors.registry import DestinationRegistry, destinations
from salesync.connectors.tokens import ConnectionTokens, TokenManager
from salesync.domain.errors import SyncError
from salesync.store.tables import ConnectionRow
from salesync.store.vault import Vault

DESTINATION = "destination"
"""The role of a connection that receives postings."""


class DestinationBooks:
    """Opens the books a posting's destination name refers to."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        vault: Vault,
        clock: Callable[[], datetime],
        *,
        registry: DestinationRegistry | None = None,
        tokens: TokenManager | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.factory = factory
        self.vault = vault
        self.clock = clock
        self.registry = registry or destinations()
        self.tokens = tokens
        self.transport = transport

    def name_for(self, tenant_id: str) -> str:
        """The destination name the tenant's postings carry now."""
        with self.factory() as session:
            rows = list(
                session.scalars(
                    select(ConnectionRow)
                    .where(ConnectionRow.tenant_id == tenant_id, ConnectionRow.role == DESTINATION)
                    .order_by(ConnectionRow.created_at, ConnectionRow.id)
                )
            )
        live = [r for r in rows if r.status != "disabled" and r.provider != LEDGER]
        if len(live) > 1:
            names = ", ".join(f"{r.name} ({r.provider})" for r in live)
            raise SyncError(
                f"tenant {tenant_id} has {len(live)} destination connections: {names}",
                user_message="salesync posts into one set of books per business; disable all "
                f"but one of: {names}.",
                code="several_destinations",
                tenant=tenant_id,
            )
        return live[0].id if live else LEDGER

    def __call__(self, tenant_id: str, name: str) -> Books:
        if name == LEDGER:
            return LedgerDestination(self.factory, tenant_id)
        with self.factory() as session:
            row = session.get(ConnectionRow, name)
            if row is None or row.tenant_id != tenant_id or row.role != DESTINATION:
                raise SyncError(
                    f"no destination connection {name!r} for tenant {tenant_id}",
                    code="no_destination",
                    tenant=tenant_id,
                )
            provider, credentials = row.provider, self.vault.open(row.credentials)
            settings = dict(row.settings or {})
        token = ConnectionTokens(self.tokens, tenant_id, name) if self.tokens else None
        connection = DestinationConnection(name, tenant_id, credentials, settings, token)
        destination = self.registry.get(provider)
        # Books that live in salesync's own database (QuickBooks Desktop's queue, which
        # the Web Connector drains) are handed it here, as the ledger is above.
        bind = getattr(destination, "with_database", None)
        if callable(bind):
            destination = bind(self.factory)
        return destination.connect(connection, self.transport)
