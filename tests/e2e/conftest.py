"""The running world for the end-to-end tests, and the story told in it once per module.

A simulated Shopify store and a simulated Square seller each run under uvicorn on a free
port, and so does salesync's API on a SQLite file. Every party shares one manual clock:
moving it is how the shops trade, payouts are issued and sync windows open, without
waiting for real time. The shops trade for ninety days before salesync is connected; then
the merchant connects both (OAuth and webhook subscriptions through the providers' APIs),
backfills the history, and the shops trade live while their webhooks reach salesync over
HTTP, some of them dropped or sent twice on purpose; sweeps catch up; the in-process
runner posts everything once the windows open. ``Seen`` keeps what was observed on the
way, for the tests to check.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.api import create_app
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.shopify import ShopifySource
from salesync.connectors.shopify.client import ShopifyClient
from salesync.connectors.source import SourceConnection
from salesync.connectors.square import SquareSource
from salesync.domain.documents import DocumentKind, Location, Tenant, document_id
from salesync.engine.backfill import BackfillProgress, Backfills
from salesync.engine.inbox import RecordState
from salesync.engine.runner import Engine, InProcessRunner
from salesync.engine.sweep import Sweeper
from salesync.sandbox import shopify as shopify_sandbox
from salesync.sandbox import square as square_sandbox
from salesync.sandbox.server import serving
from salesync.sandbox.square import seed as square_seed
from salesync.sandbox.square.notify import EVENT_TYPES
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Connections, Directory, Locations, Tenants
from salesync.store.tables import (
    Base,
    DocumentRow,
    InboxRecordRow,
    PostingDocumentRow,
    PostingRow,
    QueuedDocumentRow,
)
from salesync.store.vault import Vault, new_key

T = TypeVar("T")

TENANT = "harbor"
HISTORY_START = datetime(2026, 1, 5, 14, tzinfo=UTC)
FIRST_DAY = HISTORY_START.date()
HISTORY_BURSTS = (0, 29, 58, 88)
"""Days after ``HISTORY_START`` on which the shops traded for an hour before salesync."""
CONNECTED = HISTORY_START + timedelta(days=90)
"""When the merchant connects salesync: 10:00 in New York, the morning after the last
day the backfill covers."""
SWEEP_SINCE = datetime.combine(FIRST_DAY + timedelta(days=90), datetime.min.time(), UTC)
"""Where the backfill's last window ends and Square's first sweep starts."""
LOCATIONS = (
    Location("downtown", TENANT, "Downtown", "America/New_York", "USD"),
    Location("airport", TENANT, "Airport", "America/New_York", "USD"),
)
SHOPIFY_DROPS, SHOPIFY_DUPLICATES = 8, 6
SQUARE_DROPS, SQUARE_DUPLICATES = 2, 2
"""Square's notifications carry records only for customer events (an order event names
the order, which the sweep reads), so its drops and repeats are of customer events."""


def wait_until(what: str, condition: Callable[[], T], timeout: float = 15.0) -> T:
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Seen:
    """What the story observed on the way."""

    attempts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Every webhook POST each sandbox made to salesync, as its admin API reported it."""
    duplicated: dict[str, list[str]] = field(default_factory=dict)
    """The event ids each sandbox POSTed twice."""
    backfills: dict[str, BackfillProgress] = field(default_factory=dict)
    posted_by_backfill: int = 0
    """Documents in the books once the backfill was done."""
    due_after_first_hour: list[datetime] = field(default_factory=list)
    """When each document waiting after the first live hour was taken in is due."""
    posted_in_first_hour: int = -1
    """Documents that reached the books during that hour."""
    missing_before_sweep: set[str] = field(default_factory=set)
    """Shopify sales whose every webhook was dropped, not stored before the sweep."""
    lost_customers: set[str] = field(default_factory=set)
    """Square customers whose notifications were dropped."""
    customers_before_sweep: set[str] = field(default_factory=set)
    """Those of them salesync knew before the sweep."""


