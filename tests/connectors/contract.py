"""The source contract suite: every source passes these tests.

A connector's test module subclasses ``SourceContract`` and provides a ``harness``
fixture: the source, a connection to a sandbox account (or sample records for a file
source) with some trading in it, and the transport to reach the sandbox. A source that
declares webhooks, streams or history also takes ``WebhookContract``,
``StreamContract`` or ``HistoryContract``; the base suite checks that the classes taken
match the capabilities declared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.source import (
    ForgedWebhookError,
    Skip,
    Source,
    SourceConnection,
    SourceRecord,
    Translated,
    WebhookRequest,
)
from salesync.domain.documents import Customer, Location, Product, Sale, Tenant
from salesync.domain.errors import ValidationError
from salesync.domain.validation import validate_sale
from salesync.engine.inbox import RecordState
from salesync.engine.runner import Engine
from salesync.engine.sweep import Sweeper
from salesync.store.documents import Documents
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import QueuedDocumentRow
from salesync.store.vault import Vault, new_key


@dataclass
class SourceHarness:
    """What a connector's tests give the contract suite."""

    source: Source
    connection: SourceConnection
    """Settings map every provider location the sandbox uses to one of ``locations``."""
    locations: tuple[Location, ...]
    now: datetime
    """A moment after all the sandbox's trading (documents are never in the future)."""
    transport: httpx.BaseTransport | None = None
    deliveries: Callable[[], list[WebhookRequest]] | None = None
    """Genuine signed deliveries, at least one carrying a ``delivered`` (sources with
    webhooks)."""
    delivered: tuple[type, ...] = (Sale,)
    """What at least one genuine delivery carries: a sale, unless the provider's
    notifications never hold one (Square's order events name the order, not its content)."""
    signature_headers: tuple[str, ...] = ()
    """Lower-case names of the headers that carry the signature."""
    records: Callable[[], list[SourceRecord]] | None = None
    """Sample records, for sources without streams to fetch them from (file imports)."""
    history_window: tuple[datetime, datetime] | None = None
    malformed: list[SourceRecord] = field(default_factory=list)
    """Records that must be refused with problems that say what is wrong."""
    changed_at: bool = True
    """Whether the source says when it last changed a sale (an export file does not):
    every sale then carries that time, so a late delivery is told from an edit."""

    @property
    def tenant_id(self) -> str:
        return self.connection.tenant_id

    def client_records(self) -> list[SourceRecord]:
        """Everything the source gives: every stream swept to its end, or the samples."""
        if self.records is not None:
            return self.records()
        client = self.source.connect(self.connection, self.transport)
        try:
            out: list[SourceRecord] = []
            for stream in self.source.capabilities.streams:
                out += sweep_stream(client.fetch, stream, None)[0]
            return out
        finally:
            client.close()


def sweep_stream(
    fetch: Callable[[str, str | None], object], stream: str, cursor: str | None
) -> tuple[list[SourceRecord], str | None]:
    """Every page of ``stream`` from ``cursor``: the records and the last cursor."""
    records: list[SourceRecord] = []
    for _ in range(10_000):
        page = fetch(stream, cursor)
        records += page.records  # type: ignore[attr-defined]
        cursor = page.cursor  # type: ignore[attr-defined]
        if not page.more:  # type: ignore[attr-defined]
            return records, cursor
    raise AssertionError(f"stream {stream} never ended")


def take_in_one_by_one(
    engine: Engine,
    tenant: str,
    source: str,
    connection_id: str | None,
    records: Iterable[SourceRecord],
) -> None:
    """Each record received and taken in by the engine before the next arrives (a late
    delivery after the one that overtook it); none is quarantined or parked."""
    for record in records:
        engine.receive(
            tenant, source, record.record_type, record.payload,
            event_id=record.event_id, connection_id=connection_id,
        )  # fmt: skip
        counts = engine.take_in(tenant)
        assert counts[RecordState.QUARANTINED.value] == 0
        assert counts[RecordState.PARKED.value] == 0


def stored_sale(factory: sessionmaker[Session], tenant: str, sale_id: str) -> tuple[Sale, int]:
    """The sale as stored now, and its revision."""
    with factory() as session:
        documents = Documents(session, tenant)
        stored, revision = documents.get(sale_id), documents.revision(sale_id)
    assert isinstance(stored, Sale)
    return stored, revision


def _identity(record: SourceRecord) -> str:
    return record.event_id or record.payload


