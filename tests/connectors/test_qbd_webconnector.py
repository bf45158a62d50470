"""Web Connector sessions against salesync's SOAP service, driven by the zeep client: a
day of sales posted, a connection dropped mid-session without a duplicate, iterators
paged, and the Web Connector's return conventions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from destination_contract import (
    BROOKLYN,
    MERCHANT,
    START,
    _documents,
    expected_balances,
    nonzero,
    sample_postings,
)
from qbd_harness import PASSWORD, USERNAME, QbdHarness
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.destination import Posting, reference
from salesync.connectors.qbd import qbxml
from salesync.connectors.qbd.books import REFERENCE_LIMIT
from salesync.connectors.qbd.queue import WorkQueue
from salesync.connectors.qbd.settle import settle
from salesync.connectors.qbd.shapes import units_for
from salesync.domain.documents import Payout, Tenant
from salesync.domain.errors import ErrorKind, TransientError
from salesync.domain.planning import plan_per_order
from salesync.sandbox.faults import FaultKind
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Tenants
from salesync.store.tables import QbdCompanyFileRow, QbdSessionRow, QbdWorkRow


@pytest.fixture(scope="module")
def qbd_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """One migrated SQLite database for the module (each test has its own connection)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('qbd') / 'salesync.db'}")
    migrate(engine)
    factory = session_factory(engine)
    with factory() as session, session.begin():
        Tenants(session).add(Tenant(MERCHANT.tenant.id, MERCHANT.tenant.name))
    yield factory
    engine.dispose()


@pytest.fixture
def qbd(qbd_db: sessionmaker[Session], request: pytest.FixtureRequest) -> Iterator[QbdHarness]:
    """A company file of its own behind the served Web Connector service (the user name is
    the harness's, so the one before is removed)."""
    with qbd_db() as session, session.begin():
        for row in session.scalars(select(QbdCompanyFileRow)):
            session.delete(row)
    connection_id = f"qbd-{request.node.name}"[:36]
    harness = QbdHarness.start(qbd_db, ManualClock(START), MERCHANT.tenant.id, connection_id)
    yield harness
    harness.close()


def first_day(postings: list[Posting]) -> list[Posting]:
    day = postings[0].entry.date
    return [p for p in postings if p.entry.date == day]


def test_a_day_of_sales_is_posted_in_one_session(qbd: QbdHarness) -> None:
    """Every posting of a day goes out in one Web Connector run and lands once."""
    postings = first_day(sample_postings())
    books = qbd.open()
    written = books.post(postings)
    assert all(w.ref for w in written)
    assert qbd.transactions() == len(postings)
    assert nonzero(qbd.balances()) == expected_balances(qbd, postings)
    assert qbd.connector is not None
    run = qbd.connector.runs[0]
    assert run.status == "done"
    assert run.requests == len(postings)
    assert run.percents[-1] == 100
    assert run.percents == sorted(run.percents)
    assert {w.ref for w in written} == {e.txn_id for e in qbd.company.entries}


def test_a_connection_dropped_mid_session_duplicates_nothing(qbd: QbdHarness) -> None:
    """QuickBooks applied the third request, its answer never reached salesync: the next
    session looks the entry up by reference before anything is added again."""
    postings = first_day(sample_postings())
    qbd.plan.arm("request:3", FaultKind.LOST_RESPONSE)
    books = qbd.open()
    with pytest.raises(TransientError) as waiting:
        books.post(postings)
    assert waiting.value.code == "awaiting_web_connector"
    assert qbd.transactions() == 3
    qbd.clock.advance(timedelta(minutes=3))
    found = books.find([p.key for p in postings])
    assert set(found) == {p.key for p in postings}
    assert qbd.transactions() == len(postings)
    refs = [e.ref_number for e in qbd.company.entries]
    assert len(set(refs)) == len(refs), "an entry was added twice"
    second = qbd.company.log[len(qbd.company.log) - (len(postings) - 3) - 1 :]
    assert second[0] == "JournalEntryQueryRq", "the lookup comes before any new add"
    assert nonzero(qbd.balances()) == expected_balances(qbd, postings)


def test_a_session_still_open_makes_the_next_one_wait(qbd: QbdHarness) -> None:
    """One session per company file: while a dropped one may still be alive, "busy"."""
    postings = first_day(sample_postings())[:2]
    qbd.plan.arm("request:1", FaultKind.LOST_RESPONSE)
    books = qbd.open()
    with pytest.raises(TransientError):
        books.post(postings)
    assert qbd.connector is not None
    assert qbd.connector.update().status == "busy"
    qbd.clock.advance(timedelta(minutes=3))
    assert books.find([p.key for p in postings]) == {
        p.key: e.txn_id for p, e in zip(postings, qbd.company.entries, strict=True)
    }


