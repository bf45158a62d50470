"""Xero as a destination: sales, refunds and payouts into a Xero organisation's books.

``XeroDestination`` is registered under ``xero`` in the ``salesync.destinations`` entry
point group. A connection's settings (``XeroSettings``) name the organisation and how to
map accounts and tracking; its credentials are OAuth tokens kept fresh by the
connection's token source. Calls to one organisation share one ``CallBudget`` in the
process, so every connection and worker thread stays inside Xero's limits together, and
one ``Directory`` of the contacts and items found or created there, so a warm worker
writes a batch of sales without looking any of them up. What the books read of an
organisation's chart (accounts, tax rates, tracking, base currency) is kept for a few
minutes per organisation and connection (``ChartMemory``), so send passes close together
read it once.
"""

from __future__ import annotations

import threading
import time

import httpx

from salesync.connectors.destination import DestinationCapabilities, DestinationConnection
from salesync.connectors.pacing import CallBudget, Clock, Limits, Sleep, budget_for
from salesync.connectors.xero.books import CAPABILITIES, NAME, XeroBooks
from salesync.connectors.xero.client import StaticToken, XeroClient
from salesync.connectors.xero.lists import Directory
from salesync.connectors.xero.memory import ChartMemory
from salesync.connectors.xero.settings import XeroSettings

LIMITS = Limits(per_minute=60, concurrent=5, per_day=5000)
"""Per organisation (https://developer.xero.com/documentation/guides/oauth2/limits/)."""


class XeroDestination:
    """The Xero destination type; ``clock`` and ``sleep`` pace calls (simulated in tests)."""

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        self.clock = clock
        self.sleep = sleep
        self._directories: dict[str, Directory] = {}
        self._charts: dict[tuple[str, str], ChartMemory] = {}
        self._guard = threading.Lock()

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> DestinationCapabilities:
        return CAPABILITIES

    def budget(self, tenant_id: str) -> CallBudget:
        """The process-wide budget of one organisation."""
        return budget_for(
            f"xero:{tenant_id}", lambda: CallBudget(LIMITS, clock=self.clock, sleep=self.sleep)
        )

    def directory(self, tenant_id: str) -> Directory:
        """The contacts and items known of one organisation, shared by its books."""
        with self._guard:
            return self._directories.setdefault(tenant_id, Directory())

    def chart_memory(self, tenant_id: str, connection_id: str) -> ChartMemory:
        """What books opened on one organisation through one connection last read of its
        chart."""
        with self._guard:
            return self._charts.setdefault(
                (tenant_id, connection_id), ChartMemory(clock=self.clock)
            )

    def connect(
        self, connection: DestinationConnection, transport: httpx.BaseTransport | None = None
    ) -> XeroBooks:
        settings = XeroSettings.of(connection.settings, connection.id)
        token = connection.token or StaticToken(str(connection.credentials.get("access_token")))
        client = XeroClient(
            settings.base_url,
            settings.tenant_id,
            token,
            self.budget(settings.tenant_id),
            transport=transport,
        )
        return XeroBooks(
            client,
            settings,
            self.directory(settings.tenant_id),
            self.chart_memory(settings.tenant_id, connection.id),
        )


__all__ = ["CAPABILITIES", "LIMITS", "XeroBooks", "XeroDestination", "XeroSettings"]
