"""A simulated Shopify store for connector tests: trading on a manual clock, an installed
app, its webhooks collected as deliveries, and a transport that reaches it in process."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from salesync.clock import ManualClock
from salesync.connectors.shopify import ShopifySource
from salesync.connectors.source import SourceConnection, WebhookRequest
from salesync.domain.documents import Location
from salesync.sandbox.shopify import ShopifyActivity, ShopifyStore, create_app
from salesync.sandbox.shopify.notify import TOPICS
from salesync.sandbox.shopify.store import Plan

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
TENANT = "harbor"
CLIENT_ID = "salesync-app"
CLIENT_SECRET = "shpss_contract-secret"  # noqa: S105 -- the sandbox app's made-up secret
HOOKS = "https://salesync.test/hooks/shopify"
SCOPES = (
    "read_orders",
    "read_all_orders",
    "read_customers",
    "read_products",
    "read_locations",
    "read_shopify_payments_payouts",
)
LOCATIONS = (
    Location("soho", TENANT, "SoHo", "America/New_York", "USD"),
    Location("jfk", TENANT, "JFK Terminal 4", "America/New_York", "USD"),
)


class SandboxTransport(httpx.BaseTransport):
    """Sends every request, whatever its host, to an ASGI app in this process.

    httpx's own ASGI transport is async only; Starlette's test client is the sync one. A
    connection dropped by the app reaches the caller as the httpx error it raised.
    """

    def __init__(self, app: Any) -> None:
        self._client = TestClient(app)
        self.answers: list[tuple[str, int, bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self._client.send(request)
        self.answers.append((request.url.path, answer.status_code, answer.content))
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def close(self) -> None:
        self._client.close()


def throttled(transport: SandboxTransport) -> int:
    """How many GraphQL answers were THROTTLED errors."""
    return sum(b'"THROTTLED"' in body for _, _, body in transport.answers)


@dataclass
class Shop:
    """A sandbox store with the app installed and subscribed to every topic."""

    clock: ManualClock
    store: ShopifyStore
    token: str
    transport: SandboxTransport
    deliveries: list[WebhookRequest] = field(default_factory=list)

    @classmethod
    def open(cls, store: ShopifyStore, clock: ManualClock) -> Shop:
        store.credentials.register_app(
            SCOPES,
            CLIENT_ID,
            CLIENT_SECRET,
        )
        code = store.credentials.issue_code(CLIENT_ID)
        grant = store.credentials.exchange_code(CLIENT_ID, CLIENT_SECRET, code, expiring=False)
        shop = cls(clock, store, grant.access_token, SandboxTransport(create_app(store)))
        store.deliveries.use_client(httpx.Client(transport=httpx.MockTransport(shop.receive)))
        return shop

    @classmethod
    def trading(cls, days: float, *, plan: Plan = "enterprise", seed: int = 11) -> Shop:
        """A store that traded for ``days``, every webhook collected as it was sent."""
        clock = ManualClock(START)
        store = ShopifyStore(clock=clock, plan=plan)
        shop = cls.open(store, clock)
        for topic in TOPICS:
            store.subscribe(CLIENT_ID, topic, HOOKS, "2026-01")
        activity = ShopifyActivity(store, seed)
        end = START + timedelta(days=days)
        while clock() < end:
            activity.run_until(min(clock() + timedelta(hours=6), end), clock)
            store.deliveries.deliver_due()
        return shop

    def copy(self, *, plan: Plan = "enterprise") -> Shop:
        """The same trading in a fresh store: its own buckets, token and deliveries."""
        clock = ManualClock(self.clock())
        store = ShopifyStore(clock=clock, plan=plan)
        store.data = copy.copy(self.store.data)
        for name in ("locations", "customers", "products", "orders", "payouts"):
            setattr(store.data, name, dict(getattr(self.store.data, name)))
        store.data.balance_transactions = dict(self.store.data.balance_transactions)
        store.data.subscriptions = {}
        shop = Shop.open(store, clock)
        shop.deliveries = list(self.deliveries)
        return shop

    def receive(self, request: httpx.Request) -> httpx.Response:
        self.deliveries.append(
            WebhookRequest(
                str(request.url), {k.lower(): v for k, v in request.headers.items()}, request.read()
            )
        )
        return httpx.Response(200)

    def location_ids(self) -> dict[str, str]:
        """The store's location ids by name."""
        return {loc.name: str(loc.id) for loc in self.store.data.locations.values()}

    def connection(self, connection_id: str = "shopify-1") -> SourceConnection:
        ids = self.location_ids()
        return SourceConnection(
            tenant_id=TENANT,
            connection_id=connection_id,
            name="Harbor Shopify",
            settings={
                "shop": self.store.domain,
                "currency": "USD",
                "locations": {ids["Downtown"]: "soho", ids["Airport"]: "jfk"},
                "default_location": "soho",
            },
            credentials={"access_token": self.token, "client_secret": CLIENT_SECRET},
        )

    def source(self) -> ShopifySource:
        """A source whose waits move the store's clock instead of sleeping."""
        return ShopifySource(
            sleep=lambda seconds: self.clock.advance(timedelta(seconds=seconds)),
            monotonic=lambda: self.clock().timestamp(),
        )

    def close(self) -> None:
        self.transport.close()
