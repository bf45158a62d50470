"""Sources through connections: the registry, the cursor sweep, and intake reading each
record with its connection's settings (skips, customers and products included)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from importlib.metadata import EntryPoint

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.source import (
    Page,
    Skip,
    SourceCapabilities,
    SourceClient,
    SourceConnection,
    SourceContext,
    SourceRecord,
    Translated,
    Webhook,
    WebhookRequest,
)
from salesync.domain.documents import Customer, DocumentKind, Sale
from salesync.domain.errors import BugError, TransientError, ValidationError
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.inbox import Inbox, RecordState
from salesync.engine.incidents import IncidentLog
from salesync.engine.runner import Engine, InProcessRunner
from salesync.engine.sweep import DueSweeps, Sweeper
from salesync.store import codec
from salesync.store.documents import Documents
from salesync.store.repositories import Connections, Directory
from salesync.store.tables import ConnectionRow, InboxRecordRow, IncidentRow, SourceCursorRow
from salesync.store.vault import Vault, new_key

NAME = "till"


@dataclass
class TillAccount:
    """A provider account in memory: records in the order they changed."""

    records: list[SourceRecord] = field(default_factory=list)
    fail_at: int | None = None
    """Fetching the page that starts at this position fails once."""


@dataclass
class TillClient:
    account: TillAccount
    connection_id: str | None
    name: str = NAME
    page_size: int = 3

    def fetch(self, stream: str, cursor: str | None) -> Page:
        start = int(cursor or 0)
        if self.account.fail_at == start:
            self.account.fail_at = None
            raise TransientError("the till's API timed out", retry_after=1)
        chunk = self.account.records[start : start + self.page_size]
        end = start + len(chunk)
        return Page(tuple(chunk), str(end), end < len(self.account.records))

    def history(self, start: datetime, end: datetime) -> Iterator[SourceRecord]:
        return iter(self.account.records)

    def close(self) -> None:
        pass


class TillSource:
    """A source whose records are salesync's document JSON with the till's location ids."""

    name = NAME
    capabilities = SourceCapabilities(
        kinds=frozenset({DocumentKind.SALE, DocumentKind.REFUND, DocumentKind.CUSTOMER}),
        streams=("receipts",),
    )

    def __init__(self, account: TillAccount | None = None) -> None:
        self.account = account or TillAccount()

    def verify(self, request: WebhookRequest, connection: SourceConnection) -> Webhook:
        raise NotImplementedError

    def translate(self, record_type: str, payload: str, context: SourceContext) -> Translated:
        body = json.loads(payload)
        if record_type == "note":
            return Skip("a till note carries no money")
        if record_type == "customer":
            return Customer(f"till:{body['id']}", context.tenant_id, body["name"])
        kind = DocumentKind(record_type)
        document = codec.decode(kind, body)
        location = context.location_for(body["location_id"], "location_id")
        return replace(document, location_id=location)

    def connect(
        self, connection: SourceConnection, transport: httpx.BaseTransport | None = None
    ) -> SourceClient:
        return TillClient(self.account, connection.connection_id)


def _records(merchant: DemoMerchant) -> list[SourceRecord]:
    out = [
        SourceRecord(doc.kind.value, json.dumps(codec.encode(doc)))
        for doc in simulate(merchant, date(2026, 10, 26), 2, seed=3)
        if doc.kind is not DocumentKind.PAYOUT
    ]
    out.insert(1, SourceRecord("note", '{"text": "till opened"}'))
    out.insert(2, SourceRecord("customer", '{"id": 7, "name": "Ada Lovelace"}'))
    return out


@pytest.fixture
def till(merchant: DemoMerchant) -> TillSource:
    return TillSource(TillAccount(_records(merchant)))


@pytest.fixture
def registry(till: TillSource) -> SourceRegistry:
    registry = SourceRegistry(points=[])
    registry.add(till)
    return registry


@pytest.fixture
def vault() -> Vault:
    return Vault([new_key()])


def connect(db: sessionmaker[Session], vault: Vault, merchant: DemoMerchant) -> str:
    identity = {loc.id: loc.id for loc in merchant.locations}
    with db() as session, session.begin():
        return Connections(session, "demo", vault).add(
            NAME, "source", "Front till", {"api_key": "k"}, {"locations": identity}
        )


def test_a_sweep_stores_every_page_and_saves_its_cursor(
    db: sessionmaker[Session],
    clock: ManualClock,
    vault: Vault,
    registry: SourceRegistry,
    till: TillSource,
    merchant: DemoMerchant,
) -> None:
    """Every record lands in the inbox once, under its connection, and the cursor is kept."""
    connection = connect(db, vault, merchant)
    report = Sweeper(db, clock, vault, registry=registry).sweep("demo", connection)
    total = len(till.account.records)
    assert report.records == total
    assert report.pages == -(-total // 3)
    with db() as session:
        rows = Inbox(session, "demo", clock).in_state(RecordState.RECEIVED)
        cursor = session.get(SourceCursorRow, (connection, "receipts"))
    assert len(rows) == total
    assert {r.connection_id for r in rows} == {connection}
    assert cursor is not None
    assert cursor.cursor == str(total)


def test_a_second_sweep_resumes_at_the_cursor(
    db: sessionmaker[Session],
    clock: ManualClock,
    vault: Vault,
    registry: SourceRegistry,
    till: TillSource,
    merchant: DemoMerchant,
) -> None:
    """Only what changed since the last sweep is fetched."""
    connection = connect(db, vault, merchant)
    sweeper = Sweeper(db, clock, vault, registry=registry)
    sweeper.sweep("demo", connection)
    till.account.records.append(SourceRecord("customer", '{"id": 8, "name": "Grace Hopper"}'))
    report = sweeper.sweep("demo", connection)
    assert (report.records, report.duplicates, report.pages) == (1, 0, 1)


def test_a_failed_page_keeps_the_pages_before_it(
    db: sessionmaker[Session],
    clock: ManualClock,
    vault: Vault,
    registry: SourceRegistry,
    till: TillSource,
    merchant: DemoMerchant,
) -> None:
    """A provider failure mid-sweep loses nothing: the next sweep goes on from the last
    committed page, and nothing is stored twice."""
    connection = connect(db, vault, merchant)
    till.account.fail_at = 6
    sweeper = Sweeper(db, clock, vault, registry=registry)
    with pytest.raises(TransientError):
        sweeper.sweep("demo", connection)
    assert sweeper.cursor(connection, "receipts") == "6"
    report = sweeper.sweep("demo", connection)
    assert report.records == len(till.account.records) - 6
    assert report.duplicates == 0


def test_records_are_read_with_their_connection_settings(
    db: sessionmaker[Session],
    clock: ManualClock,
    vault: Vault,
    registry: SourceRegistry,
    till: TillSource,
    merchant: DemoMerchant,
) -> None:
    """Sales become documents at the mapped location; a note is skipped with its reason;
    a customer is listed in the directory."""
    connection = connect(db, vault, merchant)
    Sweeper(db, clock, vault, registry=registry).sweep("demo", connection)
    counts = Engine(db, clock, registry=registry).take_in("demo")
    documents = len(till.account.records) - 2
    assert counts["normalized"] == documents + 1
    assert counts["skipped"] == 1
    assert counts["quarantined"] == 0
    with db() as session:
        skipped = Inbox(session, "demo", clock).in_state(RecordState.SKIPPED)
        assert [p["message"] for p in skipped[0].problems] == ["a till note carries no money"]
        assert Documents(session, "demo").count() == documents
        customer = Directory(session, "demo").customer("till:7")
    assert customer is not None
    assert customer.name == "Ada Lovelace"


def test_an_unmapped_location_quarantines_with_the_fix(
    db: sessionmaker[Session],
    clock: ManualClock,
    vault: Vault,
    registry: SourceRegistry,
    merchant: DemoMerchant,
) -> None:
    """A sale from a till location with no mapping is quarantined, saying what to map;
    after the mapping is added, replaying it takes it in."""
    with db() as session, session.begin():
        connection = Connections(session, "demo", vault).add(NAME, "source", "Till", {}, {})
    Sweeper(db, clock, vault, registry=registry).sweep("demo", connection)
    engine = Engine(db, clock, registry=registry)
    counts = engine.take_in("demo")
    assert counts["quarantined"] > 0
    with db() as session, session.begin():
        inbox = Inbox(session, "demo", clock)
        held = inbox.in_state(RecordState.QUARANTINED)
        assert {p["code"] for r in held for p in r.problems} == {"unmapped_location"}
        identity = {loc.id: loc.id for loc in merchant.locations}
        Connections(session, "demo", vault).update_settings(connection, locations=identity)
        for row in held:
            inbox.replay(row.id)
    again = engine.take_in("demo")
    assert again["normalized"] == counts["quarantined"]


def test_a_record_through_a_deleted_source_type_is_a_clear_failure(
    db: sessionmaker[Session],
    clock: ManualClock,
    vault: Vault,
    till: TillSource,
    merchant: DemoMerchant,
) -> None:
    """A record whose source is no longer installed is quarantined as unknown_source."""
    connection = connect(db, vault, merchant)
    sale = next(r for r in till.account.records if r.record_type == "sale")
    engine = Engine(db, clock, registry=SourceRegistry(points=[]))
    engine.receive("demo", NAME, sale.record_type, sale.payload, connection_id=connection)
    engine.take_in("demo")
    with db() as session:
        (row,) = Inbox(session, "demo", clock).in_state(RecordState.QUARANTINED)
    assert [p["code"] for p in row.problems] == ["unknown_source"]


def test_the_registry_loads_entry_points_and_names_broken_plugins() -> None:
    """Sources come from entry points; one that fails to load names its plugin."""
    ledger = EntryPoint("ledger", "salesync.connectors.ledger.destination:NAME", "g")
    broken = EntryPoint("broken", "salesync.no_such_module:Thing", "salesync.sources")
    registry = SourceRegistry(points=[ledger, broken])
    assert registry.names() == ["broken", "ledger"]
    with pytest.raises(BugError, match="does not provide a Source"):
        registry.get("ledger")
    with pytest.raises(BugError, match="broken"):
        registry.get("broken")
    with pytest.raises(ValidationError, match="no source named 'nope'"):
        registry.get("nope")


def test_salesyncs_own_sources_are_installed() -> None:
    """Shopify, Square and POS file import are registered through entry points."""
    assert {"shopify", "square", "pos_file"} <= set(SourceRegistry().names())


def test_documents_from_a_sweep_are_sales_of_the_mapped_locations(
    db: sessionmaker[Session],
    clock: ManualClock,
    vault: Vault,
    registry: SourceRegistry,
    merchant: DemoMerchant,
) -> None:
    """A connection mapping the till's locations onto one store books everything there."""
    only = merchant.locations[0].id
    with db() as session, session.begin():
        connection = Connections(session, "demo", vault).add(
            NAME, "source", "Till", {}, {"default_location": only}
        )
    Sweeper(db, clock, vault, registry=registry).sweep("demo", connection)
    Engine(db, clock, registry=registry).take_in("demo")
    with db() as session:
        ids = session.scalars(
            select(InboxRecordRow.document_id).where(InboxRecordRow.document_id.is_not(None))
        ).all()
        documents = [Documents(session, "demo").get(i) for i in ids if i]
    sales = [d for d in documents if isinstance(d, Sale)]
    assert sales
    assert {s.location_id for s in sales} == {only}


