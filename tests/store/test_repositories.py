"""Storage on SQLite and PostgreSQL: schema, tenant scoping, documents, journal, vault."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.domain.documents import DocumentKind, Location, Payout, Refund, Sale, Tenant
from salesync.domain.errors import AuthError, ConflictError, ErrorKind
from salesync.domain.journal import JournalEntry, JournalLine
from salesync.domain.money import Money
from salesync.domain.postings import journal_for
from salesync.domain.simulate import demo_merchant, simulate
from salesync.store import codec
from salesync.store.documents import Documents, Stored
from salesync.store.repositories import (
    Connections,
    Journal,
    Locations,
    Posted,
    TenantMismatchError,
    Tenants,
)
from salesync.store.tables import Base, ConnectionRow, DocumentRow
from salesync.store.vault import Vault, new_key

MERCHANT = demo_merchant(orders_per_day=8)
DOCS = list(simulate(MERCHANT, date(2026, 3, 1), 3))
LOCATIONS = {loc.id: loc for loc in MERCHANT.locations}


def seed(session: Session, tenant_id: str = "demo") -> None:
    Tenants(session).add(Tenant(tenant_id, f"Tenant {tenant_id}"))
    for loc in MERCHANT.locations:
        Locations(session, tenant_id).add(replace(loc, tenant_id=tenant_id))


def test_migrations_match_the_models(factory: sessionmaker[Session]) -> None:
    """The Alembic history builds exactly the schema the models declare."""
    with factory() as session:
        context = MigrationContext.configure(session.connection())
        assert compare_metadata(context, Base.metadata) == []


def test_documents_round_trip_losslessly(factory: sessionmaker[Session]) -> None:
    """Every simulated sale, refund and payout reads back equal to what was stored."""
    with factory() as session, session.begin():
        seed(session)
        docs = Documents(session, "demo")
        for doc in DOCS:
            assert docs.add(doc, LOCATIONS[doc.location_id]) is Stored.NEW
    with factory() as session:
        docs = Documents(session, "demo")
        assert docs.count() == len(DOCS)
        for doc in DOCS:
            assert docs.get(doc.id) == doc


def test_same_document_twice_is_a_duplicate_and_an_edit_is_a_new_revision(
    factory: sessionmaker[Session],
) -> None:
    """A repeat is a duplicate; an edit becomes revision 2 and revision 1 stays readable."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    location = LOCATIONS[sale.location_id]
    with factory() as session, session.begin():
        seed(session)
        docs = Documents(session, "demo")
        assert docs.add(sale, location) is Stored.NEW
        assert docs.add(sale, location) is Stored.DUPLICATE
        edited = replace(sale, associate="Someone else")
        assert docs.add(edited, location) is Stored.REVISED
        assert docs.revision(sale.id) == 2
        assert docs.get(sale.id) == edited
        assert docs.at_revision(sale.id, 1) == sale
        assert docs.at_revision(sale.id, 2) == edited
        assert docs.at_revision(sale.id, 3) is None
        # The first version delivered again, late, is stale: it does not revert the edit.
        assert docs.add(sale, location) is Stored.DUPLICATE
        assert docs.get(sale.id) == edited


def _at(hour: int) -> datetime:
    return datetime(2026, 3, 2, hour, tzinfo=UTC)


def test_a_revert_at_the_source_is_an_edit_when_the_source_says_when(
    factory: sessionmaker[Session],
) -> None:
    """A, then B, then A again, each told with a later time: the books follow the source
    back to A. Without times the third is indistinguishable from a late redelivery."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    location = LOCATIONS[sale.location_id]
    first = replace(sale, source_updated_at=_at(9))
    edited = replace(sale, associate="Someone else", source_updated_at=_at(10))
    reverted = replace(sale, source_updated_at=_at(11))
    with factory() as session, session.begin():
        seed(session)
        docs = Documents(session, "demo")
        assert docs.add(first, location) is Stored.NEW
        assert docs.add(edited, location) is Stored.REVISED
        assert docs.add(reverted, location) is Stored.REVISED
        assert docs.revision(sale.id) == 3
        assert docs.get(sale.id) == sale
        # Each of them again, as a sweep would bring them: nothing moves.
        for again in (first, edited, reverted):
            assert docs.add(again, location) is Stored.DUPLICATE
        assert docs.revision(sale.id) == 3
        assert docs.get(sale.id) == sale


def test_a_delivery_older_than_the_latest_is_stale_whatever_its_body(
    factory: sessionmaker[Session],
) -> None:
    """A, C, then a late B: B is older than C, so it is stale though never seen before;
    C swept again later is a duplicate, not an edit back."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    location = LOCATIONS[sale.location_id]
    a = replace(sale, source_updated_at=_at(9))
    b = replace(sale, associate="B", source_updated_at=_at(10))
    c = replace(sale, associate="C", source_updated_at=_at(11))
    with factory() as session, session.begin():
        seed(session)
        docs = Documents(session, "demo")
        assert docs.add(a, location) is Stored.NEW
        assert docs.add(c, location) is Stored.REVISED
        assert docs.add(b, location) is Stored.DUPLICATE
        assert docs.add(c, location) is Stored.DUPLICATE
        assert docs.revision(sale.id) == 2
        assert docs.get(sale.id) == c
        assert docs.get(sale.id).associate == "C"  # type: ignore[union-attr]


