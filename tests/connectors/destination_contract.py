"""The contract every destination passes, the built-in ledger included.

A destination's test module subclasses ``DestinationContract`` (and ``TokenContract``
when its books are reached with OAuth tokens) and provides a ``harness`` fixture: a
``BooksHarness`` that opens the books of one connection, reads back what they hold in
their own accounts, and arms the faults its provider can raise.

The postings are a few days of the simulated Brooklyn store: per-order sales, refunds
and payouts, and a daily summary. Whatever forms the destination writes them as (sales
receipts, invoices, journal entries), each of the books' accounts must end with what the
entries put there, every posting exactly once, however the calls failed on the way.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import ClassVar, Protocol

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.destination import Books, Destination, Posting, Written, reference
from salesync.connectors.registry import DestinationRegistry
from salesync.domain.documents import Payout, Refund, Sale
from salesync.domain.errors import ErrorKind, SyncError
from salesync.domain.planning import PostingMode, plan_daily_summary, plan_per_order
from salesync.domain.simulate import SalesSimulator, demo_merchant
from salesync.engine.outbox import Outbox, PostingState
from salesync.engine.sender import RetryPolicy, Sender
from salesync.store.documents import Documents
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import IncidentRow, PostingRow, TicketDocumentRow, TicketRow

MERCHANT = demo_merchant("harbor", orders_per_day=6)
BROOKLYN = MERCHANT.locations[0]
FIRST_DAY = date(2026, 3, 2)
START = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)


class BooksHarness(Protocol):
    """One destination connection in a sandbox, seen from the contract."""

    destination: Destination

    def open(self) -> Books:
        """The connection's books, as the engine would open them."""
        ...

    def balances(self) -> dict[str, Decimal]:
        """Each of the books' accounts (by the books' own name) with its balance: debits
        positive, credits negative, read from what the books hold."""
        ...

    def books_account(self, account: str) -> str:
        """The books' account a salesync account posts to under this connection."""
        ...

    def transactions(self) -> int:
        """How many transactions the books hold that salesync wrote."""
        ...

    def refused(self, posting: Posting) -> Posting:
        """A variant of ``posting`` these books refuse for a reason of their own (an
        account the connection's policy will not create, a key already holding another
        entry...); the harness may write what the refusal needs first."""
        ...

    def arm(self, fault: str, times: int = 1) -> None:
        """Make the next ``times`` write calls fail: ``lost_response`` (written, answer
        lost), ``server_error`` (5xx, nothing written), ``rate_limited`` (429 with
        Retry-After, nothing written)."""
        ...


def _documents() -> list[Sale | Refund | Payout]:
    simulator = SalesSimulator(MERCHANT, seed=10)
    return [d for d in simulator.run(FIRST_DAY, 3) if d.location_id == BROOKLYN.id]


def sample_postings() -> list[Posting]:
    """Per-order postings for the first two days, a daily summary for the third."""
    documents = _documents()
    per_order: list[Posting] = []
    summary_day = FIRST_DAY + timedelta(days=2)
    summarized: list[Sale | Refund] = []
    for document in documents:
        day = document.occurred_at.astimezone(BROOKLYN.zone).date()
        if day == summary_day and not isinstance(document, Payout):
            summarized.append(document)
            continue
        planned = plan_per_order(document, BROOKLYN)
        per_order.append(Posting(planned.key, planned.mode, planned.entry, (document,)))
    summaries = [
        Posting(p.key, p.mode, p.entry, tuple(summarized))
        for p in plan_daily_summary(summarized, BROOKLYN, summary_day)
    ]
    assert {type(d) for d in documents} == {Sale, Refund, Payout}, "the sample lacks a kind"
    return per_order + summaries