def test_each_source_connection_is_swept_every_interval_by_the_runner(
    db: sessionmaker[Session],
    clock: ManualClock,
    vault: Vault,
    registry: SourceRegistry,
    till: TillSource,
    merchant: DemoMerchant,
) -> None:
    """The runner's sweeps: a connection never swept is due at once, then again only
    when its last sweep is an interval old; a paused connection and books are never swept;
    what a sweep brings is taken in by the same pass."""
    connection = connect(db, vault, merchant)
    with db() as session, session.begin():
        Connections(session, "demo", vault).add("ledger", "destination", "Books", {}, {})
        paused = Connections(session, "demo", vault).add(NAME, "source", "Old till", {}, {})
        session.get_one(ConnectionRow, paused).status = "reconnect"
    sweeps = DueSweeps(Sweeper(db, clock, vault, registry=registry), timedelta(minutes=15))
    assert sweeps.due() == [("demo", connection)]
    runner = InProcessRunner(Engine(db, clock, registry=registry), 0.01, sweeps=sweeps)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while not taken_in(db, clock, len(till.account.records)):
            assert time.monotonic() < deadline, state_counts(db, clock)
            time.sleep(0.02)
    finally:
        runner.stop()
    assert runner.last_error is None
    assert sweeps.due() == []
    till.account.records.append(SourceRecord("customer", '{"id": 9, "name": "Ada Lovelace"}'))
    clock.advance(timedelta(minutes=14))
    assert sweeps.tick() == {}
    clock.advance(timedelta(minutes=1))
    (report,) = sweeps.tick().values()
    assert report is not None
    assert report.records == 1


