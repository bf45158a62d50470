"""Creating postings: many at once, each key once, each document linked to one posting."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Sale
from salesync.domain.postings import journal_for
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.outbox import NewPosting, Outbox, PostingState
from salesync.store.documents import Documents
from salesync.store.tables import PostingDocumentRow, PostingRow

MERCHANT = demo_merchant(orders_per_day=10)  # the one the ``db`` fixture sets up
LOCATIONS = {loc.id: loc for loc in MERCHANT.locations}
SALES = [d for d in simulate(MERCHANT, date(2026, 10, 20), 1, seed=3) if isinstance(d, Sale)]


def _posting(sale: Sale, key: str | None = None, revision: int = 1) -> NewPosting:
    entry = journal_for(sale, LOCATIONS[sale.location_id])
    return NewPosting(
        destination="ledger",
        key=key or entry.key,
        mode="per_order",
        location_id=sale.location_id,
        entry=entry,
        documents=(sale.id,),
        revisions={sale.id: revision},
    )


def test_postings_created_together_each_key_once(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Ids come back in order; a key that has a posting already, or comes twice in one
    call, gets that posting and links no document again; links carry their revisions."""
    first, second, third = SALES[:3]
    with db() as session, session.begin():
        documents = Documents(session, MERCHANT.tenant.id)
        for sale in (first, second, third):
            documents.add(sale, LOCATIONS[sale.location_id], now=clock())
        outbox = Outbox(session, MERCHANT.tenant.id)
        earlier = outbox.enqueue_all([_posting(first)], clock())
    with db() as session, session.begin():
        outbox = Outbox(session, MERCHANT.tenant.id)
        again = _posting(third, key=_posting(second).key)  # the same key, other document
        ids = outbox.enqueue_all(
            [_posting(first), _posting(second, revision=2), again, _posting(third)], clock()
        )
    assert ids[0] == earlier[0]
    assert ids[2] == ids[1]
    assert len(set(ids)) == 3
    assert outbox.enqueue_all([], clock()) == []
    with db() as session:
        links = session.execute(
            select(PostingDocumentRow.posting_id, PostingDocumentRow.document_id,
                   PostingDocumentRow.revision)
        ).all()  # fmt: skip
        states = set(session.scalars(select(PostingRow.state)))
    assert sorted(links) == sorted(
        [(ids[0], first.id, 1), (ids[1], second.id, 2), (ids[3], third.id, 1)]
    )
    assert states == {PostingState.PENDING.value}
