"""A simulated X-Series retailer for the Lightspeed connector's tests: trading on a manual
clock, an add-on with tokens, webhook subscriptions whose deliveries are kept, and the
mapping of its two outlets to salesync locations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from salesync.clock import ManualClock
from salesync.connectors.source import SourceConnection, WebhookRequest
from salesync.domain.documents import Location
from salesync.sandbox.lightspeed_x import (
    App,
    LightspeedActivity,
    LightspeedRetailer,
    RateLimit,
    create_app,
)
from salesync.sandbox.transport import InProcessTransport

START = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
"""Monday 2 March, 09:00 in Auckland."""
TENANT = "t-lightspeed"
CONNECTION = "conn-lsx"
HOOK_URL = "https://hooks.salesync.example/webhooks/lightspeed_x/conn-lsx"
HOOK_TOPICS = (
    "sale.update",
    "customer.update",
    "product.update",
    "inventory.update",
    "register_closure.create",
)
LOCATIONS = (
    Location("ponsonby", TENANT, "Ponsonby", "Pacific/Auckland", "NZD"),
    Location("cuba", TENANT, "Cuba Street", "Pacific/Auckland", "NZD"),
)


@dataclass
class LightspeedWorld:
    """One retailer, the add-on's tokens for it, and what its webhooks delivered."""

    clock: ManualClock
    retailer: LightspeedRetailer
    activity: LightspeedActivity
    app: App
    access_token: str
    refresh_token: str
    transport: InProcessTransport
    delivered: list[WebhookRequest] = field(default_factory=list)

    @property
    def outlet_ids(self) -> list[str]:
        """The outlets in the order they were opened (Ponsonby first)."""
        return list(self.retailer.outlets)

    def connection(self, **settings: Any) -> SourceConnection:
        mapping = dict(zip(self.outlet_ids, (loc.id for loc in LOCATIONS), strict=True))
        return SourceConnection(
            tenant_id=TENANT,
            connection_id=CONNECTION,
            name="Lightspeed",
            settings={"domain_prefix": self.retailer.domain_prefix, "locations": mapping}
            | settings,
            credentials=self.credentials(),
        )

    def credentials(self) -> dict[str, Any]:
        expires = self.clock() + timedelta(days=1)
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": expires.isoformat(),
            "client_secret": self.app.client_secret,
        }

    def trade(self, days: int, steps_per_day: int = 12) -> None:
        """Let the retailer trade, send the webhooks that are due, and hold a token that
        is good now (an access token lives a day)."""
        self.activity.trade(days, steps_per_day, self.clock.set)
        self.deliver()
        self.reissue()

    def reissue(self) -> None:
        issued = self.retailer.authority.issue_tokens(self.app.client_id, self.retailer.id)
        self.access_token, self.refresh_token = issued.access_token, issued.refresh_token

    def deliver(self) -> None:
        self.retailer.notifier.deliveries.deliver_due()

    def wait(self, seconds: float) -> None:
        """A sleep in simulated time: the retailer's window moves on with it."""
        self.clock.advance(timedelta(seconds=seconds))

    def admin(self) -> httpx.Client:
        return httpx.Client(
            transport=self.transport, base_url="https://kowhai.retail.lightspeed.app"
        )


@contextmanager
def lightspeed_world(
    *, seed: int = 7, rate_limit: RateLimit | None = None
) -> Iterator[LightspeedWorld]:
    """A retailer set up at ``START`` with its outlets, catalog, customers and an add-on
    subscribed to every topic, before any trading."""
    clock = ManualClock(START)
    retailer = LightspeedRetailer(clock=clock, rate_limit=rate_limit)
    app = retailer.register_app()
    for topic in HOOK_TOPICS:
        retailer.subscribe(app.client_id, HOOK_URL, topic)
    activity = LightspeedActivity(retailer, seed)
    activity.setup()
    issued = retailer.authority.issue_tokens(app.client_id, retailer.id)
    world = LightspeedWorld(
        clock=clock,
        retailer=retailer,
        activity=activity,
        app=app,
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        transport=InProcessTransport(create_app(retailer)),
    )

    def receive(request: httpx.Request) -> httpx.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        world.delivered.append(WebhookRequest(str(request.url), headers, request.read()))
        return httpx.Response(200)

    retailer.notifier.deliveries.use_client(httpx.Client(transport=httpx.MockTransport(receive)))
    try:
        yield world
    finally:
        world.transport.shutdown()
