"""Source connections opened for webhook ingress, kept briefly in memory.

Opening a connection reads its row and decrypts its credentials; doing that for every
delivery would cost more than the rest of the hot path. An opened connection is kept for
a short time (``ttl``) and then read again, and a signature that fails against a kept
secret is checked once more against the stored row, so a rotated secret or a disabled
connection takes effect at once for the deliveries it concerns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.source import SourceConnection
from salesync.store.repositories import Connections
from salesync.store.tables import ConnectionRow
from salesync.store.vault import Vault

TTL_SECONDS = 30.0
RECHECK_SECONDS = 1.0
"""A failed signature sends the cache to the database at most this often per connection,
so a flood of forged deliveries does not become a flood of reads."""


class UnknownConnectionError(Exception):
    """No active source connection answers to this id (answered 404)."""


@dataclass(frozen=True, slots=True)
class Receiver:
    """An active source connection, opened for its webhooks."""

    tenant_id: str
    provider: str
    connection: SourceConnection
    updated_at: datetime
    opened_at: float
    """When it was opened, on the cache's monotonic clock."""

    @property
    def connection_id(self) -> str:
        return self.connection.connection_id


class ConnectionCache:
    """Opened source connections by id, each kept for ``ttl`` seconds at most."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        vault: Vault,
        *,
        ttl: float = TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.factory = factory
        self.vault = vault
        self.ttl = ttl
        self.monotonic = monotonic
        self._kept: dict[str, Receiver] = {}
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()

    def cached(self, connection_id: str) -> Receiver | None:
        """The kept connection if it is still fresh; never touches the database."""
        kept = self._kept.get(connection_id)
        if kept is not None and self.monotonic() - kept.opened_at < self.ttl:
            return kept
        return None

    def get(self, connection_id: str) -> Receiver:
        """The connection, from memory while fresh, else read and decrypted again.

        Raises ``UnknownConnectionError`` when no active source connection has this id.
        """
        return self.cached(connection_id) or self._open(connection_id)

    def changed(self, receiver: Receiver) -> Receiver | None:
        """The connection as stored now, if it changed since ``receiver`` was opened (not
        asked again within ``RECHECK_SECONDS``)."""
        now = self.monotonic()
        last = self._checked.get(receiver.connection_id)
        if last is not None and now - last < RECHECK_SECONDS:
            return None
        self._checked[receiver.connection_id] = now
        with self.factory() as session:
            stored = session.scalar(
                select(ConnectionRow.updated_at).where(ConnectionRow.id == receiver.connection_id)
            )
        if stored == receiver.updated_at:
            return None
        return self._open(receiver.connection_id)

    def invalidate(self, connection_id: str | None = None) -> None:
        """Forget one kept connection (or all), e.g. after changing it in this process."""
        with self._lock:
            if connection_id is None:
                self._kept.clear()
            else:
                self._kept.pop(connection_id, None)

    def _open(self, connection_id: str) -> Receiver:
        with self.factory() as session:
            row = session.get(ConnectionRow, connection_id)
            if row is None or row.role != "source":
                self.invalidate(connection_id)
                raise UnknownConnectionError(f"no source connection {connection_id}")
            if row.status != "active":
                self.invalidate(connection_id)
                raise UnknownConnectionError(f"connection {connection_id} is {row.status}")
            opened = Connections(session, row.tenant_id, self.vault).opened(connection_id)
            receiver = Receiver(
                row.tenant_id, row.provider, opened, row.updated_at, self.monotonic()
            )
        with self._lock:
            self._kept[connection_id] = receiver
        return receiver
