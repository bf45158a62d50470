"""Inbox and intake: raw records kept, deduplicated, normalized, validated, parked,
quarantined and replayed; nothing lost, nothing processed twice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Document, Payment, Refund, Sale
from salesync.domain.money import Money
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.inbox import Inbox, RecordState, as_problems
from salesync.engine.intake import Intake
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.documents import Documents
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import InboxRecordRow, IncidentRow, QueuedDocumentRow


@pytest.fixture
def docs(merchant: DemoMerchant) -> list[Document]:
    return list(simulate(merchant, date(2026, 10, 26), 3, seed=5))


def send(engine: Engine, doc: Document, event: str | None = None) -> int:
    payload = json.dumps(codec.encode(doc))
    return engine.receive("demo", "simulator", doc.kind.value, payload, event_id=event).record_id


def state(db: sessionmaker[Session], clock: ManualClock, record_id: int) -> RecordState:
    with db() as session:
        row = Inbox(session, "demo", clock).get(record_id)
        assert row is not None
        return RecordState(row.state)


def test_records_are_taken_in_and_queued(
    db: sessionmaker[Session], clock: ManualClock, docs: list[Document]
) -> None:
    """Every clean record becomes a stored document waiting in the queue."""
    engine = Engine(db, clock)
    ids = [send(engine, d) for d in docs]
    counts = engine.take_in("demo")
    assert counts["normalized"] == len(docs)
    assert all(state(db, clock, i) is RecordState.NORMALIZED for i in ids)
    with db() as session:
        assert Documents(session, "demo").count() == len(docs)
        queued = session.scalars(select(QueuedDocumentRow)).all()
        assert len(queued) == len(docs)
        assert all(not q.planned for q in queued)


def test_a_repeat_by_event_id_or_bytes_is_a_duplicate(
    db: sessionmaker[Session], clock: ManualClock, docs: list[Document]
) -> None:
    """The same event id, or the same bytes, is recorded as a duplicate and never processed."""
    engine = Engine(db, clock)
    sale = docs[1]
    first = engine.receive(
        "demo", "simulator", "sale", json.dumps(codec.encode(sale)), event_id="e1"
    )
    again = engine.receive("demo", "simulator", "sale", '{"other": 1}', event_id="e1")
    same_bytes = engine.receive("demo", "simulator", "sale", json.dumps(codec.encode(sale)))
    assert not first.is_duplicate
    assert again.duplicate_of == first.record_id
    assert same_bytes.duplicate_of == first.record_id
    assert engine.take_in("demo")["normalized"] == 1
    assert state(db, clock, again.record_id) is RecordState.DUPLICATE


def parked_refund(
    db: sessionmaker[Session], clock: ManualClock, docs: list[Document]
) -> tuple[Engine, Document, int]:
    """A refund received before its sale and taken in, so parked: the engine, the sale it
    waits for, and the refund's record."""
    engine = Engine(db, clock)
    refund = next(d for d in docs if isinstance(d, Refund))
    refund_id = send(engine, refund)
    engine.take_in("demo")
    assert state(db, clock, refund_id) is RecordState.PARKED
    return engine, next(d for d in docs if d.id == refund.sale_id), refund_id


def test_a_refund_before_its_sale_is_parked_then_resumed(
    db: sessionmaker[Session], clock: ManualClock, docs: list[Document]
) -> None:
    """A refund that arrives first waits, and is taken in as soon as its sale arrives."""
    engine, sale, refund_id = parked_refund(db, clock, docs)
    clock.advance(timedelta(hours=30))
    with db() as session:
        overdue = Inbox(session, "demo", clock).parked_too_long(timedelta(hours=24))
        assert [r.id for r in overdue] == [refund_id]
        assert "has not received yet" in as_problems(overdue[0].problems)[0].message
    # Someone is told, once: an incident and a ticket that say what is missing.
    for reported in (1, 0):
        with db() as session, session.begin():
            assert Inbox(session, "demo", clock).report_overdue(timedelta(hours=24)) == reported
    with db() as session:
        [incident] = session.scalars(select(IncidentRow)).all()
        assert (incident.code, incident.subject) == ("parent_missing", f"record:{refund_id}")
        assert sale.id in incident.user_message
        assert "30 hours" in incident.user_message
        assert incident.ticket_id is not None
    send(engine, sale)
    engine.take_in("demo")
    assert state(db, clock, refund_id) is RecordState.NORMALIZED


