"""Reconciliation as the bookkeeper reads it: per location-day source against books, and a
drill-down that names each differing document and why, read from a real database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.ledger.destination import LedgerDestination
from salesync.store.tables import JournalEntryRow, PostingDocumentRow, PostingRow
from salesync.views.reconciliation import UnknownLocationError, day_detail, reconciliation

from .test_sales import FIRST, OTHER, R1, S1, S3, S4, SECOND, TENANT, build, gbp, usd

THIRD = date(2026, 11, 3)


@pytest.fixture
def db(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    build(factory)
    return factory


def lose_from_books(db: sessionmaker[Session], document_id: str) -> str:
    """Delete the ledger entry that holds a document, as if someone removed it there."""
    with db() as session, session.begin():
        key = session.scalar(
            select(PostingRow.key)
            .join(PostingDocumentRow, PostingDocumentRow.posting_id == PostingRow.id)
            .where(PostingDocumentRow.document_id == document_id)
        )
        assert key is not None
        session.execute(delete(JournalEntryRow).where(JournalEntryRow.key == key))
    return key


def test_synced_days_are_clean_and_the_waiting_sale_is_a_difference(
    db: sessionmaker[Session],
) -> None:
    """1-2 Nov agree in both currencies; 3 Nov differs by the sale waiting for its window."""
    with db() as session:
        view = reconciliation(session, TENANT, FIRST, THIRD, LedgerDestination(db, TENANT))
    rows = {(r.location_id, r.day): r for r in view.days}
    assert set(rows) == {
        ("brooklyn", FIRST),
        ("brooklyn", SECOND),
        ("brooklyn", THIRD),
        ("shoreditch", FIRST),
        ("shoreditch", SECOND),
    }
    first = rows[("brooklyn", FIRST)]
    assert first.clean
    assert first.source_total == usd("63.97") + usd("35.62")
    assert first.books_total == first.source_total
    assert first.difference == usd("0")
    second = rows[("brooklyn", SECOND)]
    assert second.source_total == usd("69.68") - usd("30.49")
    assert second.clean
    assert rows[("shoreditch", FIRST)].source_total == gbp("20.40")
    assert rows[("shoreditch", FIRST)].clean
    waiting = rows[("brooklyn", THIRD)]
    assert not waiting.clean
    assert waiting.source_total == usd("23.95")
    assert waiting.books_total == usd("0")
    assert waiting.difference == usd("23.95")
    assert "sales" in waiting.differing
    assert (view.clean_days, view.days_with_differences) == (4, 1)
    assert view.summary == "4 location-days agree with the books; 1 has differences."


def test_an_entry_missing_from_the_books_is_named_in_the_drill_down(
    db: sessionmaker[Session],
) -> None:
    """S3's ledger entry is deleted: its day differs by S3's amount, and the detail names
    S3 with the posting key the books no longer have; the refund on that day agrees."""
    key = lose_from_books(db, S3.id)
    books = LedgerDestination(db, TENANT)
    with db() as session:
        view = reconciliation(session, TENANT, FIRST, SECOND, books)
        detail = day_detail(session, TENANT, "brooklyn", SECOND, books)
    row = next(r for r in view.days if (r.location_id, r.day) == ("brooklyn", SECOND))
    assert not row.clean
    assert row.difference == usd("69.68")
    assert row.differing_documents == 1
    assert not detail.clean
    assert [d.external_id for d in detail.documents] == ["S3", "R1"]
    lost, refunded = detail.documents
    assert lost.document_id == S3.id
    assert lost.source_amount == usd("69.68")
    assert lost.books_amount == usd("0")
    assert lost.difference == usd("69.68")
    assert lost.reason is not None
    assert f"posting {key} is marked posted, but the books have no entry" in lost.reason
    assert lost.differences["sales"] == 64
    assert refunded.document_id == R1.id
    assert refunded.clean
    assert refunded.reason is None
    assert refunded.source_amount == refunded.books_amount == usd("-30.49")
    assert refunded.state == "posted"
    assert refunded.reference is not None
    assert detail.differing == (lost,)
    assert lost.local_time.hour == 11  # 16:00 UTC is 11:00 in New York after the change


def test_the_drill_down_of_a_waiting_day_says_it_waits_for_its_window(
    db: sessionmaker[Session],
) -> None:
    """Without reading the books back, the waiting sale is still explained."""
    with db() as session:
        detail = day_detail(session, TENANT, "brooklyn", THIRD, None)
    [waiting] = detail.documents
    assert waiting.document_id == S4.id
    assert waiting.state == "waiting"
    assert waiting.reason == "waiting for its sync window"
    assert [r.currency for r in detail.rows] == ["USD"]


def test_a_day_across_the_clock_change_holds_the_late_evening_sale(
    db: sessionmaker[Session],
) -> None:
    """22:30 EST on 1 Nov (03:30 UTC on 2 Nov) reconciles on 1 Nov in Brooklyn."""
    with db() as session:
        detail = day_detail(session, TENANT, "brooklyn", FIRST, None)
    assert [d.external_id for d in detail.documents] == ["S1", "S2"]
    assert detail.documents[0].document_id == S1.id
    assert detail.clean


def test_another_tenant_sees_none_of_these_days(db: sessionmaker[Session]) -> None:
    """The other tenant's reconciliation holds only its own sale; our location is unknown
    to it."""
    with db() as session:
        theirs = reconciliation(session, OTHER, FIRST, THIRD, LedgerDestination(db, OTHER))
        with pytest.raises(UnknownLocationError):
            day_detail(session, OTHER, "shoreditch", FIRST, None)
        same_name = day_detail(session, OTHER, "brooklyn", FIRST, None)
    assert [(r.location_id, r.day, r.source_total) for r in theirs.days] == [
        ("brooklyn", FIRST, usd("30.49"))
    ]
    assert [d.external_id for d in same_name.documents] == ["X1"]