@dataclass
class Story:
    """The running world: the sandboxes, salesync's API and database, and the clock."""

    clock: ManualClock
    factory: sessionmaker[Session]
    vault: Vault
    registry: SourceRegistry
    engine: Engine
    store: shopify_sandbox.ShopifyStore
    seller: square_sandbox.SquareSeller
    shopify: httpx.Client
    square: httpx.Client
    api: httpx.Client
    shopify_id: str = ""
    square_id: str = ""
    shopify_secret: str = ""
    square_key: str = ""
    seen: Seen = field(default_factory=Seen)

    def hook_url(self, connection_id: str) -> str:
        """The URL a provider POSTs the connection's webhooks to."""
        return f"{str(self.api.base_url).rstrip('/')}/webhooks/{connection_id}"

    def opened(self, connection_id: str) -> SourceConnection:
        with self.factory() as session:
            return Connections(session, TENANT, self.vault).opened(connection_id)

    def sweeper(self) -> Sweeper:
        return Sweeper(self.factory, self.clock, self.vault, registry=self.registry)

    def count(self, table: type[Base], *where: ColumnElement[bool]) -> int:
        with self.factory() as session:
            return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)

    def stored(self, ids: set[str]) -> set[str]:
        """Those of the document ``ids`` salesync has stored."""
        with self.factory() as session:
            return set(session.scalars(select(DocumentRow.id).where(DocumentRow.id.in_(ids))))

    def customers(self, ids: set[str]) -> set[str]:
        """Those of the customer ``ids`` in salesync's directory."""
        with self.factory() as session:
            directory = Directory(session, TENANT)
            return {i for i in ids if directory.customer(i) is not None}

    def posted(self) -> list[tuple[str, int]]:
        """(document id, revision) of every document a posting brought into the ledger."""
        with self.factory() as session:
            query = select(PostingDocumentRow.document_id, PostingDocumentRow.revision)
            rows = session.execute(query.where(PostingDocumentRow.tenant_id == TENANT))
            return [(r.document_id, r.revision) for r in rows]

    def inbox(self) -> list[InboxRecordRow]:
        with self.factory() as session:
            return list(session.scalars(select(InboxRecordRow).order_by(InboxRecordRow.id)))

    def everything_posted(self) -> bool:
        """Nothing waits in the inbox, the queue or the outbox."""
        return (
            self.count(InboxRecordRow, InboxRecordRow.state == RecordState.RECEIVED.value) == 0
            and self.count(QueuedDocumentRow, QueuedDocumentRow.planned.is_(False)) == 0
            and self.count(PostingRow, PostingRow.state != "posted") == 0
        )


# -- before salesync -------------------------------------------------------------------------


def _registry(clock: ManualClock) -> SourceRegistry:
    """Salesync's sources, waiting out rate limits by moving the shared clock."""

    def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    registry = SourceRegistry(points=[])
    registry.add(ShopifySource(sleep=sleep, monotonic=lambda: clock().timestamp()))
    registry.add(SquareSource(sleep=sleep))
    return registry


def _trade_history(story: Story) -> None:
    """An hour of trading on each burst day, with no webhook subscription yet."""
    for day in HISTORY_BURSTS:
        story.clock.set(HISTORY_START + timedelta(days=day))
        for sandbox in (story.shopify, story.square):
            done = sandbox.post("/_sandbox/activity", json={"advance_seconds": 3600, "seed": 5})
            assert done.status_code == 200, done.text


# -- connecting --------------------------------------------------------------------------------


def _merchant(story: Story) -> None:
    with story.factory() as session, session.begin():
        Tenants(session).add(Tenant(TENANT, "Harbor Goods"))
        for location in LOCATIONS:
            Locations(session, TENANT).add(location)


def _connect_shopify(story: Story) -> None:
    """Install salesync's app by OAuth, keep the connection, map the store's locations and
    subscribe salesync's webhook URL to every topic, all through the store's own API."""
    app = story.shopify.post("/_sandbox/apps", json={}).json()
    code = story.shopify.post(f"/_sandbox/apps/{app['client_id']}/code").json()["code"]
    grant = story.shopify.post(
        "/admin/oauth/access_token",
        data={"client_id": app["client_id"], "client_secret": app["client_secret"], "code": code},
    )
    assert grant.status_code == 200, grant.text
    story.shopify_secret = app["client_secret"]
    with story.factory() as session, session.begin():
        story.shopify_id = Connections(session, TENANT, story.vault).add(
            "shopify",
            "source",
            "Harbor Shopify",
            {"access_token": grant.json()["access_token"], "client_secret": app["client_secret"]},
            {
                "shop": story.store.domain,
                "currency": "USD",
                "admin_url": str(story.shopify.base_url).rstrip("/"),
            },
        )
    client = story.sweeper().client(TENANT, story.shopify_id)
    assert isinstance(client, ShopifyClient)
    try:
        ids = {location.name: location.id for location in client.locations()}
        with story.factory() as session, session.begin():
            Connections(session, TENANT, story.vault).update_settings(
                story.shopify_id,
                locations={ids["Downtown"]: "downtown", ids["Airport"]: "airport"},
                default_location="downtown",
            )
        assert client.subscribe(story.hook_url(story.shopify_id))
    finally:
        client.close()