def test_bad_input_is_quarantined_with_every_problem_and_replays_after_a_fix(
    db: sessionmaker[Session], clock: ManualClock, docs: list[Document]
) -> None:
    """A sale that does not balance keeps its raw record and all its problems; replayed
    after the location it needs is set up, it goes through."""
    engine = Engine(db, clock)
    sale = next(d for d in docs if isinstance(d, Sale))
    bad = replace(
        sale,
        location_id="harbour-annex",
        payments=(Payment("card", sale.grand_total - Money(Decimal(1), sale.currency)),),
    )
    record = send(engine, bad)
    engine.take_in("demo")
    with db() as session:
        row = Inbox(session, "demo", clock).get(record)
        assert row is not None
        codes = {p.code for p in as_problems(row.problems)}
        assert codes == {"unknown_location", "tenders_do_not_cover_total"}
        assert json.loads(row.payload)["location_id"] == "harbour-annex"
        assert Documents(session, "demo").count() == 0
    with db() as session, session.begin():
        Inbox(session, "demo", clock).replay(record)
    engine.take_in("demo")
    assert state(db, clock, record) is RecordState.QUARANTINED  # still wrong: not fixed yet


def test_malformed_payloads_are_quarantined_with_field_paths(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Broken JSON and missing fields are named, and the raw bytes are kept."""
    engine = Engine(db, clock)
    not_json = engine.receive("demo", "simulator", "sale", "{not json").record_id
    missing = engine.receive("demo", "simulator", "sale", '{"id": "x"}').record_id
    unknown = engine.receive("demo", "nowhere-pos", "sale", "{}").record_id
    customer = engine.receive("demo", "simulator", "customer", '{"id": "c"}').record_id
    engine.take_in("demo")
    with db() as session:
        inbox = Inbox(session, "demo", clock)
        assert as_problems(inbox.get(not_json).problems)[0].code == "malformed_json"  # type: ignore[union-attr]
        paths = {p.path for p in as_problems(inbox.get(missing).problems)}  # type: ignore[union-attr]
        assert {"tenant_id", "lines", "payments"} <= paths
        assert as_problems(inbox.get(unknown).problems)[0].code == "unknown_source"  # type: ignore[union-attr]
        assert inbox.get(not_json).payload == "{not json"  # type: ignore[union-attr]
        refused = as_problems(inbox.get(customer).problems)  # type: ignore[union-attr]
        assert [p.code for p in refused] == ["unknown_record_type"]
        assert "payout, refund, sale" in refused[0].message


def test_an_edited_document_becomes_its_next_revision_and_is_queued_again(
    db: sessionmaker[Session], clock: ManualClock, docs: list[Document]
) -> None:
    """An edit is taken in as revision 2, the first version is kept, and it waits again."""
    engine = Engine(db, clock)
    sale = next(d for d in docs if isinstance(d, Sale))
    send(engine, sale)
    engine.take_in("demo")
    with db() as session, session.begin():
        queued = session.get(QueuedDocumentRow, sale.id)
        assert queued is not None
        queued.planned = True
    edited = send(engine, replace(sale, associate="Zed"))
    engine.take_in("demo")
    assert state(db, clock, edited) is RecordState.NORMALIZED
    with db() as session:
        documents = Documents(session, "demo")
        assert documents.get(sale.id) == replace(sale, associate="Zed")
        assert documents.at_revision(sale.id, 1) == sale
        queued = session.get(QueuedDocumentRow, sale.id)
        assert queued is not None
        assert not queued.planned


def test_a_sale_its_edit_and_its_refund_in_one_batch_are_written_in_order(
    db: sessionmaker[Session],
    clock: ManualClock,
    docs: list[Document],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch keeps its new documents and writes them together; an edit or a refund of
    one of them later in the same batch still finds it, in the batch's single pass."""
    refund = next(d for d in docs if isinstance(d, Refund))
    sale = next(d for d in docs if isinstance(d, Sale) and d.id == refund.sale_id)
    engine = Engine(db, clock)
    ids = [send(engine, sale), send(engine, replace(sale, associate="Zed")), send(engine, refund)]

    def no_fallback(*_: object) -> None:
        raise AssertionError("the batch failed and was taken in again one by one")

    monkeypatch.setattr(Intake, "_one_by_one", no_fallback)
    assert engine.take_in("demo")["normalized"] == 3
    assert [state(db, clock, i) for i in ids] == [RecordState.NORMALIZED] * 3
    with db() as session:
        documents = Documents(session, "demo")
        assert documents.get(sale.id) == replace(sale, associate="Zed")
        assert documents.at_revision(sale.id, 1) == sale
        assert documents.refunds_of(sale.id) == [refund]
        assert {q.document_id for q in session.scalars(select(QueuedDocumentRow))} == {
            sale.id,
            refund.id,
        }


def test_an_edit_moving_a_document_to_another_location_is_quarantined(
    db: sessionmaker[Session], clock: ManualClock, docs: list[Document]
) -> None:
    """A sale that changes location is quarantined with the reason; the stored one stands."""
    engine = Engine(db, clock)
    sale = next(d for d in docs if isinstance(d, Sale) and d.location_id == "brooklyn")
    send(engine, sale)
    moved = send(engine, replace(sale, location_id="shoreditch"))
    engine.take_in("demo")
    assert state(db, clock, moved) is RecordState.QUARANTINED
    with db() as session:
        row = Inbox(session, "demo", clock).get(moved)
        assert row is not None
        assert "document_moved" in {p.code for p in as_problems(row.problems)}
        assert Documents(session, "demo").get(sale.id) == sale


def test_a_refund_whose_sale_resumed_nothing_is_resumed_by_the_next_take_in(
    db: sessionmaker[Session],
    clock: ManualClock,
    docs: list[Document],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another worker stored the sale and resumed its children before this worker's park
    of the refund was committed, so it resumed nothing; this worker looked again before
    the sale was committed. The next take-in finds the refund parked on a stored sale and
    takes it in, rather than leaving it for the overdue report."""
    engine, sale, refund_id = parked_refund(db, clock, docs)
    send(engine, sale)
    with monkeypatch.context() as raced:
        raced.setattr(Inbox, "resume_children", lambda _inbox, _refs: 0)
        engine.take_in("demo")
    assert state(db, clock, refund_id) is RecordState.PARKED
    engine.take_in("demo")
    assert state(db, clock, refund_id) is RecordState.NORMALIZED


@pytest.mark.postgres
def test_a_refund_parked_while_another_worker_stores_its_sale_is_not_left_waiting(
    postgres_url: str,
    clock: ManualClock,
    docs: list[Document],
    merchant: DemoMerchant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers take one tenant's records in at once: one parks a refund (its sale not
    stored yet) while the other stores the sale and, unable to see the uncommitted park,
    resumes nothing. The first looks again after committing and takes the refund in."""
    factory = session_factory(make_engine(postgres_url))
    migrate(factory.kw["bind"])
    with factory() as session, session.begin():
        Tenants(session).add(merchant.tenant)
        for location in merchant.locations:
            Locations(session, "demo").add(location)
    engine = Engine(factory, clock)
    refund = next(d for d in docs if isinstance(d, Refund))
    sale = next(d for d in docs if d.id == refund.sale_id)
    refund_id = send(engine, refund)
    sale_id = send(engine, sale)
    original = Intake.process_all
    other_worker_done: list[dict[str, int]] = []
    started: list[bool] = []

    def and_meanwhile(intake: Intake, rows: Sequence[Any]) -> Any:
        taken = original(intake, rows)
        if not started:  # the refund is parked, not yet committed: the other worker runs
            started.append(True)
            other_worker_done.append(Engine(factory, clock).take_in("demo", rounds=1))
        return taken

    with monkeypatch.context() as patched:
        patched.setattr(Intake, "process_all", and_meanwhile)
        patched.setattr(Inbox, "take", _first_the_refund_alone(refund_id))
        engine.take_in("demo", rounds=1)
    assert other_worker_done[0]["normalized"] == 1  # the sale, by the other worker
    assert state(factory, clock, sale_id) is RecordState.NORMALIZED
    assert state(factory, clock, refund_id) is RecordState.RECEIVED  # looked at again
    engine.take_in("demo")
    assert state(factory, clock, refund_id) is RecordState.NORMALIZED
    factory.kw["bind"].dispose()


def _first_the_refund_alone(refund_id: int) -> Any:
    """``Inbox.take`` where the first take locks the refund alone (the first worker's
    share) and every later one is as it is."""
    take = Inbox.take
    calls: list[int] = []

    def taking(inbox: Inbox, limit: int) -> list[InboxRecordRow]:
        calls.append(limit)
        if len(calls) > 1:
            return take(inbox, limit)
        query = select(InboxRecordRow).where(InboxRecordRow.id == refund_id).with_for_update()
        return list(inbox.session.scalars(query))

    return taking
