"""A simulated Square seller for the Square connector's tests: trading on a manual clock,
an app with a token, a webhook subscription whose deliveries are kept, and the mapping of
its two locations to salesync locations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.source import SourceConnection, WebhookRequest
from salesync.domain.documents import Location, Tenant
from salesync.sandbox.square import RateLimit, SquareActivity, SquareSeller, create_app
from salesync.sandbox.square.notify import EVENT_TYPES
from salesync.sandbox.square.pricing import LineDraft
from salesync.sandbox.square.sales import TenderPlan
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.vault import Vault

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
TENANT = "t-square"
NOTIFICATION_URL = "https://hooks.salesync.example/webhooks/square/conn-square"
LOCATIONS = (
    Location("mission", TENANT, "Mission Street Café", "America/Los_Angeles", "USD"),
    Location("oakland", TENANT, "Oakland Kiosk", "America/Los_Angeles", "USD"),
)


class AppTransport(httpx.BaseTransport):
    """Hands each request to an ASGI app in this process, as the network would.

    Many clients share one: closing a client leaves it open, and ``shutdown`` stops the
    event loop thread it runs the app on.
    """

    def __init__(self, app: FastAPI) -> None:
        self._client = TestClient(app, raise_server_exceptions=False)
        self._client.__enter__()
        self.asked: list[str] = []
        """The path of every request, in order: what a test counts calls by."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.path)
        answer = self._client.request(
            request.method, str(request.url), headers=dict(request.headers), content=request.read()
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def close(self) -> None:
        """Kept open for the next client; see ``shutdown``."""

    def shutdown(self) -> None:
        self._client.__exit__(None, None, None)


@dataclass
class SquareWorld:
    """One seller, its app and subscription, and what its webhooks delivered."""

    clock: ManualClock
    seller: SquareSeller
    activity: SquareActivity
    client_id: str
    token: str
    signature_key: str
    transport: AppTransport
    delivered: list[WebhookRequest] = field(default_factory=list)

    @property
    def location_ids(self) -> list[str]:
        """The seller's locations in the order they were created (café first)."""
        return list(self.seller.data.locations)

    def connection(self, **settings: Any) -> SourceConnection:
        mapping = dict(zip(self.location_ids, (loc.id for loc in LOCATIONS), strict=True))
        return SourceConnection(
            tenant_id=TENANT,
            connection_id="conn-square",
            name="Square",
            settings={"locations": mapping, "notification_url": NOTIFICATION_URL, **settings},
            credentials={"access_token": self.token, "webhook_signature_key": self.signature_key},
        )

    def trade(self, until: datetime) -> None:
        """Let the seller trade until ``until``, then send the webhooks that are due."""
        self.activity.run_until(until, self.clock)
        self.deliver()

    def trade_sparsely(self, days: int, steps_per_day: int) -> None:
        """A few things a day (sales, returns, exchanges...) and each day's payouts."""
        self.activity.setup()
        day = self.clock()
        for _ in range(days):
            for step in range(steps_per_day):
                self.clock.set(day + timedelta(hours=2 + 8 * step / steps_per_day))
                self.activity.payouts.settle()
                self.activity.step()
            day += timedelta(days=1)
            self.clock.set(day)
            self.activity.payouts.settle()
        self.deliver()
        # Access tokens live 30 days; the merchant's app holds a current one.
        self.token = str(self.seller.credentials.issue(self.client_id)["access_token"])

    def deliver(self) -> None:
        self.seller.deliveries.deliver_due()

    def short_lived_token(self) -> str:
        return str(self.seller.credentials.issue(self.client_id, short_lived=True)["access_token"])


@contextmanager
def square_world(*, seed: int = 7) -> Iterator[SquareWorld]:
    """A seller set up at ``START`` with its catalog, customers and a subscription to every
    event, before any trading."""
    clock = ManualClock(START)
    # A manual clock never drains a bucket by itself: tests that are not about the rate
    # limit get one they cannot fill.
    seller = SquareSeller(clock=clock, rate_limit=RateLimit(1e9, 1e6))
    app = seller.credentials.register_app()
    token = str(seller.credentials.issue(app.client_id)["access_token"])
    subscription = seller.subscribe(app.client_id, NOTIFICATION_URL, EVENT_TYPES)
    world = SquareWorld(
        clock=clock,
        seller=seller,
        activity=SquareActivity(seller, seed),
        client_id=app.client_id,
        token=token,
        signature_key=subscription.signature_key,
        transport=AppTransport(create_app(seller)),
    )

    def receive(request: httpx.Request) -> httpx.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        world.delivered.append(WebhookRequest(str(request.url), headers, request.read()))
        return httpx.Response(200)

    seller.deliveries.use_client(httpx.Client(transport=httpx.MockTransport(receive)))
    world.activity.setup()
    try:
        yield world
    finally:
        world.transport.shutdown()


def without(connection: SourceConnection, *settings: str) -> SourceConnection:
    kept = {k: v for k, v in connection.settings.items() if k not in settings}
    return replace(connection, settings=kept)


def sell_at(world: SquareWorld, location: str, later: timedelta) -> None:
    """A card sale at ``location`` once ``later`` has passed, after the payouts due by then."""
    world.clock.set(world.clock() + later)
    world.activity.payouts.settle()
    line = LineDraft(world.activity.till.uid(), "Drip coffee", 1, 300)
    card = TenderPlan("CARD", 300, card_brand="VISA", last_4="1111")
    world.activity.till.create(location, [line], tenders=[card])


def set_up(
    factory: sessionmaker[Session], world: SquareWorld, vault: Vault, **settings: Any
) -> SourceConnection:
    """The tenant, its locations and the Square connection (with ``settings`` besides the
    usual), stored; returns it opened."""
    with factory() as session, session.begin():
        Tenants(session).add(Tenant(TENANT, "Square merchant"))
        for location in LOCATIONS:
            Locations(session, TENANT).add(location)
        connection = world.connection(**settings)
        connections = Connections(session, TENANT, vault)
        connection_id = connections.add(
            "square", "source", "Square", dict(connection.credentials), dict(connection.settings)
        )
        return connections.opened(connection_id)