def _connect_square(story: Story) -> None:
    """Authorize salesync's app by OAuth, keep the connection with the seller's two
    locations mapped, and subscribe salesync's webhook URL through Square's Webhook
    Subscriptions API, keeping its signature key."""
    app = story.square.post("/_sandbox/apps", json={}).json()
    code = story.square.post(f"/_sandbox/apps/{app['client_id']}/code", json={}).json()["code"]
    grant = story.square.post(
        "/oauth2/token",
        json={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "grant_type": "authorization_code",
            "code": code,
        },
    )
    assert grant.status_code == 200, grant.text
    token = grant.json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    listed = story.square.get("/v2/locations", headers=bearer).json()["locations"]
    cafe, kiosk = sorted(listed, key=lambda location: location["created_at"])
    with story.factory() as session, session.begin():
        story.square_id = Connections(session, TENANT, story.vault).add(
            "square",
            "source",
            "Harbor Square",
            {"access_token": token},
            {
                "base_url": str(story.square.base_url).rstrip("/"),
                "locations": {cafe["id"]: "downtown", kiosk["id"]: "airport"},
                "sweep_since": SWEEP_SINCE.isoformat(),
            },
        )
    made = story.square.post(
        "/v2/webhooks/subscriptions",
        headers=bearer,
        json={
            "idempotency_key": "salesync-subscription",
            "subscription": {
                "name": "salesync",
                "notification_url": story.hook_url(story.square_id),
                "event_types": list(EVENT_TYPES),
            },
        },
    )
    assert made.status_code == 200, made.text
    story.square_key = made.json()["subscription"]["signature_key"]
    with story.factory() as session, session.begin():
        Connections(session, TENANT, story.vault).replace_credentials(
            story.square_id, {"access_token": token, "webhook_signature_key": story.square_key}
        )


# -- after salesync ----------------------------------------------------------------------------


def _backfill(story: Story) -> None:
    """Ninety days of each connection's history by 30-day windows, each window taken in
    and posted as it lands, the way ``salesync backfill --connection`` runs it."""
    backfills = Backfills(story.factory, story.clock)

    def take_in(_: BackfillProgress) -> None:
        story.engine.tick(TENANT)

    for provider, connection_id in (("shopify", story.shopify_id), ("square", story.square_id)):
        last = FIRST_DAY + timedelta(days=89)
        job = backfills.start(TENANT, provider, FIRST_DAY, last, window_days=30)
        client = story.sweeper().client(TENANT, connection_id)
        try:
            story.seen.backfills[provider] = backfills.run(job, client, after_window=take_in)
        finally:
            client.close()
    story.engine.run_until_idle(TENANT)
    story.seen.posted_by_backfill = len(story.posted())


def _deliver(story: Story) -> None:
    """Both sandboxes POST the webhooks that are due to salesync."""
    for provider, sandbox in (("shopify", story.shopify), ("square", story.square)):
        sent = sandbox.post("/_sandbox/webhooks/deliver")
        assert sent.status_code == 200, sent.text
        story.seen.attempts.setdefault(provider, []).extend(sent.json())


def _trade(story: Story, seconds: float) -> None:
    """Both shops trade for ``seconds`` of the clock, then send their webhooks."""
    for sandbox in (story.shopify, story.square):
        done = sandbox.post("/_sandbox/activity", json={"advance_seconds": seconds, "seed": 9})
        assert done.status_code == 200, done.text
    _deliver(story)


def _misbehave(sandbox: httpx.Client, **next_deliveries: int) -> None:
    """Arm the sandbox to drop or duplicate its next webhook messages."""
    armed = sandbox.post("/_sandbox/webhooks/chaos", json=next_deliveries)
    assert armed.status_code == 200, armed.text


def _first_hour(story: Story) -> None:
    """An hour of trading, taken in at once and left to wait for its sync window."""
    story.clock.set(CONNECTED + timedelta(minutes=5))
    _trade(story, 3600)
    story.engine.tick(TENANT)
    with story.factory() as session:
        waiting = select(QueuedDocumentRow.due_at).where(QueuedDocumentRow.planned.is_(False))
        story.seen.due_after_first_hour = [d for d in session.scalars(waiting) if d is not None]
    story.seen.posted_in_first_hour = len(story.posted()) - story.seen.posted_by_backfill


