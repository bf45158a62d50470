"""Each tenant's books: the ledger by default, its destination connection once it has one,
opened with the connection's credentials and token; a paused connection holds postings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.destination import (
    Books,
    DestinationCapabilities,
    DestinationConnection,
    Posting,
    Written,
)
from salesync.connectors.registry import DestinationRegistry
from salesync.connectors.tokens import Grant, TokenManager
from salesync.domain.errors import ErrorKind, SyncError
from salesync.domain.journal import JournalEntry, JournalLine
from salesync.domain.money import Money
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.destinations import DestinationBooks
from salesync.engine.outbox import Outbox, PostingState
from salesync.engine.runner import Engine
from salesync.store.repositories import Connections, Journal
from salesync.store.tables import ConnectionRow, PostingRow
from salesync.store.vault import Vault, new_key

from flows import deliver

START = date(2026, 10, 30)


@dataclass
class Notebook:
    """A destination type that keeps what it is sent, per connection, in memory."""

    calls: list[int] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)
    """The batch group of each posting of each call."""
    held: dict[str, dict[str, Posting]] = field(default_factory=dict)
    tokens_seen: list[str] = field(default_factory=list)
    grouped: bool = True
    """Whether its capabilities say it groups postings (refunds apart)."""
    asked: int = 0
    """How many times the sender asked a posting's batch group."""

    @property
    def name(self) -> str:
        return "notebook"

    @property
    def capabilities(self) -> DestinationCapabilities:
        return DestinationCapabilities(
            forms=frozenset({"journal_entry"}), batch_size=7, grouped=self.grouped
        )

    def connect(
        self, connection: DestinationConnection, transport: httpx.BaseTransport | None = None
    ) -> Books:
        assert connection.credentials["api_key"] == "nb-secret"
        if connection.token is not None:
            self.tokens_seen.append(connection.token.access_token())
        return _Pages(self, self.held.setdefault(connection.id, {}))


@dataclass
class _Pages:
    notebook: Notebook
    pages: dict[str, Posting]

    @property
    def name(self) -> str:
        return "notebook"

    @property
    def capabilities(self) -> DestinationCapabilities:
        return self.notebook.capabilities

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        self.notebook.calls.append(len(postings))
        self.notebook.groups.append([self._group(p) for p in postings])
        for posting in postings:
            self.pages.setdefault(posting.key, posting)
        return [Written(p.key, ref=f"page-{p.key}") for p in postings]

    def find(self, keys: Sequence[str]) -> dict[str, str]:
        return {k: f"page-{k}" for k in keys if k in self.pages}

    def batch_group(self, posting: Posting) -> str:
        """Refunds apart from everything else, as books writing them in calls of their
        own would want."""
        self.notebook.asked += 1
        return self._group(posting)

    def _group(self, posting: Posting) -> str:
        return "refund" if posting.key.startswith("refund") else ""

    def close(self) -> None:
        return None


@pytest.fixture
def vault() -> Vault:
    return Vault([new_key()])


def _connect(db: sessionmaker[Session], vault: Vault, **credentials: Any) -> str:
    with db() as session, session.begin():
        return Connections(session, "demo", vault).add(
            "notebook", "destination", "Notebook", {"api_key": "nb-secret", **credentials}
        )


def _engine(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, notebook: Notebook, **kw: Any
) -> Engine:
    registry = DestinationRegistry(points=[])
    registry.add(notebook)
    books = DestinationBooks(db, vault, clock, registry=registry, **kw)
    return Engine(db, clock, books=books)


def _run(engine: Engine, clock: ManualClock, merchant: DemoMerchant) -> int:
    docs = list(simulate(merchant, START, 2, seed=4))
    deliver(engine, clock, docs, clock())
    clock.set(datetime.combine(START + timedelta(days=3), time(20), UTC))
    engine.run_until_idle("demo")
    return len(docs)


def test_without_a_destination_connection_the_ledger_holds_the_books(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant, vault: Vault
) -> None:
    notebook = Notebook()
    _run(_engine(db, clock, vault, notebook), clock, merchant)
    assert notebook.calls == []
    with db() as session:
        assert Journal(session, "demo").count() > 0


def test_a_destination_connection_receives_every_posting_in_its_batch_size(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant, vault: Vault
) -> None:
    connection = _connect(db, vault)
    notebook = Notebook()
    _run(_engine(db, clock, vault, notebook), clock, merchant)
    with db() as session:
        assert Journal(session, "demo").count() == 0, "nothing went to the ledger"
        postings = session.query(PostingRow).all()
        assert {p.destination for p in postings} == {connection}
        assert {p.state for p in postings} == {PostingState.POSTED.value}
    assert len(notebook.held[connection]) == len(postings)
    assert max(notebook.calls) == 7
    assert sum(notebook.calls) == len(postings)


