"""QuickBooks Online as a destination: salesync's postings as QBO transactions, exactly once.

- ``settings``: what a connection says (realm, account policy and maps, sales form...);
- ``client``: HTTP to one company: token refresh on 401, pinned minor version,
  ``requestid``, the realm's call budget, Faults read whatever the status;
- ``errors``: the fault table, from QBO's codes to salesync's error kinds and words a
  merchant can act on;
- ``lists``: accounts, products, locations and classes, found or created;
- ``customers``: the customers sales name, created in a batch call ahead of the postings;
- ``buyers``: the customer of each sale under the mapping's customer policy, by email;
- ``translate``: which form carries a posting, and its payload;
- ``books``: ``post`` in batches of 30 and ``find`` by DocNumber.
"""

from __future__ import annotations

import threading
import time

import httpx

from salesync.connectors.destination import DestinationCapabilities, DestinationConnection
from salesync.connectors.pacing import Clock, Sleep
from salesync.connectors.qbo.books import CAPABILITIES, NAME, QboBooks
from salesync.connectors.qbo.client import QboClient
from salesync.connectors.qbo.refs import RealmLists, account_name
from salesync.connectors.qbo.settings import QboSettings, read_settings

__all__ = ["QboBooks", "QboDestination", "QboSettings", "account_name"]


class QboDestination:
    """The ``qbo`` destination type: opens the books of any QuickBooks Online connection.

    What it reads of a company's lists is kept per realm and shared by the books it opens,
    so a warm worker posts a batch in one call. ``clock`` (monotonic seconds) and
    ``sleep`` pace calls; tests and benchmarks pass simulated ones.
    """

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        self.clock = clock
        self.sleep = sleep
        self._realms: dict[str, RealmLists] = {}
        self._guard = threading.Lock()

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> DestinationCapabilities:
        return CAPABILITIES

    def connect(
        self, connection: DestinationConnection, transport: httpx.BaseTransport | None = None
    ) -> QboBooks:
        settings = read_settings(connection.settings, connection.credentials)
        context = {"tenant": connection.tenant_id, "connection": connection.id}
        client = QboClient(
            settings,
            token=connection.token,
            access_token=str(connection.credentials.get("access_token") or ""),
            transport=transport,
            clock=self.clock,
            sleep=self.sleep,
            context=context,
        )
        with self._guard:
            realm = self._realms.setdefault(settings.realm_id, RealmLists())
        return QboBooks(client, settings, realm, context)