def test_a_failing_periodic_sweep_is_an_incident_and_waits_an_interval(
    db: sessionmaker[Session],
    clock: ManualClock,
    vault: Vault,
    registry: SourceRegistry,
    till: TillSource,
    merchant: DemoMerchant,
) -> None:
    """A sweep that fails is recorded as an incident of its connection and not asked
    again at every pass; an interval later it is, and it resumes where it stopped."""
    connection = connect(db, vault, merchant)
    till.account.fail_at = 3
    sweeper = Sweeper(db, clock, vault, registry=registry, incidents=IncidentLog(clock))
    sweeps = DueSweeps(sweeper, timedelta(minutes=15))
    assert sweeps.tick() == {connection: None}
    with db() as session:
        incident = session.scalars(
            select(IncidentRow).where(IncidentRow.subject == f"connection:{connection}")
        ).one()
    assert incident.connection_id == connection
    assert "timed out" in incident.message
    assert sweeps.due() == []
    clock.advance(timedelta(minutes=15))
    (report,) = sweeps.tick().values()
    assert report is not None
    assert report.records == len(till.account.records) - 3


def state_counts(db: sessionmaker[Session], clock: ManualClock) -> dict[RecordState, int]:
    with db() as session:
        inbox = Inbox(session, "demo", clock)
        return {state: len(inbox.in_state(state)) for state in RecordState}


def taken_in(db: sessionmaker[Session], clock: ManualClock, records: int) -> bool:
    """Whether ``records`` records were received and none waits to be taken in."""
    counts = state_counts(db, clock)
    return sum(counts.values()) == records and not counts[RecordState.RECEIVED]