def test_a_connection_waiting_for_reconnect_holds_its_postings_with_the_link(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant, vault: Vault
) -> None:
    connection = _connect(
        db,
        vault,
        access_token="at-1",  # noqa: S106 -- a made-up token
        expires_at=(clock() + timedelta(hours=1)).isoformat(),
    )
    with db() as session, session.begin():
        row = session.get(ConnectionRow, connection)
        assert row is not None
        row.status = "reconnect"

    def no_refresh(provider: str) -> Any:
        raise AssertionError("a paused connection is not refreshed")

    tokens = TokenManager(db, vault, clock, no_refresh)
    notebook = Notebook()
    engine = _engine(db, clock, vault, notebook, tokens=tokens)
    _run(engine, clock, merchant)
    with db() as session:
        counts = Outbox(session, "demo").counts()
        held = session.query(PostingRow).first()
    assert counts == {PostingState.HELD.value: sum(counts.values())}
    assert held is not None
    assert held.last_error is not None
    assert held.last_error["kind"] == ErrorKind.AUTH.value
    assert "/connections/" in held.last_error["user_message"]
    assert notebook.calls == []

    tokens.reconnected("demo", connection, Grant("at-2", "rt-2", clock() + timedelta(hours=1)))
    with db() as session, session.begin():
        for row in session.query(PostingRow).all():
            Outbox(session, "demo").release(row.id, clock())
    engine.run_until_idle("demo")
    with db() as session:
        assert Outbox(session, "demo").counts() == {PostingState.POSTED.value: sum(counts.values())}
    assert notebook.tokens_seen[-1] == "at-2"


def test_two_active_destinations_are_refused_with_what_to_do(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault
) -> None:
    _connect(db, vault)
    with db() as session, session.begin():
        Connections(session, "demo", vault).add("notebook", "destination", "Second", {})
    books = DestinationBooks(db, vault, clock, registry=DestinationRegistry(points=[]))
    with pytest.raises(SyncError) as caught:
        books.name_for("demo")
    assert "disable all but one" in caught.value.user_message


def test_a_database_that_is_busy_while_sending_is_retried_not_failed(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant, vault: Vault
) -> None:
    """ "database is locked" under a sender is a reason to try again, not a bug."""
    _connect(db, vault)
    notebook = Notebook()
    engine = _engine(db, clock, vault, notebook)
    locked = OperationalError("INSERT INTO accounts", {}, Exception("database is locked"))
    original = _Pages.post
    busy_calls = [2]

    def sometimes_busy(self: _Pages, postings: Sequence[Posting]) -> list[Written]:
        if busy_calls[0]:
            busy_calls[0] -= 1
            raise locked
        return original(self, postings)

    _Pages.post = sometimes_busy  # type: ignore[method-assign]
    try:
        _run(engine, clock, merchant)
        clock.advance(timedelta(hours=2))
        engine.run_until_idle("demo")
    finally:
        _Pages.post = original  # type: ignore[method-assign]
    with db() as session:
        counts = Outbox(session, "demo").counts()
        retried = [r for r in session.query(PostingRow).all() if r.last_error]
    assert busy_calls == [0]
    assert set(counts) == {PostingState.POSTED.value}
    assert retried, "the busy calls left their error on the postings they delayed"
    assert {r.last_error["kind"] for r in retried if r.last_error} == {ErrorKind.TRANSIENT.value}


@pytest.mark.parametrize("grouped", [True, False], ids=["grouped", "any-mix"])
def test_a_backlog_is_sent_in_calls_each_of_one_batch_group_to_books_that_group(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, grouped: bool
) -> None:
    """Sales and refunds interleaved, more than one call's worth. Books that write each
    kind with calls of their own (``grouped``) get calls each of one group (in the order
    planned within it), so they spend as few calls as they can; grouping moves no posting
    out of its send. Books that write any mix in the same calls are not asked (the sender
    would read every posting, and for itemized books its documents, a second time) and
    get the backlog in the order planned."""
    connection = _connect(db, vault)
    notebook = Notebook(grouped=grouped)
    keys = [f"{'refund' if n % 3 == 0 else 'sale'}:pos:{n:02}" for n in range(1, 22)]
    _enqueue(db, clock, connection, keys)
    engine = _engine(db, clock, vault, notebook)
    report = engine.sender.send_due("demo")
    assert report.posted == 21
    assert notebook.calls == [7, 7, 7]
    if grouped:
        assert notebook.groups == [[""] * 7, [""] * 7, ["refund"] * 7]
        assert notebook.asked == len(keys)
        assert set(notebook.held[connection]) == set(keys)
    else:
        assert notebook.asked == 0
        assert list(notebook.held[connection]) == keys


def test_a_pass_leaves_its_part_filled_last_call_to_the_next_when_more_are_due(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault
) -> None:
    """Passes of ten postings into calls of seven: each pass sends one full call and
    leaves the rest to the next, which takes them first; the last pass sends all it has."""
    connection = _connect(db, vault)
    notebook = Notebook()
    keys = [f"sale:pos:{n:02}" for n in range(1, 22)]
    _enqueue(db, clock, connection, keys)
    engine = _engine(db, clock, vault, notebook)
    sent = [engine.sender.send_due("demo", limit=10).posted for _ in range(4)]
    assert sent == [7, 7, 7, 0]
    assert notebook.calls == [7, 7, 7]
    assert list(notebook.held[connection]) == keys


def _enqueue(
    db: sessionmaker[Session], clock: ManualClock, connection: str, keys: list[str]
) -> None:
    """One five-dollar card sale (or refund) posting to ``connection`` per key, in order."""
    with db() as session, session.begin():
        outbox = Outbox(session, "demo")
        for key in keys:
            lines = (
                JournalLine("Assets:Clearing:Card", Money(Decimal("5.00"), "USD")),
                JournalLine("Income:Sales:Other", Money(Decimal("-5.00"), "USD")),
            )
            entry = JournalEntry(key, "demo", "brooklyn", START, key, lines)
            outbox.enqueue(
                destination=connection, key=key, mode="per_order", location_id="brooklyn",
                entry=entry, documents=(), now=clock(),
            )  # fmt: skip