def test_an_iterator_query_pages_through_the_list(qbd: QbdHarness) -> None:
    """A customer read pages with Start then Continue until nothing remains."""
    names = [f"Customer {n:02d}" for n in range(7)]
    for name in names:
        qbd.company.add_customer(name)
    with qbd.factory() as session, session.begin():
        request = qbxml.message_set([qbxml.customer_query("c", max_returned=3)])
        WorkQueue(session, qbd.connection_id).read("customers", request)
    assert qbd.connector is not None
    qbd.connector.poll()
    with qbd.factory() as session:
        unit = WorkQueue(session, qbd.connection_id).units(["customers"])["customers"]
        assert unit.state == "done"
        assert [r["Name"] for r in unit.result["records"]] == names
    assert qbd.company.log.count("CustomerQueryRq") == 3


def test_an_iterator_cut_by_a_dropped_session_starts_over(qbd: QbdHarness) -> None:
    """An iterator dies with its session; the read restarts and keeps no page twice."""
    for n in range(5):
        qbd.company.add_customer(f"Customer {n}")
    with qbd.factory() as session, session.begin():
        request = qbxml.message_set([qbxml.customer_query("c", max_returned=2)])
        WorkQueue(session, qbd.connection_id).read("customers", request)
    assert qbd.connector is not None
    qbd.plan.arm("request:2", FaultKind.LOST_RESPONSE)
    assert qbd.connector.update().status == "dropped"
    qbd.clock.advance(timedelta(minutes=3))
    qbd.connector.poll()
    with qbd.factory() as session:
        unit = WorkQueue(session, qbd.connection_id).units(["customers"])["customers"]
        assert len(unit.result["records"]) == 5
        assert unit.state == "done"


def test_a_wrong_password_is_not_a_valid_user(qbd: QbdHarness) -> None:
    """authenticate answers "nvu" and no ticket to credentials it does not know."""
    assert qbd.connector is not None
    service = qbd.connector.client.service
    answer = service.authenticate(strUserName=USERNAME, strPassword="not it")
    assert not answer[0]
    assert answer[1] == "nvu"
    answer = service.authenticate(strUserName="nobody", strPassword=PASSWORD)
    assert answer[1] == "nvu"


def test_no_work_is_none_and_a_check_in_is_recorded(qbd: QbdHarness) -> None:
    """With an empty queue authenticate says "none"; every sign-in counts as a check-in."""
    assert qbd.connector is not None
    assert qbd.connector.update().status == "none"
    with qbd.factory() as session:
        company = session.get(QbdCompanyFileRow, qbd.connection_id)
        assert company is not None
        assert company.last_checkin_at == START


def test_quickbooks_not_starting_is_reported_and_kept_for_the_merchant(qbd: QbdHarness) -> None:
    """connectionError's HRESULT ends the run; the books' waiting error says why."""
    qbd.arm("server_error")
    books = qbd.open()
    with pytest.raises(TransientError) as waiting:
        books.post(first_day(sample_postings())[:1])
    assert waiting.value.kind is ErrorKind.TRANSIENT
    assert "could not start QuickBooks" in waiting.value.user_message
    assert qbd.transactions() == 0


def test_an_old_qbxml_version_is_told_to_update(qbd: QbdHarness) -> None:
    """QuickBooks that speaks only an older qbXML gets no request and a clear message."""
    assert qbd.connector is not None
    qbd.connector.qbxml = (8, 0)
    with pytest.raises(TransientError):
        qbd.open().post(first_day(sample_postings())[:1])
    run = qbd.connector.runs[-1]
    assert run.status == "error"
    assert "Update QuickBooks Desktop" in run.messages[0]
    assert qbd.transactions() == 0


def test_an_old_web_connector_is_stopped_by_client_version(qbd: QbdHarness) -> None:
    """clientVersion answers "E:" to a Web Connector too old to speak with."""
    assert qbd.connector is not None
    qbd.connector.version = "1.5.0.0"
    run = qbd.connector.update()
    assert run.status == "error"
    assert "2.0 or later" in run.messages[0]


