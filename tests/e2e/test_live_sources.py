"""Real webhooks flow to the books: a simulated Shopify store and Square seller under
uvicorn deliver their signed webhooks over HTTP to salesync's API under uvicorn; what the
providers drop, the sweep catches; repeats are stored once; a 90-day backfill brings the
history from before the connections; and the built-in ledger holds every order, refund
and payout the sandboxes hold, exactly once. The story is told once (see ``conftest``);
each test checks one claim against what it left behind and what it saw on the way."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.source import SourceRecord
from salesync.domain.documents import DocumentKind, Payout, Refund, Sale, document_id
from salesync.domain.postings import journal_for
from salesync.engine.backfill import BackfillState
from salesync.engine.inbox import RecordState
from salesync.sandbox import shopify as shopify_sandbox
from salesync.sandbox import square as square_sandbox
from salesync.sandbox.shopify.notify import encode_payload
from salesync.sandbox.shopify.payloads import order_json
from salesync.store.tables import DocumentRow, InboxRecordRow, QueuedDocumentRow

from .conftest import (
    CONNECTED,
    LOCATIONS,
    SHOPIFY_DROPS,
    SHOPIFY_DUPLICATES,
    SQUARE_DROPS,
    SQUARE_DUPLICATES,
    SWEEP_SINCE,
    TENANT,
    Story,
)

BOOKED = (DocumentKind.SALE, DocumentKind.REFUND, DocumentKind.PAYOUT)
Booked = Sale | Refund | Payout


# -- what the sandboxes hold -------------------------------------------------------------------


def sandbox_ids(story: Story) -> dict[tuple[str, DocumentKind], set[str]]:
    """The salesync id of every sale, refund and payout in the sandboxes' own data, by
    source and kind: every paid Shopify order, its refunds and every payout; every
    completed Square order with items (a sale) or returns (a refund) and every payout."""
    ids: dict[tuple[str, DocumentKind], set[str]] = {
        (source, kind): set() for source in ("shopify", "square") for kind in BOOKED
    }

    def add(source: str, kind: DocumentKind, external: object) -> None:
        ids[(source, kind)].add(document_id(TENANT, source, kind, str(external)))

    with story.store.lock:
        for order in story.store.data.orders.values():
            if not order.test:
                add("shopify", DocumentKind.SALE, order.id)
                for refund in order.refunds:
                    add("shopify", DocumentKind.REFUND, refund.id)
        for payout in story.store.data.payouts.values():
            add("shopify", DocumentKind.PAYOUT, payout.id)
    with story.seller.lock:
        for square_order in story.seller.data.orders.values():
            if square_order.state == "COMPLETED" and square_order.line_items:
                add("square", DocumentKind.SALE, square_order.id)
            if square_order.state == "COMPLETED" and square_order.returns:
                add("square", DocumentKind.REFUND, square_order.id)
        for square_payout in story.seller.data.payouts.values():
            add("square", DocumentKind.PAYOUT, square_payout.id)
    return ids


def read_account(story: Story, provider: str, connection_id: str) -> list[SourceRecord]:
    """Every record of a connection's account as it stands now, read afresh over HTTP
    from the start of its history."""
    opened = story.opened(connection_id)
    whole = replace(
        opened, settings={k: v for k, v in opened.settings.items() if k != "sweep_since"}
    )
    source = story.registry.get(provider)
    client = source.connect(whole)
    records: list[SourceRecord] = []
    try:
        for stream in source.capabilities.streams:
            cursor: str | None = None
            more = True
            while more:
                page = client.fetch(stream, cursor)
                records += page.records
                cursor, more = page.cursor, page.more
    finally:
        client.close()
    return records


def sandbox_documents(story: Story) -> dict[str, Booked]:
    """The documents the sandboxes' accounts stand for now: the version of each that the
    books must hold."""
    found: dict[str, Booked] = {}
    for provider, connection_id in (("shopify", story.shopify_id), ("square", story.square_id)):
        source = story.registry.get(provider)
        context = story.opened(connection_id).context(provider)
        for record in read_account(story, provider, connection_id):
            document = source.translate(record.record_type, record.payload, context)
            if isinstance(document, Booked):
                found[document.id] = document
    return found


def expected_balances(documents: dict[str, Booked]) -> Counter[tuple[str, str]]:
    """What the books must hold: every document's own legs, summed per account."""
    locations = {location.id: location for location in LOCATIONS}
    sums: Counter[tuple[str, str]] = Counter()
    for document in documents.values():
        for line in journal_for(document, locations[document.location_id]).lines:
            sums[(line.account, line.amount.currency)] += line.amount.to_minor()
    return Counter({key: minor for key, minor in sums.items() if minor})


