"""The floor under the backfill: the least CPU each order costs in daily-summary mode with
today's document model, step by step, with nothing around the steps.

``backfill.py`` measures the engine. This measures what any implementation of the same
pipeline would still pay per order, however it were arranged: reading the record into
its document, validating it, computing the stored form and its fingerprint (how an edit
is told from a redelivery), the legs a daily summary sums, and writing the rows each
order keeps (its raw record, its document, its queue row, its link to the posting, and
marking the record taken in and the document planned) as bare batched statements on the
real schema, without the ORM, savepoints or run records.

The sum of the steps is the best figure this document model allows; the backfill's own
figure is set against it at the end. Usage:
    python benchmarks/floor.py [--orders 20000] [--orders-per-day 500]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine as Database

from backfill import FIRST, TemplatedHistory
from salesync.domain.documents import Refund, Sale, business_day
from salesync.domain.postings import DEFAULT_PLAN, refund_lines, sale_lines
from salesync.domain.simulate import demo_merchant
from salesync.domain.validation import validate_refund, validate_sale
from salesync.runtime import settle_heap
from salesync.store import codec
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Locations, Tenants

T = TypeVar("T")


def timed(label: str, orders: int, step: Callable[[], T], figures: dict[str, float]) -> T:
    started = time.process_time()
    result = step()
    figures[label] = (time.process_time() - started) * 1e6 / orders
    return result


def prepared(path: Path, merchant: Any) -> Database:
    """A database on the real schema with the merchant set up (not timed)."""
    db = make_engine(f"sqlite:///{path}")
    migrate(db)
    with session_factory(db)() as session, session.begin():
        Tenants(session).add(merchant.tenant)
        for location in merchant.locations:
            Locations(session, merchant.tenant.id).add(location)
    return db


def rows(db: Database, merchant: Any, records: Sequence[Any], documents: Sequence[Any]) -> None:
    """The rows each order keeps, written as a backfill window would be, in batches of 500
    (one transaction to receive them, one to take them in, one to plan them)."""
    zones = {loc.id: loc.zone for loc in merchant.locations}
    tenant, now = merchant.tenant.id, datetime.now(UTC).isoformat(" ")
    raw = db.raw_connection()
    cursor = raw.cursor()
    cursor.execute(
        "INSERT INTO postings (tenant_id, location_id, destination, key, mode, kind, state, "
        "body, attempts, next_attempt_at, created_at) VALUES (?, ?, 'ledger', 'daily', "
        "'daily_summary', 'posting', 'posted', '{}', 1, ?, ?)",
        (tenant, merchant.locations[0].id, now, now),
    )
    posting = cursor.lastrowid
    for start in range(0, len(records), 500):
        chunk = list(zip(records[start : start + 500], documents[start : start + 500], strict=True))
        cursor.executemany(
            "INSERT INTO inbox_records (tenant_id, source, record_type, event_id, dedupe_event, "
            "payload_hash, payload, received_at, state, problems, attempts, origin) "
            "VALUES (?, 'simulator', ?, ?, ?, ?, ?, ?, 'received', '[]', 0, 'backfill')",
            [
                (tenant, r.record_type, r.event_id, r.event_id, _sha(r.payload), r.payload, now)
                for r, _ in chunk
            ],
        )
        raw.commit()
        cursor.executemany(
            "INSERT INTO documents (id, tenant_id, location_id, kind, source, external_id, "
            "parent_id, occurred_at, business_day, currency, total_minor, body, body_hash, "
            "created_at, revision) VALUES (?, ?, ?, ?, 'simulator', ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            [
                (
                    d.id,
                    tenant,
                    d.location_id,
                    d.kind.value,
                    d.external_id,
                    d.sale_id if isinstance(d, Refund) else None,
                    d.occurred_at.isoformat(" "),
                    business_day(d.occurred_at, zones[d.location_id]).isoformat(),
                    d.currency,
                    d.amount.to_minor(),
                    r.payload,
                    _sha(r.payload),
                    now,
                )
                for r, d in chunk
            ],
        )
        cursor.executemany(
            "INSERT INTO queued_documents (document_id, tenant_id, location_id, kind, "
            "business_day, currency, due_at, planned, held, problems) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, '[]')",
            [
                (d.id, tenant, d.location_id, d.kind.value, "2025-01-01", d.currency, now)
                for _, d in chunk
            ],
        )
        cursor.executemany(
            "UPDATE inbox_records SET state = 'normalized', document_id = ?, attempts = 1, "
            "processed_at = ? WHERE tenant_id = ? AND source = 'simulator' AND dedupe_event = ?",
            [(d.id, now, tenant, r.event_id) for r, d in chunk],
        )
        raw.commit()
        cursor.executemany(
            "UPDATE queued_documents SET planned = 1 WHERE document_id = ?",
            [(d.id,) for _, d in chunk],
        )
        cursor.executemany(
            "INSERT INTO posting_documents (tenant_id, destination, document_id, revision, "
            "posting_id) VALUES (?, 'ledger', ?, 1, ?)",
            [(tenant, d.id, posting) for _, d in chunk],
        )
        raw.commit()
    raw.close()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--orders-per-day", type=int, default=500)
    args = parser.parse_args()
    settle_heap()  # as backfill.py and every salesync process do
    merchant = demo_merchant(orders_per_day=args.orders_per_day)
    history = TemplatedHistory(merchant, FIRST)
    days = max(1, -(-args.orders // len(history)))
    start = datetime.combine(FIRST, datetime.min.time(), UTC)
    records = list(history.history(start, start + timedelta(days=days)))
    orders, now = len(records), start + timedelta(days=days + 2)
    figures: dict[str, float] = {}

    def read() -> list[Any]:
        return [codec.decode_json(r.record_type, r.payload) for r in records]

    documents = timed("read the record into its document", orders, read, figures)
    sales = {d.id: d for d in documents if isinstance(d, Sale)}

    def validate() -> None:
        for d in documents:
            if isinstance(d, Sale):
                validate_sale(d, now=now)
            else:
                validate_refund(d, sales[d.sale_id], [], now=now)

    def stored_form() -> None:
        for d in documents:
            codec.fingerprint(codec.encode(d))

    def legs() -> None:
        for d in documents:
            sale_lines(d, DEFAULT_PLAN) if isinstance(d, Sale) else refund_lines(d, DEFAULT_PLAN)

    timed("validate it", orders, validate, figures)
    timed("its stored form and fingerprint", orders, stored_form, figures)
    timed("the legs a daily summary sums", orders, legs, figures)
    with tempfile.TemporaryDirectory() as tmp:
        db = prepared(Path(tmp) / "floor.db", merchant)
        wall = time.perf_counter()
        timed(
            "the rows it keeps (batched SQL, no ORM)",
            orders,
            lambda: rows(db, merchant, records, documents),
            figures,
        )
        wall = (time.perf_counter() - wall) * 1e6 / orders
        db.dispose()
    print(f"floor over {orders:,} orders, CPU µs per order:")
    for label, micros in figures.items():
        print(f"  {label:<36} {micros:7.1f}")
    total = sum(figures.values())
    print(f"  {'all':<36} {total:7.1f}  = {1e6 / total:,.0f} orders per CPU second at best")
    print(f"  (the rows took {wall:.1f} µs per order of wall time; the target, 25,000 per")
    print("   second, is 40 µs per order)")


if __name__ == "__main__":
    main()