def test_the_same_body_told_later_makes_a_delivery_from_between_stale(
    factory: sessionmaker[Session],
) -> None:
    """A at 9, A again at 11 (a change outside the document), then B from 10: the source's
    latest word is the one at 11, so B is stale."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    location = LOCATIONS[sale.location_id]
    with factory() as session, session.begin():
        seed(session)
        docs = Documents(session, "demo")
        assert docs.add(replace(sale, source_updated_at=_at(9)), location) is Stored.NEW
        assert docs.add(replace(sale, source_updated_at=_at(11)), location) is Stored.DUPLICATE
        late = replace(sale, associate="B", source_updated_at=_at(10))
        assert docs.add(late, location) is Stored.DUPLICATE
        assert docs.revision(sale.id) == 1


def test_a_document_stored_without_a_source_time_takes_one_from_its_next_delivery(
    factory: sessionmaker[Session],
) -> None:
    """A document stored before its source gave times is ordered by body until a delivery
    brings one; from then on the time decides."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    location = LOCATIONS[sale.location_id]
    edited = replace(sale, associate="Someone else", source_updated_at=_at(10))
    with factory() as session, session.begin():
        seed(session)
        docs = Documents(session, "demo")
        assert docs.add(sale, location) is Stored.NEW
        assert docs.add(edited, location) is Stored.REVISED
        assert docs.add(sale, location) is Stored.DUPLICATE  # no time: stale by its body
        assert docs.add(replace(sale, source_updated_at=_at(9)), location) is Stored.DUPLICATE
        assert docs.add(replace(sale, source_updated_at=_at(12)), location) is Stored.REVISED
        assert docs.get(sale.id) == sale


def test_the_source_time_is_not_part_of_the_body(factory: sessionmaker[Session]) -> None:
    """The same document told at another time is the same body: a duplicate, not an edit,
    and its stored form and fingerprint are what they were before times were kept."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    location = LOCATIONS[sale.location_id]
    with factory() as session, session.begin():
        seed(session)
        docs = Documents(session, "demo")
        assert docs.add(sale, location) is Stored.NEW
        assert docs.add(replace(sale, source_updated_at=_at(9)), location) is Stored.DUPLICATE
        row = session.get(DocumentRow, sale.id)
        assert row is not None
        assert "source_updated_at" not in row.body
        assert row.source_updated_at == _at(9)


def test_a_payout_that_failed_is_an_edit_and_one_that_did_not_keeps_its_old_body(
    factory: sessionmaker[Session],
) -> None:
    """A payout that neither failed nor pays out a failed one stores the body it stored
    before payouts could say so (so stored fingerprints still match); the same payout
    told again as failed is an edit, and round-trips."""
    payout = next(d for d in DOCS if isinstance(d, Payout))
    location = LOCATIONS[payout.location_id]
    with factory() as session, session.begin():
        seed(session)
        docs = Documents(session, "demo")
        assert docs.add(payout, location) is Stored.NEW
        row = session.get(DocumentRow, payout.id)
        assert row is not None
        assert {"failed_at", "returned"}.isdisjoint(row.body)
        failed = replace(payout, failed_at=payout.occurred_at + timedelta(days=2))
        assert docs.add(failed, location) is Stored.REVISED
        assert docs.get(payout.id) == failed
        again = replace(payout, returned=Money.of("5.00", payout.currency))
        assert codec.decode(DocumentKind.PAYOUT, codec.encode(again)) == again


def test_a_document_moved_to_another_location_is_a_conflict(
    factory: sessionmaker[Session],
) -> None:
    """An edit that changes a document's location is refused; the stored version stands."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    other = next(loc for loc in LOCATIONS.values() if loc.id != sale.location_id)
    with factory() as session, session.begin():
        seed(session)
        docs = Documents(session, "demo")
        docs.add(sale, LOCATIONS[sale.location_id])
        moved = replace(sale, location_id=other.id)
        with pytest.raises(ConflictError) as raised:
            docs.add(moved, other)
        assert raised.value.kind is ErrorKind.CONFLICT
        assert raised.value.code == "document_moved"
        assert docs.get(sale.id) == sale