def book_balances(story: Story) -> Counter[tuple[str, str]]:
    with story.factory() as session:
        rows = LedgerBooks(session, TENANT).trial_balance()
    return Counter({(r.account, r.balance.currency): r.balance.to_minor() for r in rows})


def rows_of_event(inbox: list[InboxRecordRow], event: str) -> list[InboxRecordRow]:
    """The inbox records of a provider event: its own id, or ids derived from it for a
    delivery of several records."""
    derived = (f"{event}/", f"{event}#")
    return [
        r for r in inbox if r.event_id and (r.event_id == event or r.event_id.startswith(derived))
    ]


# -- the claims --------------------------------------------------------------------------------


def test_every_webhook_is_posted_over_http_and_acknowledged(story: Story) -> None:
    """Each sandbox POSTed its signed deliveries to the connection's webhook URL on
    salesync's live server, which answered every one 200 at the first attempt; nothing is
    left to retry."""
    for provider, queue, connection_id in (
        ("shopify", story.store.deliveries, story.shopify_id),
        ("square", story.seller.deliveries, story.square_id),
    ):
        attempts = story.seen.attempts[provider]
        assert len(attempts) > 20, provider
        assert {a["status"] for a in attempts} == {200}, provider
        assert {a["attempt"] for a in attempts} == {1}, provider
        url = story.hook_url(connection_id)
        assert url.startswith("http://127.0.0.1:")
        assert {a.url for a in queue.attempts} == {url}, provider
    assert story.store.deliveries.pending() == []
    assert story.seller.deliveries.pending() == []


def test_live_documents_wait_for_their_sync_window(story: Story) -> None:
    """The first live hour was taken in at once and waits for the merchant's 18:00 window
    in New York; none of it reached the books before."""
    window = datetime.combine(CONNECTED.date(), time(18), ZoneInfo("America/New_York"))
    assert story.seen.due_after_first_hour
    assert set(story.seen.due_after_first_hour) == {window}
    assert story.seen.posted_in_first_hour == 0


def test_the_sweep_brings_the_sales_whose_webhooks_were_dropped(story: Story) -> None:
    """Shopify lost deliveries on purpose; the sales they announced were missing until
    the reconciliation sweep, and are in the books now."""
    assert len(story.store.deliveries.dropped) == SHOPIFY_DROPS
    missing = story.seen.missing_before_sweep
    assert missing
    assert missing <= {document for document, _ in story.posted()}


def test_the_sweep_brings_the_customers_whose_notifications_were_dropped(story: Story) -> None:
    """Square lost two customer.created notifications; the customers were unknown until
    the sweep, and are in the directory now."""
    lost = story.seen.lost_customers
    assert [m.topic for m in story.seller.deliveries.dropped] == ["customer.created"] * 2
    assert len(lost) == SQUARE_DROPS
    assert story.seen.customers_before_sweep == set()
    assert story.customers(lost) == lost


def test_duplicated_deliveries_are_stored_once(story: Story) -> None:
    """Each record of an event a sandbox sent twice is in the inbox twice, the second
    time as a duplicate that is never processed; no event id has two originals."""
    inbox = story.inbox()
    for provider, count in (("shopify", SHOPIFY_DUPLICATES), ("square", SQUARE_DUPLICATES)):
        duplicated = story.seen.duplicated[provider]
        assert len(duplicated) == count, provider
        for event in duplicated:
            rows = rows_of_event(inbox, event)
            assert rows, f"{provider} event {event} stored nothing"
            for record_event, copies in Counter(r.event_id for r in rows).items():
                # The first copy may itself be a repeat: Shopify's orders/create and
                # orders/paid carry the same body, which is kept once.
                states = [r.state for r in rows if r.event_id == record_event]
                assert copies == 2, record_event
                assert RecordState.DUPLICATE.value in states, record_event
    originals = Counter(
        r.event_id for r in inbox if r.event_id and r.state != RecordState.DUPLICATE.value
    )
    assert [event for event, n in originals.items() if n > 1] == []