def _chaos(story: Story) -> None:
    """Trading while the providers misbehave: Shopify loses deliveries and then sends
    some twice; customers sign up at Square's till while it sends two notifications
    twice and loses the next two."""
    seen = story.seen
    _misbehave(story.shopify, drop_next=SHOPIFY_DROPS, duplicate_next=SHOPIFY_DUPLICATES)
    _trade(story, 5400)
    _misbehave(story.square, duplicate_next=SQUARE_DUPLICATES)
    for first, last in (("Rosa", "Quint"), ("Sami", "Roth")):
        square_seed.add_customer(story.seller, first, last)
    _misbehave(story.square, drop_next=SQUARE_DROPS)
    lost = [
        square_seed.add_customer(story.seller, *name)
        for name in (("Tove", "Sund"), ("Uma", "Vale"))
    ]
    seen.lost_customers = {f"square:{customer.id}" for customer in lost}
    _deliver(story)
    for provider, attempts in seen.attempts.items():
        sent = Counter(a["event_id"] for a in attempts)
        seen.duplicated[provider] = [event for event, times in sent.items() if times > 1]
    story.engine.tick(TENANT)
    dropped = {
        document_id(TENANT, "shopify", DocumentKind.SALE, str(json.loads(m.body)["id"]))
        for m in story.store.deliveries.dropped
        if m.topic.startswith("orders/")
    }
    seen.missing_before_sweep = dropped - story.stored(dropped)
    seen.customers_before_sweep = story.customers(seen.lost_customers)


def _catch_up(story: Story) -> None:
    """The reconciliation sweep; then the next morning's payouts and a little trading,
    and the next sweep."""
    story.sweeper().sweep_all(TENANT)
    story.engine.tick(TENANT)
    story.clock.set(CONNECTED + timedelta(days=1, minutes=-30))
    _trade(story, 900)
    story.sweeper().sweep_all(TENANT)
    story.engine.tick(TENANT)


def _post_in_the_background(story: Story) -> None:
    """Two days on, every sync window has opened; the in-process runner, as ``salesync
    serve`` runs it, posts what is due on its own."""
    story.clock.set(CONNECTED + timedelta(days=2, hours=10))
    # Until now the story ticked the engine between the writes of deliveries, sweeps and
    # the backfill rather than alongside them: on SQLite a transaction opened by a
    # savepoint (store/database.py begins it DEFERRED) that reads and then writes fails
    # with "database is locked" when another connection commits in between, and the
    # outbox books that as a bug, failing the posting for good. The runner works alone.
    runner = InProcessRunner(story.engine, interval=0.02)
    runner.start()
    try:
        wait_until("the runner to post every document", story.everything_posted)
    finally:
        runner.stop()
    assert runner.last_error is None, runner.last_error


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """The whole story, told once; the servers keep running for the tests."""
    clock = ManualClock(HISTORY_START)
    store = shopify_sandbox.ShopifyStore(clock=clock, plan="enterprise")
    # A manual clock never drains a bucket by itself: a limit the sweeps cannot fill.
    limit = square_sandbox.RateLimit(1e9, 1e6)
    seller = square_sandbox.SquareSeller(clock=clock, rate_limit=limit)
    database = make_engine(f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'salesync.db'}")
    migrate(database)
    factory = session_factory(database)
    registry = _registry(clock)
    vault = Vault([new_key()])
    engine = Engine(factory, clock, registry=registry)
    api = create_app(factory, clock, vault, registry=registry, engine=engine)
    with ExitStack() as stack:
        stack.callback(database.dispose)
        shopify_url = stack.enter_context(serving(shopify_sandbox.create_app(store)))
        square_url = stack.enter_context(serving(square_sandbox.create_app(seller)))
        api_url = stack.enter_context(serving(api))
        told = Story(
            clock=clock,
            factory=factory,
            vault=vault,
            registry=registry,
            engine=engine,
            store=store,
            seller=seller,
            shopify=stack.enter_context(httpx.Client(base_url=shopify_url)),
            square=stack.enter_context(httpx.Client(base_url=square_url)),
            api=stack.enter_context(httpx.Client(base_url=api_url)),
        )
        _trade_history(told)
        clock.set(CONNECTED)
        _merchant(told)
        _connect_shopify(told)
        _connect_square(told)
        _backfill(told)
        _first_hour(told)
        _chaos(told)
        _catch_up(told)
        _post_in_the_background(told)
        yield told