def expected_balances(harness: BooksHarness, postings: list[Posting]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for posting in postings:
        for line in posting.entry.lines:
            sums[harness.books_account(line.account)] += line.amount.amount
    return {account: amount for account, amount in sums.items() if amount}


def nonzero(balances: dict[str, Decimal]) -> dict[str, Decimal]:
    return {account: amount for account, amount in balances.items() if amount}


def post_all(books: Books, postings: list[Posting]) -> list[Written]:
    size = books.capabilities.batch_size
    written: list[Written] = []
    for start in range(0, len(postings), size):
        written += books.post(postings[start : start + size])
    return written


class ContractFixtures:
    """The database the sender works on, with the merchant, and a clock it can move."""

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock(START)

    @pytest.fixture
    def sender_db(self, factory: sessionmaker[Session]) -> sessionmaker[Session]:
        with factory() as session, session.begin():
            if Tenants(session).get(MERCHANT.tenant.id) is None:
                Tenants(session).add(MERCHANT.tenant)
                Locations(session, MERCHANT.tenant.id).add(BROOKLYN)
        return factory


class DestinationContract(ContractFixtures):
    """Every destination passes these."""

    name: ClassVar[str]
    """The name it is registered under in the ``salesync.destinations`` group."""
    speaks_http: ClassVar[bool] = True
    """Whether its books are reached over HTTP (whose exchanges incidents keep)."""

    @pytest.fixture
    def postings(self) -> list[Posting]:
        return sample_postings()

    def test_registered_under_its_name(self, harness: BooksHarness) -> None:
        found = DestinationRegistry().get(self.name)
        assert found.name == self.name == harness.destination.name
        assert isinstance(found, Destination)

    def test_capabilities_are_usable(self, harness: BooksHarness) -> None:
        caps = harness.destination.capabilities
        books = harness.open()
        try:
            assert books.capabilities == caps
            assert caps.batch_size >= 1
            assert caps.find_batch >= 1
            assert caps.forms, "a destination writes at least one form"
            if caps.reference_limit is not None:
                ref = reference("daily:brooklyn:USD:2026-03-04", caps.reference_limit)
                assert len(ref) <= caps.reference_limit
        finally:
            books.close()

    def test_every_posting_has_a_batch_group_and_grouping_writes_nothing(
        self, harness: BooksHarness, postings: list[Posting]
    ) -> None:
        books = harness.open()
        try:
            groups = [books.batch_group(p) for p in postings]
            assert all(isinstance(g, str) for g in groups)
            assert books.find([p.key for p in postings]) == {}
        finally:
            books.close()

    def test_posts_every_posting_once_and_the_books_hold_the_entries(
        self, harness: BooksHarness, postings: list[Posting]
    ) -> None:
        books = harness.open()
        try:
            written = post_all(books, postings)
            assert [w.key for w in written] == [p.key for p in postings]
            assert all(w.ref for w in written), [w.error for w in written if w.error]
            assert len({w.ref for w in written}) == len(postings)
            found = books.find([p.key for p in postings])
        finally:
            books.close()
        assert found == {w.key: w.ref for w in written}
        assert harness.transactions() == len(postings)
        assert nonzero(harness.balances()) == expected_balances(harness, postings)

    def test_posting_a_key_again_writes_nothing_new(
        self, harness: BooksHarness, postings: list[Posting]
    ) -> None:
        books = harness.open()
        try:
            first = books.post(postings[:2])
            again = books.post(postings[:2])
        finally:
            books.close()
        assert [w.ref for w in again] == [w.ref for w in first]
        assert harness.transactions() == 2

    def test_unknown_keys_are_not_found(self, harness: BooksHarness) -> None:
        books = harness.open()
        try:
            assert books.find(["order:shopify:sale:never-posted"]) == {}
        finally:
            books.close()

    def test_one_refused_posting_does_not_hold_back_the_others(
        self, harness: BooksHarness, postings: list[Posting]
    ) -> None:
        size = harness.destination.capabilities.batch_size
        batch = postings[:3] if size >= 3 else postings[:1]
        bad = harness.refused(postings[3])
        before = harness.transactions()
        books = harness.open()
        try:
            written = books.post([*batch[:-1], bad, batch[-1]] if size >= 3 else [bad])
        finally:
            books.close()
        refused = [w for w in written if w.key == bad.key]
        assert len(refused) == 1
        error = refused[0].error
        assert error is not None
        assert error.kind in (ErrorKind.MAPPING, ErrorKind.VALIDATION, ErrorKind.CONFLICT), error
        assert error.user_message, "a refusal says what to fix"
        others = [w for w in written if w.key != bad.key]
        assert all(w.ref for w in others), [w.error for w in others]
        assert harness.transactions() == before + len(others)

    @pytest.mark.parametrize("fault", ["server_error", "rate_limited"])
    def test_a_failed_call_raises_a_transient_error(
        self, harness: BooksHarness, postings: list[Posting], fault: str
    ) -> None:
        harness.arm(fault)
        books = harness.open()
        try:
            with pytest.raises(SyncError) as caught:
                books.post(postings[:2])
        finally:
            books.close()
        assert caught.value.kind is ErrorKind.TRANSIENT
        assert harness.transactions() == 0

    def test_through_the_sender_faults_leave_the_books_exactly_right(
        self,
        harness: BooksHarness,
        postings: list[Posting],
        sender_db: sessionmaker[Session],
        clock: ManualClock,
    ) -> None:
        """A lost response after commit, then a storm of 429s, then 5xx: the sender reads
        back, waits, retries, and every posting is in the books exactly once."""
        enqueue(sender_db, harness.destination.name, postings, clock)
        harness.arm("lost_response")
        harness.arm("rate_limited", times=4)
        harness.arm("server_error", times=2)
        sender = Sender(
            sender_db,
            lambda tenant, name: harness.open(),
            clock,
            retry=RetryPolicy(max_attempts=12, base=timedelta(seconds=1)),
        )
        found = 0
        for _ in range(40):
            report = sender.send_due()
            found += report.found_on_read_back
            if not sender.due() and not pending(sender_db):
                break
            clock.advance(timedelta(minutes=5))
        assert states(sender_db) == {PostingState.POSTED.value: len(postings)}
        assert found >= 1, "the lost response was never read back"
        assert harness.transactions() == len(postings)
        assert nonzero(harness.balances()) == expected_balances(harness, postings)
        # Every failure healed within its budget: counted, healed, and no ticket.
        with sender_db() as session:
            incidents = list(session.scalars(select(IncidentRow)))
            assert session.scalar(select(func.count()).select_from(TicketRow)) == 0
        assert incidents
        assert all(i.transient and i.healed_at is not None for i in incidents)

    def test_an_exhausted_retry_budget_opens_a_ticket_with_the_exchange(
        self,
        harness: BooksHarness,
        postings: list[Posting],
        sender_db: sessionmaker[Session],
        clock: ManualClock,
    ) -> None:
        enqueue(sender_db, harness.destination.name, postings[:2], clock)
        harness.arm("server_error", times=50)
        sender = Sender(
            sender_db,
            lambda tenant, name: harness.open(),
            clock,
            retry=RetryPolicy(max_attempts=2, base=timedelta(seconds=1)),
        )
        for _ in range(6):
            sender.send_due()
            clock.advance(timedelta(minutes=5))
        assert states(sender_db) == {PostingState.FAILED.value: 2}
        with sender_db() as session:
            ticket = session.scalars(select(TicketRow)).one()
            incidents = list(session.scalars(select(IncidentRow).order_by(IncidentRow.id)))
        assert ticket.kind == ErrorKind.TRANSIENT.value
        assert ticket.state == "open"
        assert [i.ticket_id is None for i in incidents].count(False) == 2, "one per posting"
        last = incidents[-1]
        if not self.speaks_http:
            return
        assert last.http, "the failed call's exchange is kept"
        assert any((e.get("status") or 0) >= 500 for e in last.http)
        assert all(
            e["request_headers"].get("authorization") in (None, "[redacted]") for e in last.http
        )


class TokenContract(ContractFixtures):
    """For destinations reached with OAuth tokens: the harness also lets its access
    token expire and reads the stored refresh token."""

    def test_a_token_expiring_mid_batch_leaves_the_books_exactly_right(
        self,
        harness: TokenHarness,
        postings: list[Posting],
        sender_db: sessionmaker[Session],
        clock: ManualClock,
    ) -> None:
        enqueue(sender_db, harness.destination.name, postings, clock)
        sender = Sender(sender_db, lambda tenant, name: harness.open(), clock)
        size = harness.destination.capabilities.batch_size
        first = sender.due(limit=size)
        sender.send(first[0])
        before = harness.stored_refresh_token()
        harness.expire_access_token()
        for _ in range(10):
            sender.send_due()
            if not sender.due():
                break
            clock.advance(timedelta(minutes=5))
        assert states(sender_db) == {PostingState.POSTED.value: len(postings)}
        assert harness.transactions() == len(postings)
        assert harness.stored_refresh_token() != before, "the rotated token was not kept"

    def test_a_revoked_grant_holds_postings_with_a_reconnect_link(
        self,
        harness: TokenHarness,
        postings: list[Posting],
        sender_db: sessionmaker[Session],
        clock: ManualClock,
    ) -> None:
        enqueue(sender_db, harness.destination.name, postings[:3], clock)
        harness.revoke()
        sender = Sender(sender_db, lambda tenant, name: harness.open(), clock)
        report = sender.send_due()
        assert states(sender_db) == {PostingState.HELD.value: 3}
        assert report.errors
        assert report.errors[0].kind is ErrorKind.AUTH
        assert "reconnect" in report.errors[0].user_message.lower()
        assert harness.transactions() == 0
        # One ticket for the merchant to act on, with every affected document and no token.
        secret = harness.stored_refresh_token()
        with sender_db() as session:
            ticket = session.scalars(select(TicketRow)).one()
            incidents = list(session.scalars(select(IncidentRow)))
            affected = session.scalar(select(func.count()).select_from(TicketDocumentRow))
        assert ticket.kind == ErrorKind.AUTH.value
        assert ticket.merchant_action
        assert "reconnect" in ticket.user_message.lower()
        assert affected == len({d for p in postings[:3] for d in p.document_ids})
        assert secret not in repr([(i.message, i.http, i.details) for i in incidents])


class TokenHarness(BooksHarness, Protocol):
    def expire_access_token(self) -> None:
        """Make the provider refuse the current access token (401) from now on."""
        ...

    def stored_refresh_token(self) -> str:
        """The refresh token salesync holds for the connection, decrypted."""
        ...

    def revoke(self) -> None:
        """Revoke the connection's grant at the provider."""
        ...


def enqueue(
    factory: sessionmaker[Session], destination: str, postings: list[Posting], clock: ManualClock
) -> None:
    with factory() as session, session.begin():
        outbox = Outbox(session, MERCHANT.tenant.id)
        store = Documents(session, MERCHANT.tenant.id)
        for document in {d.id: d for p in postings for d in p.documents}.values():
            store.add(document, BROOKLYN, now=clock())
        for posting in postings:
            outbox.enqueue(
                destination=destination,
                key=posting.key,
                mode=posting.mode.value,
                location_id=BROOKLYN.id,
                entry=posting.entry,
                documents=posting.document_ids,
                now=clock(),
            )


def states(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        return Outbox(session, MERCHANT.tenant.id).counts()


def pending(factory: sessionmaker[Session]) -> bool:
    with factory() as session:
        rows = session.query(PostingRow.state).all()
    return any(state != PostingState.POSTED.value for (state,) in rows)


__all__ = [
    "BROOKLYN",
    "MERCHANT",
    "START",
    "BooksHarness",
    "DestinationContract",
    "PostingMode",
    "TokenContract",
    "TokenHarness",
]
