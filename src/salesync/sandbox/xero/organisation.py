"""The state of one simulated Xero organisation: objects, connection, request log, time."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from salesync.clock import system_clock
from salesync.sandbox.xero.seed import seed_collections
from salesync.sandbox.xero.values import ms_date


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One API call as the sandbox saw it, for tests and the demo to inspect."""

    at: datetime
    method: str
    operation: str
    tenant_id: str | None
    idempotency_key: str | None
    replayed: bool
    status: int


@dataclass
class XeroOrganisation:
    """One tenant: its objects by collection and id, its connection to the app, its clock.

    All access goes through ``lock``; the service holds it for a whole write so a batch is
    atomic with its uniqueness checks and its idempotency record.
    """

    tenant_id: str = "6a1c9d4e-3b2f-4e8a-9c7d-0f5e1a2b3c4d"
    name: str = "Demo Company (AU)"
    short_code: str = "!q7Lm2"
    base_currency: str = "AUD"
    country_code: str = "AU"
    clock: Callable[[], datetime] = system_clock
    connected: bool = True
    """False once the user disconnects the app; calls for the tenant then get 403."""
    connection_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    lock: threading.RLock = field(default_factory=threading.RLock)
    offset: timedelta = timedelta(0)
    collections: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    requests: list[RequestRecord] = field(default_factory=list)
    connected_at: datetime | None = None
    _sequences: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.collections:
            self.collections = seed_collections(self.stamp(), self.base_currency)
        if self.connected_at is None:
            self.connected_at = self.now()

    def now(self) -> datetime:
        """The organisation's time: the injected clock moved by any ``advance``."""
        return self.clock() + self.offset

    def today(self) -> date:
        """The organisation's current calendar day."""
        return self.now().date()

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        with self.lock:
            self.offset += delta

    def stamp(self) -> str:
        """``UpdatedDateUTC`` for now."""
        return ms_date(self.now())

    def next_number(self, prefix: str) -> str:
        """The next automatic document number, e.g. INV-0001, as Xero numbers them."""
        with self.lock:
            self._sequences[prefix] = self._sequences.get(prefix, 0) + 1
            return f"{prefix}-{self._sequences[prefix]:04d}"

    def get(self, collection: str, object_id: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.collections.get(collection, {}).get(object_id)
            return copy.deepcopy(found) if found is not None else None

    def all(self, collection: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(o) for o in self.collections.get(collection, {}).values()]

    def put(self, collection: str, object_id: str, obj: dict[str, Any]) -> None:
        with self.lock:
            self.collections.setdefault(collection, {})[object_id] = copy.deepcopy(obj)

    def connect(self) -> None:
        """The user (re)connects the app to this organisation."""
        with self.lock:
            if not self.connected:
                self.connected = True
                self.connection_id = str(uuid.uuid4())
                self.connected_at = self.now()

    def disconnect(self) -> None:
        """The user disconnects the app from this organisation."""
        with self.lock:
            self.connected = False

    def record(self, entry: RequestRecord) -> None:
        with self.lock:
            self.requests.append(entry)
