"""QuickBooks Desktop through the Web Connector passes the destination contract."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from destination_contract import MERCHANT, START, DestinationContract, sample_postings
from qbd_harness import QbdHarness
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.qbd import QbdBooks
from salesync.domain.errors import AuthError
from salesync.engine.destinations import DestinationBooks
from salesync.store.repositories import Connections, Tenants
from salesync.store.vault import Vault, new_key


class TestQbdContract(DestinationContract):
    name = "qbd"
    speaks_http = False
    """The books answer the Web Connector's calls; they make none to QuickBooks."""

    @pytest.fixture
    def harness(self, sender_db: sessionmaker[Session], clock: ManualClock) -> Iterator[QbdHarness]:
        harness = QbdHarness.start(sender_db, clock, MERCHANT.tenant.id)
        yield harness
        harness.close()


class TestQbdSalesReceiptContract(DestinationContract):
    """With sales receipts for per-order sales (and deposits for payouts): the same
    contract, the items they need added on the way."""

    name = "qbd"
    speaks_http = False

    @pytest.fixture
    def harness(self, sender_db: sessionmaker[Session], clock: ManualClock) -> Iterator[QbdHarness]:
        harness = QbdHarness.start(sender_db, clock, MERCHANT.tenant.id, sales_form="sales_receipt")
        yield harness
        harness.close()


def test_the_engine_opens_desktop_books_on_its_own_database(
    factory: sessionmaker[Session],
) -> None:
    """A qbd connection's books come out of the engine's destination books with the
    database bound, and refuse to post until the Web Connector is set up."""
    vault = Vault([new_key()])
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        connection = Connections(session, MERCHANT.tenant.id, vault).add(
            "qbd", "destination", "Desktop books", {}, {}
        )
    books = DestinationBooks(factory, vault, ManualClock(START))(MERCHANT.tenant.id, connection)
    assert isinstance(books, QbdBooks)
    with pytest.raises(AuthError) as caught:
        books.post(sample_postings()[:1])
    assert "Web Connector" in caught.value.user_message
