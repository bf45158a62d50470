"""The reconciliation routes: per location and business day the source's takings against
the books', clean once everything is posted, and one day document by document, with an
entry lost from the books shown as a difference with its reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from callers import Callers, booked, opened
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.domain.documents import Sale
from salesync.store.tables import (
    JournalEntryRow,
    JournalLineRow,
    PostingDocumentRow,
    PostingRow,
)
from salesync.store.vault import Vault

RECONCILIATION = "/api/v1/tenants/demo/reconciliation"
DAY = "2026-10-27"


@pytest.fixture
def api(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> Iterator[Callers]:
    with opened(db, clock, vault, registry) as found:
        yield found


@pytest.fixture
def sold(db: sessionmaker[Session], clock: ManualClock, api: Callers) -> list[Sale]:
    return booked(db, clock)


def test_posted_days_agree_with_the_books(api: Callers, sold: list[Sale]) -> None:
    """Every location-day of posted sales is clean, source and books equal to the cent."""
    response = api.get("bookkeeper", RECONCILIATION, **{"from": DAY, "to": DAY})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["days"], body
    assert body["days_with_differences"] == 0
    assert body["books_unread"] is None
    for row in body["days"]:
        assert row["clean"], row
        assert row["source_total"] == row["books_total"]
        assert row["difference"]["amount"] in {"0", "0.00"}
    assert sum(r["documents"] for r in body["days"]) == len(sold)


def test_an_entry_lost_from_the_books_shows_on_its_day(
    api: Callers, sold: list[Sale], db: sessionmaker[Session]
) -> None:
    """With one sale's journal entry gone from the ledger, its day differs, and the day's
    detail names that sale with a reason."""
    lost = sold[0]
    with db() as session, session.begin():
        keys = (
            select(PostingRow.key)
            .join(PostingDocumentRow, PostingDocumentRow.posting_id == PostingRow.id)
            .where(PostingDocumentRow.document_id == lost.id)
        )
        entry_ids = list(
            session.scalars(
                select(JournalEntryRow.id).where(
                    JournalEntryRow.tenant_id == "demo", JournalEntryRow.key.in_(keys)
                )
            )
        )
        assert entry_ids
        session.execute(delete(JournalLineRow).where(JournalLineRow.entry_id.in_(entry_ids)))
        session.execute(delete(JournalEntryRow).where(JournalEntryRow.id.in_(entry_ids)))
    days = api.get("owner", RECONCILIATION, **{"from": DAY, "to": DAY}).json()
    assert days["days_with_differences"] >= 1
    detail = api.get("owner", f"{RECONCILIATION}/{lost.location_id}/{DAY}")
    assert detail.status_code == 200, detail.text
    assert not detail.json()["clean"]
    differing = {d["document_id"]: d for d in detail.json()["documents"] if not d["clean"]}
    assert lost.id in differing
    assert differing[lost.id]["reason"]


def test_a_day_lists_every_document_of_the_location(api: Callers, sold: list[Sale]) -> None:
    """The day's detail has each of the location's sales once, amounts as decimal strings."""
    place = sold[0].location_id
    detail = api.get("owner", f"{RECONCILIATION}/{place}/{DAY}").json()
    assert sorted(d["document_id"] for d in detail["documents"]) == sorted(
        s.id for s in sold if s.location_id == place
    )
    first = detail["documents"][0]
    assert first["source_amount"] == first["books_amount"]
    assert "." in first["source_amount"]["amount"]


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        (f"atlantis/{DAY}", 404, "unknown_location"),
        ("brooklyn/27-10-2026", 400, "bad_parameter"),
        ("brooklyn/2026-02-30", 400, "bad_parameter"),
    ],
)
def test_an_unknown_location_or_bad_day_is_refused(
    api: Callers, path: str, status: int, error: str
) -> None:
    """A location the tenant does not have is 404; a day not written YYYY-MM-DD is 400."""
    response = api.get("owner", f"{RECONCILIATION}/{path}")
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


@pytest.mark.parametrize(
    "params",
    [{"from": DAY}, {"from": "2026-10-28", "to": DAY}, {"from": "2026-01-01", "to": DAY}],
    ids=["no last day", "backwards", "over a quarter"],
)
def test_a_range_must_be_whole_and_short(api: Callers, params: dict[str, str]) -> None:
    """Both days, in order, a quarter at most: else 400."""
    response = api.get("owner", RECONCILIATION, **params)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_parameter"


@pytest.mark.parametrize(
    ("who", "status"), [("bookkeeper", 200), ("developer", 200), ("other_owner", 403)]
)
def test_who_may_reconcile(api: Callers, who: str, status: int) -> None:
    """Whoever may view the tenant reads its reconciliation."""
    assert api.get(who, RECONCILIATION, **{"from": DAY, "to": DAY}).status_code == status