def test_refunds_are_found_by_their_sale(factory: sessionmaker[Session]) -> None:
    """A stored refund is listed under the sale it reverses."""
    refund = next(d for d in DOCS if isinstance(d, Refund))
    sale = next(d for d in DOCS if d.id == refund.sale_id)
    with factory() as session, session.begin():
        seed(session)
        docs = Documents(session, "demo")
        docs.add(sale, LOCATIONS[sale.location_id])
        docs.add(refund, LOCATIONS[refund.location_id])
        assert docs.refunds_of(sale.id) == [refund]


def test_tenants_never_see_each_other(factory: sessionmaker[Session]) -> None:
    """Reads scoped to one tenant find nothing of another; writes across tenants are refused."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    with factory() as session, session.begin():
        seed(session, "demo")
        seed(session, "other")
        Documents(session, "demo").add(sale, LOCATIONS[sale.location_id])
        Journal(session, "demo").post(journal_for(sale, LOCATIONS[sale.location_id]))
    with factory() as session, session.begin():
        other = Documents(session, "other")
        assert other.get(sale.id) is None
        assert other.count() == 0
        assert other.refunds_of(sale.id) == []
        assert Journal(session, "other").count() == 0
        assert list(Journal(session, "other").entries()) == []
        key = f"sale:{sale.source}:{sale.external_id}"
        assert Journal(session, "other").get(key) is None
        assert {loc.tenant_id for loc in Locations(session, "other").all()} == {"other"}
        with pytest.raises(TenantMismatchError):
            other.add(sale, LOCATIONS[sale.location_id])
        with pytest.raises(TenantMismatchError):
            Journal(session, "other").post(journal_for(sale, LOCATIONS[sale.location_id]))
    with pytest.raises(ValueError, match="tenant"):
        Documents(session, "")


def test_posting_an_entry_twice_writes_it_once(factory: sessionmaker[Session]) -> None:
    """The entry key is unique: a second post returns the first entry and adds nothing."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    entry = journal_for(sale, LOCATIONS[sale.location_id])
    with factory() as session, session.begin():
        seed(session)
        journal = Journal(session, "demo")
        first = journal.post(entry)
        second = journal.post(entry)
        assert first.created
        assert not second.created
        assert second.entry_id == first.entry_id
        assert journal.count() == 1
        assert journal.get(entry.key) == entry


def test_posting_entries_together_gives_each_its_own_outcome(
    factory: sessionmaker[Session],
) -> None:
    """In one call: an entry already in the books is found, not written again; a key given
    twice is written once; the new ones are written with their lines, and each result
    sits in its entry's place."""
    sales = [d for d in DOCS if isinstance(d, Sale)][:3]
    old, new, other = (journal_for(s, LOCATIONS[s.location_id]) for s in sales)
    with factory() as session, session.begin():
        seed(session)
        journal = Journal(session, "demo")
        first = journal.post(old)
        results = journal.post_all([old, new, new, other])
        assert results[0] == Posted(first.entry_id, created=False)
        made, again, last = results[1:]
        assert made.created
        assert last.created
        assert again == Posted(made.entry_id, created=False)
        assert len({first.entry_id, made.entry_id, last.entry_id}) == 3
        assert journal.count() == 3
        assert journal.get(new.key) == new
        assert journal.get(other.key) == other
        assert journal.post_all([]) == []