def test_the_service_serves_its_wsdl_and_faults_on_a_bad_envelope(qbd: QbdHarness) -> None:
    """GET ?wsdl is the contract zeep reads; a body that is not SOAP gets a SOAP Fault."""
    described = httpx.get(qbd.url + "?wsdl")
    assert described.status_code == 200
    assert "receiveResponseXML" in described.text
    assert f'location="{qbd.url}"' in described.text
    bad = httpx.post(qbd.url, content=b"<not-soap/>", headers={"content-type": "text/xml"})
    assert bad.status_code == 500
    assert "Fault" in bad.text


def test_sessions_are_closed_with_their_count(qbd: QbdHarness) -> None:
    """closeConnection ends the ticket and says how many requests went to QuickBooks."""
    qbd.open().post(first_day(sample_postings())[:2])
    assert qbd.connector is not None
    assert qbd.connector.runs[0].messages[-1] == "OK: salesync sent 2 request(s) to QuickBooks."
    with qbd.factory() as session:
        sessions = list(
            session.scalars(
                select(QbdSessionRow).where(QbdSessionRow.connection_id == qbd.connection_id)
            )
        )
    assert [s.closed_at is not None for s in sessions] == [True]


def test_a_refused_posting_stays_refused_until_its_request_changes(qbd: QbdHarness) -> None:
    """Posting the same refused entry again answers the refusal without resending it;
    once the mapping changes the request, it goes again."""
    posting = qbd.refused(first_day(sample_postings())[0])
    books = qbd.open()
    (first,) = books.post([posting])
    assert first.error is not None
    assert first.error.kind is ErrorKind.MAPPING
    sent = qbd.company.log.count("JournalEntryAddRq")
    (again,) = books.post([posting])
    assert again.error is not None
    assert qbd.company.log.count("JournalEntryAddRq") == sent
    qbd.settings["accounts"] = {"Income:Sales:Retired": "Income:Sales:Apparel"}
    (fixed,) = qbd.open().post([posting])
    assert fixed.ref
    assert qbd.transactions() == 1


def test_a_late_answer_for_a_unit_taken_back_settles_nothing(qbd_db: sessionmaker[Session]) -> None:
    """An answer that arrives after another session took the unit back is ignored."""
    with qbd_db() as session, session.begin():
        queue = WorkQueue(session, "late")
        unit = queue.add("k", "SSK", "<request/>", "<lookup/>")
        unit.state = "verify"
        response = (
            '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><JournalEntryAddRs requestID="1" '
            'statusCode="0" statusSeverity="Info" statusMessage="OK"><JournalEntryRet>'
            "<TxnID>1-1</TxnID></JournalEntryRet></JournalEntryAddRs></QBXMLMsgsRs></QBXML>"
        )
        assert settle(unit, response) is None
        assert unit.state == "verify"


def test_a_long_queue_is_worked_through_in_small_sessions(
    qbd_db: sessionmaker[Session], request: pytest.FixtureRequest
) -> None:
    """At most units_per_session requests per run; the Web Connector's next runs take the
    rest, in order, until authenticate says there is no work."""
    with qbd_db() as session, session.begin():
        for row in session.scalars(select(QbdCompanyFileRow)):
            session.delete(row)
    harness = QbdHarness.start(
        qbd_db, ManualClock(START), MERCHANT.tenant.id, "qbd-small-sessions", units_per_session=2
    )
    try:
        postings = first_day(sample_postings())[:5]
        written = harness.open().post(postings)
        assert all(w.ref for w in written)
        assert harness.connector is not None
        runs = harness.connector.runs
        assert [r.requests for r in runs] == [2, 2, 1, 0]
        assert [r.status for r in runs] == ["done", "done", "done", "none"]
        assert [e.ref_number for e in harness.company.entries] == [
            reference(p.key, REFERENCE_LIMIT) for p in postings
        ], "first in, first out"
    finally:
        harness.close()


def test_sales_receipts_and_deposits_carry_per_order_postings(qbd: QbdHarness) -> None:
    """With sales_form sales_receipt: one-tender sales become sales receipts (their items
    added first, once each), payouts deposits, refunds journal entries; the accounts end
    exactly as the entries say."""
    qbd.settings["sales_form"] = "sales_receipt"
    postings = [p for p in sample_postings() if p.mode.value == "per_order"]
    written = qbd.open().post(postings)
    assert all(w.ref for w in written), [w.error for w in written if w.error]
    kinds = [t.kind for t in qbd.company.transactions]
    assert kinds.count("Deposit") == 2
    assert kinds.count("SalesReceipt") == sum(1 for p in postings if "sale" in p.key)
    assert len(qbd.company.entries) == sum(1 for p in postings if ":refund:" in p.key)
    assert "Income.Sales.Apparel" in qbd.company.items
    assert qbd.company.log.count("ItemOtherChargeAddRq") == len(qbd.company.items)
    assert nonzero(qbd.balances()) == expected_balances(qbd, postings)