class SourceContract:
    """Subclass and provide a ``harness`` fixture."""

    @pytest.fixture
    def harness(self) -> Iterator[SourceHarness]:
        raise NotImplementedError("a connector's test module provides the harness")

    @pytest.fixture
    def translated(self, harness: SourceHarness) -> list[tuple[SourceRecord, Translated]]:
        context = harness.connection.context(harness.source.name)
        return [
            (r, harness.source.translate(r.record_type, r.payload, context))
            for r in harness.client_records()
        ]

    def test_it_is_found_through_its_entry_point(self, harness: SourceHarness) -> None:
        """The source is installed under its name in the salesync.sources group."""
        found = SourceRegistry().get(harness.source.name)
        assert type(found) is type(harness.source)
        assert found.capabilities == harness.source.capabilities

    def test_it_gives_records_that_translate_to_sales(
        self, harness: SourceHarness, translated: list[tuple[SourceRecord, Translated]]
    ) -> None:
        """The sandbox's trading comes out as records, some of them sales."""
        sales = [t for _, t in translated if isinstance(t, Sale)]
        assert sales, "the harness's account has no sales to read"
        kinds = {t.kind for _, t in translated if not isinstance(t, Skip | Customer | Product)}
        assert kinds <= harness.source.capabilities.kinds

    def test_documents_belong_to_the_connection_and_pass_validation(
        self, harness: SourceHarness, translated: list[tuple[SourceRecord, Translated]]
    ) -> None:
        """Every document names the tenant, the source and a mapped location, and every
        sale adds up."""
        locations = {loc.id for loc in harness.locations}
        for record, document in translated:
            if isinstance(document, Skip):
                assert document.reason, f"{record.record_type} skipped without a reason"
                continue
            assert document.tenant_id == harness.tenant_id
            if isinstance(document, Customer | Product):
                continue
            assert document.source == harness.source.name
            assert document.location_id in locations
            if isinstance(document, Sale):
                assert validate_sale(document, now=harness.now) == []

    def test_sales_carry_the_time_the_source_last_changed_them(
        self, harness: SourceHarness, translated: list[tuple[SourceRecord, Translated]]
    ) -> None:
        """A source that says when it last changed a sale passes that time on, with its
        offset: it is what orders an edit against a delivery that arrives late."""
        sales = [t for _, t in translated if isinstance(t, Sale)]
        if not harness.changed_at:
            assert all(s.source_updated_at is None for s in sales)
            return
        for sale in sales:
            changed = sale.source_updated_at
            assert changed is not None, f"sale {sale.external_id} has no source time"
            assert changed.utcoffset() is not None, f"sale {sale.external_id}: naive time"

    def test_translation_is_deterministic(
        self, harness: SourceHarness, translated: list[tuple[SourceRecord, Translated]]
    ) -> None:
        """The same record always becomes the same document (replays change nothing)."""
        context = harness.connection.context(harness.source.name)
        for record, first in translated:
            assert harness.source.translate(record.record_type, record.payload, context) == first

    def test_malformed_records_are_refused_with_problems(self, harness: SourceHarness) -> None:
        """A record that cannot be read raises ValidationError listing what is wrong."""
        context = harness.connection.context(harness.source.name)
        for record in [*harness.malformed, SourceRecord("order", "{not json")]:
            with pytest.raises(ValidationError) as caught:
                harness.source.translate(record.record_type, record.payload, context)
            assert caught.value.problems, f"no problems named for {record.payload[:60]!r}"

    def test_an_unmapped_location_is_a_problem_that_names_the_fix(
        self, harness: SourceHarness, translated: list[tuple[SourceRecord, Translated]]
    ) -> None:
        """Without a location mapping, sales are refused with an unmapped_location problem."""
        # Only the location settings go: the rest (a file's column mapping) is still needed
        # to read the record at all.
        unmapped = {
            k: v
            for k, v in harness.connection.settings.items()
            if k not in ("locations", "default_location")
        }
        bare = replace(harness.connection, settings=unmapped)
        context = bare.context(harness.source.name)
        record = next(r for r, t in translated if isinstance(t, Sale))
        with pytest.raises(ValidationError) as caught:
            harness.source.translate(record.record_type, record.payload, context)
        assert "unmapped_location" in [p.code for p in caught.value.problems]

    def test_the_suite_covers_what_the_source_declares(self, harness: SourceHarness) -> None:
        """A source's test class takes the contract of every capability it declares, and
        only those: nothing declared goes untested."""
        capabilities = harness.source.capabilities
        assert isinstance(self, WebhookContract) == capabilities.webhooks
        assert isinstance(self, StreamContract) == bool(capabilities.streams)
        assert isinstance(self, HistoryContract) == capabilities.history

    def test_its_trading_reaches_the_ledger_balanced(
        self, harness: SourceHarness, factory: sessionmaker[Session]
    ) -> None:
        """Records from the source go through the engine into balanced books, none
        quarantined, every sale posted."""
        vault = Vault([new_key()])
        tenant = harness.tenant_id
        with factory() as session, session.begin():
            Tenants(session).add(Tenant(tenant, "Contract merchant"))
            for location in harness.locations:
                Locations(session, tenant).add(location)
            connection_id = Connections(session, tenant, vault).add(
                harness.source.name,
                "source",
                harness.connection.name,
                dict(harness.connection.credentials),
                dict(harness.connection.settings),
            )
        clock = ManualClock(harness.now)
        engine = Engine(factory, clock)
        if harness.source.capabilities.streams:
            sweeper = Sweeper(factory, clock, vault, transport=lambda _: harness.transport)
            sweeper.sweep(tenant, connection_id)
        else:
            for record in harness.client_records():
                engine.receive(
                    tenant,
                    harness.source.name,
                    record.record_type,
                    record.payload,
                    event_id=record.event_id,
                    connection_id=connection_id,
                )
        counts = engine.take_in(tenant)
        assert counts[RecordState.QUARANTINED.value] == 0
        assert counts[RecordState.NORMALIZED.value] > 0
        clock.advance(timedelta(days=2))
        engine.run_until_idle(tenant)
        with factory() as session:
            balances = LedgerBooks(session, tenant).trial_balance()
            waiting = session.scalars(
                select(QueuedDocumentRow.document_id).where(
                    QueuedDocumentRow.tenant_id == tenant, QueuedDocumentRow.planned.is_(False)
                )
            ).all()
        assert waiting == [], "documents never posted"
        assert balances, "nothing reached the ledger"
        by_currency: dict[str, int] = {}
        for row in balances:
            currency = row.balance.currency
            by_currency[currency] = by_currency.get(currency, 0) + row.balance.to_minor()
        assert set(by_currency.values()) == {0}