def test_an_entry_another_writer_posted_meanwhile_is_theirs(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between looking a key up and inserting it, another writer posts it: the insert
    leaves theirs alone and the result is their entry, not a second one."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    entry = journal_for(sale, LOCATIONS[sale.location_id])
    with factory() as session, session.begin():
        seed(session)
        theirs = Journal(session, "demo").post(entry)
        journal = Journal(session, "demo")
        looked = journal.entry_ids
        calls: list[list[str]] = []

        def before_they_wrote(keys: list[str]) -> dict[str, int]:
            calls.append(keys)
            return {} if len(calls) == 1 else looked(keys)

        monkeypatch.setattr(journal, "entry_ids", before_they_wrote)
        [result] = journal.post_all([entry])
        assert result == Posted(theirs.entry_id, created=False)
        assert len(calls) == 2, "the winner is looked up after the insert"
        assert journal.count() == 1
        assert journal.get(entry.key) == entry


def test_entries_stream_back_in_date_order(factory: sessionmaker[Session]) -> None:
    """Posted entries read back equal, in date order, across batch boundaries."""
    entries = [journal_for(d, LOCATIONS[d.location_id]) for d in DOCS]
    with factory() as session, session.begin():
        seed(session)
        journal = Journal(session, "demo")
        for entry in entries:
            journal.post(entry)
    with factory() as session:
        back = list(Journal(session, "demo").entries(batch_size=7))
    assert len(back) == len(entries) > 7
    assert sorted(back, key=lambda e: e.key) == sorted(entries, key=lambda e: e.key)
    assert [e.date for e in back] == sorted(e.date for e in back)


def test_credentials_are_encrypted_at_rest(factory: sessionmaker[Session]) -> None:
    """The stored bytes hold no secret; the vault opens them; a foreign key cannot."""
    vault = Vault([new_key()])
    secret = {"access_token": "shpat_live_abcdef123456", "shop": "harbor.myshopify.com"}
    with factory() as session, session.begin():
        seed(session)
        conn_id = Connections(session, "demo", vault).add("shopify", "source", "Web", secret)
    with factory() as session:
        raw = session.scalar(select(ConnectionRow.credentials))
        assert raw is not None
        assert b"shpat_live" not in raw
        assert Connections(session, "demo", vault).credentials(conn_id) == secret
        listed = Connections(session, "demo", vault).all()
        assert [c.name for c in listed] == ["Web"]
        assert "shpat" not in repr(listed)
        with pytest.raises(KeyError):
            Connections(session, "other", vault).credentials(conn_id)
        with pytest.raises(AuthError) as raised:
            Connections(session, "demo", Vault([new_key()])).credentials(conn_id)
        assert "reconnect" in raised.value.user_message


def test_a_rotated_key_still_opens_old_credentials() -> None:
    """With the new key first and the old one after, old tokens open and re-seal."""
    old, new = new_key(), new_key()
    token = Vault([old]).seal({"k": "v"})
    rotated = Vault([new, old])
    assert rotated.open(token) == {"k": "v"}
    resealed = rotated.rotate(token)
    assert resealed is not None
    assert Vault([new]).open(resealed) == {"k": "v"}
    assert Vault([new_key()]).rotate(token) is None


def test_a_bad_vault_key_is_named() -> None:
    """A malformed key is refused with the form it should take."""
    with pytest.raises(ValueError, match="salesync keygen"):
        Vault(["not-a-key"])


def test_naive_datetimes_are_refused_by_the_store(factory: sessionmaker[Session]) -> None:
    """A naive time would silently shift business days, so the store will not write it."""
    sale = next(d for d in DOCS if isinstance(d, Sale))
    naive = replace(sale, occurred_at=datetime(2026, 3, 1, 12))  # noqa: DTZ001
    with factory() as session, session.begin():
        seed(session)
        with pytest.raises(ValueError, match="naive"):
            Documents(session, "demo").add(naive, LOCATIONS[sale.location_id])


def test_journal_amounts_survive_the_database_exactly(factory: sessionmaker[Session]) -> None:
    """Zero-, two- and three-decimal currencies post and read back to the minor unit."""
    with factory() as session, session.begin():
        seed(session)
        Locations(session, "demo").add(Location("kw", "demo", "Kuwait", "Asia/Kuwait", "KWD"))
        journal = Journal(session, "demo")
        entry = JournalEntry(
            key="manual:1",
            tenant_id="demo",
            location_id="kw",
            date=date(2026, 3, 1),
            narration="three decimals",
            lines=(
                JournalLine("Assets:Bank", Money(Decimal("1.235"), "KWD")),
                JournalLine("Income:Sales:Other", Money(Decimal("-1.235"), "KWD")),
            ),
        )
        journal.post(entry)
    with factory() as session:
        assert Journal(session, "demo").get("manual:1") == entry