def test_a_receipt_or_item_dropped_mid_session_is_found_not_added_again(
    qbd: QbdHarness,
) -> None:
    """The first receipt's answer is lost (request 4, after its three items), then, in the
    session that looks it up, the next item's: lookups find both, by the receipt's memo
    and the item's name, and neither is added twice."""
    qbd.settings["sales_form"] = "sales_receipt"
    postings = [p for p in first_day(sample_postings()) if ":sale:" in p.key][:2]
    qbd.plan.arm("request:4", FaultKind.LOST_RESPONSE)
    books = qbd.open()
    with pytest.raises(TransientError):
        books.post(postings)
    qbd.clock.advance(timedelta(minutes=3))
    qbd.plan.arm("request:2", FaultKind.LOST_RESPONSE)
    assert set(books.find([p.key for p in postings])) == {postings[0].key}
    qbd.clock.advance(timedelta(minutes=3))
    written = books.post(postings)
    assert all(w.ref for w in written)
    assert "SalesReceiptQueryRq" in qbd.company.log
    assert "ItemQueryRq" in qbd.company.log
    refs = [t.ref_number for t in qbd.company.transactions]
    assert len(set(refs)) == len(refs) == len(postings), refs
    assert qbd.company.log.count("ItemOtherChargeAddRq") == len(qbd.company.items)
    assert nonzero(qbd.balances()) == expected_balances(qbd, postings)


def test_a_deposit_is_not_taken_for_another_whose_key_contains_its_key(
    qbd_db: sessionmaker[Session],
) -> None:
    """Payout 12 went out with the Web Connector, whose session dropped before QuickBooks
    applied it; payout 123 of the same day is in the file. Looking payout 12 up finds
    nothing of its own: it is added, not taken as written under 123's deposit."""
    with qbd_db() as session, session.begin():
        for row in session.scalars(select(QbdCompanyFileRow)):
            session.delete(row)
    harness = QbdHarness.start(
        qbd_db, ManualClock(START), MERCHANT.tenant.id, "qbd-prefix", sales_form="sales_receipt"
    )
    try:
        payout = next(d for d in _documents() if isinstance(d, Payout))
        longer, shorter = (
            replace(payout, id=f"{payout.id}-{n}", external_id=n) for n in ("123", "12")
        )
        first, second = (
            Posting(p.key, p.mode, p.entry, (d,))
            for d, p in ((d, plan_per_order(d, BROOKLYN)) for d in (longer, shorter))
        )
        assert second.key in first.key
        books = harness.open()
        books.post([first])
        with qbd_db() as session, session.begin():
            _, unit = units_for(second, books.settings)
            queue = WorkQueue(session, harness.connection_id)
            queue.add(unit.key, unit.reference, unit.request, unit.lookup).state = "sent"
        found = books.find([second.key])
        assert harness.transactions() == 2, "payout 12 is deposited after the lookup"
        assert found[second.key] != books.find([first.key])[first.key]
    finally:
        harness.close()


def test_after_a_restore_a_posting_the_queue_forgot_is_looked_up_not_added_again(
    qbd: QbdHarness, qbd_db: sessionmaker[Session]
) -> None:
    """The database was restored from a backup taken before a posting was written: the
    company file holds its entry, the queue holds no work for it. Read back and posted
    again, it is looked up in the file first and found, not added a second time; a key
    the file does not hold is looked up, then added."""
    first, second = first_day(sample_postings())[:2]
    books = qbd.open()
    books.post([first])
    with qbd_db() as session, session.begin():
        session.execute(delete(QbdWorkRow).where(QbdWorkRow.connection_id == qbd.connection_id))
    books = qbd.open()
    assert books.find([first.key, second.key]) == {}
    written = books.post([first, second])
    assert qbd.transactions() == 2, "the forgotten entry was added again"
    refs = [e.ref_number for e in qbd.company.entries]
    assert len(set(refs)) == len(refs)
    assert written[0].ref == qbd.company.entries[0].txn_id
    assert all(w.ref for w in written)
