"""The running world for the end-to-end tests, and the story told in it once per module.

The world is a stage (``salesync.sandbox.stage``): a simulated Shopify store and a
simulated Square seller each run under uvicorn on a free port, and so does salesync's API
on a SQLite file. Every party shares one manual clock:
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import ColumnElement, func, select

from salesync.clock import ManualClock
from salesync.domain.documents import DocumentKind, Location, Tenant, document_id
from salesync.engine.backfill import BackfillProgress
from salesync.engine.runner import InProcessRunner
from salesync.sandbox.square import seed as square_seed
from salesync.sandbox.stage import Cast, Stage
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Directory
from salesync.store.tables import (
    Base,
    DocumentRow,
    InboxRecordRow,
    PostingDocumentRow,
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
CAST = Cast(
    tenant=Tenant(TENANT, "Harbor Goods"),
    locations=LOCATIONS,
    shopify_locations={"Downtown": "downtown", "Airport": "airport"},
    shopify_default="downtown",
    square_locations={"Mission Street Café": "downtown", "Oakland Kiosk": "airport"},
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


class Story(Stage):
    """The stage (see ``salesync.sandbox.stage``), with what the story saw and the
    questions the tests ask of salesync's database."""

    seen: Seen

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


# -- the story -------------------------------------------------------------------------------


def _trade_history(story: Story) -> None:
    """An hour of trading on each burst day, with no webhook subscription yet."""
    for day in HISTORY_BURSTS:
        story.clock.set(HISTORY_START + timedelta(days=day))
        for provider in ("shopify", "square"):
            story.run_shop(provider, 3600)


def _backfill(story: Story) -> None:
    """Ninety days of each connection's history by 30-day windows."""
    story.backfill(FIRST_DAY, FIRST_DAY + timedelta(days=89), window_days=30)
    for provider, tally in story.tallies.items():
        assert tally.backfill is not None, provider
        story.seen.backfills[provider] = tally.backfill
    story.seen.posted_by_backfill = len(story.posted())


def _first_hour(story: Story) -> None:
    """An hour of trading, taken in at once and left to wait for its sync window."""
    story.clock.set(CONNECTED + timedelta(minutes=5))
    story.trade(3600)
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
    story.misbehave("shopify", drop_next=SHOPIFY_DROPS, duplicate_next=SHOPIFY_DUPLICATES)
    story.trade(5400)
    story.misbehave("square", duplicate_next=SQUARE_DUPLICATES)
    for first, last in (("Rosa", "Quint"), ("Sami", "Roth")):
        square_seed.add_customer(story.seller, first, last)
    story.misbehave("square", drop_next=SQUARE_DROPS)
    lost = [
        square_seed.add_customer(story.seller, *name)
        for name in (("Tove", "Sund"), ("Uma", "Vale"))
    ]
    seen.lost_customers = {f"square:{customer.id}" for customer in lost}
    story.deliver()
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
    story.sweep()
    story.engine.tick(TENANT)
    story.clock.set(CONNECTED + timedelta(days=1, minutes=-30))
    story.trade(900)
    story.sweep()
    story.engine.tick(TENANT)


def _post_in_the_background(story: Story) -> None:
    """Two days on, every sync window has opened; the in-process runner, as ``salesync
    serve`` runs it, posts what is due on its own."""
    story.clock.set(CONNECTED + timedelta(days=2, hours=10))
    # Until now the story ticked the engine between the writes of deliveries, sweeps and
    # the backfill rather than alongside them, so what each step saw is exact; SQLite
    # writers begin IMMEDIATE (store/database.py), so the runner could as well overlap.
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
    database = make_engine(f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'salesync.db'}")
    migrate(database)
    vault = Vault([new_key()])
    try:
        with Story.open(CAST, session_factory(database), clock, vault, seed=5) as told:
            told.seen = Seen(attempts={p: t.attempts for p, t in told.tallies.items()})
            _trade_history(told)
            clock.set(CONNECTED)
            told.set_up()
            told.connect_shopify()
            told.connect_square(SWEEP_SINCE)
            _backfill(told)
            _first_hour(told)
            _chaos(told)
            _catch_up(told)
            _post_in_the_background(told)
            yield told
    finally:
        database.dispose()