def test_the_backfill_brings_the_history_from_before_the_connections(story: Story) -> None:
    """Both 90-day backfills finished, and every document from before the connections was
    taken in from a backfilled record and is in the books."""
    for provider in ("shopify", "square"):
        progress = story.seen.backfills[provider]
        assert progress.state is BackfillState.DONE, provider
        assert progress.days_done == 90, provider
        assert progress.records > 0, provider
    with story.factory() as session:
        history = set(
            session.scalars(select(DocumentRow.id).where(DocumentRow.occurred_at < SWEEP_SINCE))
        )
        backfilled = set(
            session.scalars(
                select(InboxRecordRow.document_id).where(
                    InboxRecordRow.origin == "backfill",
                    InboxRecordRow.state == RecordState.NORMALIZED.value,
                )
            )
        )
        sources = set(
            session.scalars(select(DocumentRow.source).where(DocumentRow.id.in_(history)))
        )
    assert sources == {"shopify", "square"}
    assert len(history) > 30
    assert history <= backfilled
    assert history <= {document for document, _ in story.posted()}


def test_every_sandbox_document_is_in_the_books_exactly_once(story: Story) -> None:
    """The ledger covers each sale, refund and payout of both sandboxes, each revision of
    it once, up to the revision salesync holds, and nothing else."""
    expected = sandbox_ids(story)
    assert all(expected.values()), {key: len(ids) for key, ids in expected.items()}
    posted = story.posted()
    assert Counter(posted).most_common(1)[0][1] == 1
    assert {document for document, _ in posted} == set().union(*expected.values())
    with story.factory() as session:
        revisions = {
            r.id: r.revision for r in session.execute(select(DocumentRow.id, DocumentRow.revision))
        }
    by_document: dict[str, set[int]] = {}
    for document, revision in posted:
        by_document.setdefault(document, set()).add(revision)
    assert by_document == {d: set(range(1, revisions[d] + 1)) for d in by_document}


def test_the_books_equal_what_the_sandboxes_hold(story: Story) -> None:
    """Per account, the ledger holds exactly the legs of every document as the sandboxes
    hold it now, and the trial balance balances."""
    documents = sandbox_documents(story)
    assert {d.source for d in documents.values()} == {"shopify", "square"}
    books = book_balances(story)
    assert books == expected_balances(documents)
    assert sum(books.values()) == 0


def test_nothing_is_quarantined_parked_or_held(story: Story) -> None:
    """No record waits for a fix or for a parent, and no queued document is held."""
    states = Counter(r.state for r in story.inbox())
    assert states[RecordState.QUARANTINED.value] == 0
    assert states[RecordState.PARKED.value] == 0
    assert states[RecordState.RECEIVED.value] == 0
    assert story.count(QueuedDocumentRow, QueuedDocumentRow.held.is_(True)) == 0


def test_a_forged_shopify_delivery_is_refused_and_not_stored(story: Story) -> None:
    """An order signed with another secret, and the genuine signature over a tampered
    body, both answer 401 at the live endpoint and leave the inbox as it was."""
    order = next(iter(story.store.data.orders.values()))
    body = encode_payload(order_json(order, None))
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Shop-Domain": story.store.domain,
        "X-Shopify-Event-Id": "forged-shopify-1",
        "X-Shopify-Triggered-At": story.clock().isoformat(),
    }
    tampered = body.replace(b'"total_price":"', b'"total_price":"1', 1)
    assert tampered != body
    before = story.inbox()
    forged = (
        (body, shopify_sandbox.sign_webhook(body, "someone-elses-secret")),
        (tampered, shopify_sandbox.sign_webhook(body, story.shopify_secret)),
    )
    for sent, signature in forged:
        response = story.api.post(
            f"/webhooks/{story.shopify_id}",
            content=sent,
            headers={**headers, "X-Shopify-Hmac-Sha256": signature},
        )
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "webhook_forged"
    assert [r.id for r in story.inbox()] == [r.id for r in before]


def test_a_forged_square_delivery_is_refused_and_not_stored(story: Story) -> None:
    """A customer event signed with another key, and one signed with the genuine key for
    another URL, both answer 401 at the live endpoint and leave the inbox as it was."""
    customer = next(iter(story.seller.data.customers.values()))
    body = json.dumps(
        {
            "merchant_id": story.seller.merchant_id,
            "type": "customer.updated",
            "event_id": "forged-square-1",
            "created_at": story.clock().isoformat(),
            "data": {"type": "customer", "id": customer.id, "object": {"customer": {}}},
        }
    ).encode()
    url = story.hook_url(story.square_id)
    before = story.inbox()
    for signed_for, key in ((url, "not-the-key"), (f"{url}/elsewhere", story.square_key)):
        response = story.api.post(
            f"/webhooks/{story.square_id}",
            content=body,
            headers={
                "Content-Type": "application/json",
                "x-square-hmacsha256-signature": square_sandbox.sign_webhook(signed_for, body, key),
            },
        )
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "webhook_forged"
    assert [r.id for r in story.inbox()] == [r.id for r in before]