class WebhookContract:
    """The contract of a source that declares webhooks; mix in beside ``SourceContract``."""

    def test_genuine_deliveries_verify(self, harness: SourceHarness) -> None:
        """A delivery signed the provider's way verifies and carries records."""
        assert harness.deliveries is not None
        deliveries = harness.deliveries()
        assert deliveries
        carried = [
            r for d in deliveries for r in harness.source.verify(d, harness.connection).records
        ]
        context = harness.connection.context(harness.source.name)
        documents = [harness.source.translate(r.record_type, r.payload, context) for r in carried]
        assert any(isinstance(d, harness.delivered) for d in documents)

    def test_forged_deliveries_are_refused(self, harness: SourceHarness) -> None:
        """A changed body, a missing signature or a signature from another secret fails."""
        assert harness.deliveries is not None
        genuine = harness.deliveries()[0]
        changed = genuine.body.replace(b"}", b" }", 1)
        # A form-encoded body has no literal brace; any change must fail all the same.
        tampered = replace(genuine, body=changed if changed != genuine.body else changed + b"&")
        unsigned = replace(
            genuine,
            headers={
                k: v for k, v in genuine.headers.items() if k not in harness.signature_headers
            },
        )
        resigned = replace(
            genuine,
            headers={
                **genuine.headers,
                **dict.fromkeys(harness.signature_headers, "c2lnbmVkIGJ5IHNvbWVvbmUgZWxzZQ=="),
            },
        )
        for forged in (tampered, unsigned, resigned):
            with pytest.raises(ForgedWebhookError):
                harness.source.verify(forged, harness.connection)


class StreamContract:
    """The contract of a source that declares streams to sweep."""

    def test_a_second_sweep_from_the_last_cursor_brings_nothing_new(
        self, harness: SourceHarness
    ) -> None:
        """Each stream pages to its end, and resuming at its cursor repeats nothing unseen."""
        client = harness.source.connect(harness.connection, harness.transport)
        try:
            for stream in harness.source.capabilities.streams:
                first, cursor = sweep_stream(client.fetch, stream, None)
                again, _ = sweep_stream(client.fetch, stream, cursor)
                seen = {_identity(r) for r in first}
                assert {_identity(r) for r in again} <= seen, stream
        finally:
            client.close()


class HistoryContract:
    """The contract of a source that can list its history for a backfill."""

    def test_history_stays_inside_its_window(self, harness: SourceHarness) -> None:
        """A backfill window's documents all happened inside the window."""
        assert harness.history_window is not None
        start, end = harness.history_window
        context = harness.connection.context(harness.source.name)
        client = harness.source.connect(harness.connection, harness.transport)
        try:
            records = list(client.history(start, end))
        finally:
            client.close()
        documents = [harness.source.translate(r.record_type, r.payload, context) for r in records]
        sales = [d for d in documents if isinstance(d, Sale)]
        assert sales, "the history window holds no sales"
        assert all(start <= s.occurred_at < end for s in sales)
