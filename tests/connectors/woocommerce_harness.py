"""A simulated WooCommerce shop for the WooCommerce connector's tests: trading on a manual
clock, a REST API key, salesync's webhooks (their deliveries kept by a receiver that can
be made to fail), and the mapping of the shop's two outlets to salesync locations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from salesync.clock import ManualClock
from salesync.connectors.source import SourceConnection, WebhookRequest
from salesync.connectors.woocommerce.subscriptions import TOPICS
from salesync.domain.documents import Location
from salesync.sandbox.transport import InProcessTransport
from salesync.sandbox.woocommerce import RateLimit, WooActivity, WooShop, create_app, deliver_due

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
TENANT = "t-woo"
STORE_URL = "https://shop.example"
WEBHOOK_URL = "https://hooks.salesync.example/webhooks/woocommerce/conn-woo"
SECRET = "whsec-salesync-woo-0123456789"  # noqa: S105  a test fixture
LOCATIONS = (
    Location("web", TENANT, "Web store", "America/Chicago", "USD"),
    Location("counter", TENANT, "Shop counter", "America/Chicago", "USD"),
)
CHANNELS = {"checkout": "web", "pos-rest-api": "counter"}


@dataclass
class WooWorld:
    """One shop, salesync's key and webhooks, and what the webhooks delivered."""

    clock: ManualClock
    shop: WooShop
    activity: WooActivity
    consumer_key: str
    consumer_secret: str
    transport: InProcessTransport
    delivered: list[WebhookRequest] = field(default_factory=list)
    answer: int = 200
    """What salesync's webhook endpoint answers (a 5xx while it is down)."""

    def connection(self, **settings: Any) -> SourceConnection:
        return SourceConnection(
            tenant_id=TENANT,
            connection_id="conn-woo",
            name="WooCommerce",
            settings={
                "store_url": STORE_URL,
                "locations": dict(CHANNELS),
                "currency": "USD",
                "webhook_url": WEBHOOK_URL,
                **settings,
            },
            credentials={
                "consumer_key": self.consumer_key,
                "consumer_secret": self.consumer_secret,
                "webhook_secret": SECRET,
            },
        )

    def admin(self) -> httpx.Client:
        """The shop's REST API as salesync's key reaches it."""
        return httpx.Client(
            transport=self.transport,
            base_url=f"{STORE_URL}/wp-json/wc/v3",
            auth=(self.consumer_key, self.consumer_secret),
        )

    def trade(self, until: datetime) -> None:
        """Let the shop trade until ``until``, then send the webhooks that are due."""
        self.activity.run_until(until, self.clock)
        self.deliver()

    def deliver(self) -> None:
        deliver_due(self.shop)

    def webhooks(self) -> dict[str, str]:
        """Each webhook topic's status."""
        return {str(w["topic"]): str(w["status"]) for w in self.shop.data.webhooks.values()}


@contextmanager
def woo_world(*, seed: int = 7) -> Iterator[WooWorld]:
    """A shop at ``START`` with its catalog, first customers and salesync's webhooks."""
    clock = ManualClock(START)
    # A manual clock barely moves between calls: tests not about the limit get room.
    shop = WooShop(clock=clock, rate_limit=RateLimit(limit=10**9, seconds=10))
    key = shop.issue_key("read_write")
    world = WooWorld(
        clock=clock,
        shop=shop,
        activity=WooActivity(shop, seed),
        consumer_key=key.consumer_key,
        consumer_secret=key.consumer_secret,
        transport=InProcessTransport(create_app(shop)),
    )

    def receive(request: httpx.Request) -> httpx.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        world.delivered.append(WebhookRequest(str(request.url), headers, request.read()))
        return httpx.Response(world.answer)

    shop.deliveries.use_client(httpx.Client(transport=httpx.MockTransport(receive)))
    with world.admin() as admin:
        for topic in TOPICS:
            made = admin.post(
                "/webhooks", json={"topic": topic, "delivery_url": WEBHOOK_URL, "secret": SECRET}
            )
            assert made.status_code == 201, made.text
    world.activity.setup()
    world.deliver()
    try:
        yield world
    finally:
        world.transport.shutdown()
