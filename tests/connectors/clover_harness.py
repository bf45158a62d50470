"""A simulated Clover business for the Clover connector's tests: two merchants (one per
location) trading on a manual clock, the salesync app installed on both with expiring
tokens, a verified webhook whose messages are kept, and connections mapping each
merchant to its salesync location."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from salesync.clock import ManualClock
from salesync.connectors.clover import CloverSource
from salesync.connectors.source import SourceConnection, WebhookRequest
from salesync.domain.documents import Location
from salesync.sandbox.clover import CloverActivity, CloverPlatform, RateLimits, create_app
from salesync.sandbox.transport import InProcessTransport

START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
TENANT = "t-clover"
WEBHOOK_URL = "https://hooks.salesync.example/webhooks/clover/conn-clover"
LOCATIONS = (
    Location("uptown", TENANT, "Uptown Espresso", "America/New_York", "USD"),
    Location("harbor", TENANT, "Harbor Kiosk", "America/New_York", "USD"),
)
UNLIMITED = RateLimits(10**9, 10**9, 10**6, 10**6)
"""A manual clock never drains a window by itself: tests that are not about Clover's
limits get ones they cannot fill."""


@dataclass
class CloverWorld:
    """The platform, its two merchants trading, and what its webhook delivered."""

    clock: ManualClock
    platform: CloverPlatform
    activities: tuple[CloverActivity, ...]
    transport: InProcessTransport
    auth_code: str
    delivered: list[WebhookRequest] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def merchant_ids(self) -> list[str]:
        return [a.merchant.id for a in self.activities]

    def source(self) -> CloverSource:
        """A source whose pacing and waits move the manual clock."""
        return CloverSource(clock=self.seconds, sleep=self.wait)

    def seconds(self) -> float:
        return self.clock().timestamp()

    def wait(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    def token(self, merchant_id: str) -> str:
        """The merchant's current access token, issued once per test world."""
        if merchant_id not in self.tokens:
            self.tokens[merchant_id] = self.platform.install(merchant_id).access_token
        return self.tokens[merchant_id]

    def connection(self, index: int = 0, **settings: Any) -> SourceConnection:
        merchant = self.merchant_ids[index]
        mapping = dict(zip(self.merchant_ids, (loc.id for loc in LOCATIONS), strict=True))
        return SourceConnection(
            tenant_id=TENANT,
            connection_id=f"conn-clover-{index}",
            name=f"Clover {LOCATIONS[index].name}",
            settings={"merchant_id": merchant, "locations": mapping, **settings},
            credentials={"access_token": self.token(merchant), "webhook_auth_code": self.auth_code},
        )

    def trade(self, days: int, sales_per_day: int) -> None:
        """Each merchant trades ``days`` days from the clock's day; webhooks go out as
        things change, and tokens are issued afresh after (they live an hour)."""
        day = self.clock()
        for _ in range(days):
            for activity in self.activities:
                activity.trade_day(day, sales_per_day, self._moved)
            day += timedelta(days=1)
        self.clock.set(max(self.clock(), day))
        self.deliver()
        self.tokens.clear()

    def _moved(self, moment: datetime) -> None:
        if moment > self.clock():
            self.clock.set(moment)
        self.deliver()

    def deliver(self) -> None:
        self.platform.notify()
        self.platform.deliveries.deliver_due()


@contextmanager
def clover_world(*, seed: int = 7, limits: RateLimits = UNLIMITED) -> Iterator[CloverWorld]:
    """Two merchants set up at ``START`` with their inventory and customers, the app's
    webhook verified, before any trading."""
    clock = ManualClock(START)
    platform = CloverPlatform(clock=clock, limits=limits)
    kept: list[WebhookRequest] = []
    codes: list[str] = []

    def receive(request: httpx.Request) -> httpx.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        delivery = WebhookRequest(str(request.url), headers, request.read())
        if b"verificationCode" in delivery.body:
            codes.append(delivery.body.decode())
        else:
            kept.append(delivery)
        return httpx.Response(200)

    platform.use_webhook_client(httpx.Client(transport=httpx.MockTransport(receive)))
    platform.set_webhook_url(WEBHOOK_URL)
    code = codes[-1].split('"')[3]
    auth = platform.verify(code)
    assert auth is not None
    activities = tuple(
        CloverActivity(platform, platform.add_merchant(loc.name, loc.timezone), seed + i)
        for i, loc in enumerate(LOCATIONS)
    )
    for activity in activities:
        activity.setup()
    world = CloverWorld(
        clock=clock,
        platform=platform,
        activities=activities,
        transport=InProcessTransport(create_app(platform)),
        auth_code=auth,
        delivered=kept,
    )
    world.deliver()
    try:
        yield world
    finally:
        world.transport.shutdown()
