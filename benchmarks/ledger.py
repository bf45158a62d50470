"""Throughput of the built-in ledger: simulate, take in (validate, store, post), export.

Prints documents per second for intake and entries per second for each export, and the
peak resident memory. Usage: python benchmarks/ledger.py [--days 31] [--orders-per-day 60]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.ledger.books import LedgerBooks
from salesync.domain.documents import Document
from salesync.domain.simulate import DemoMerchant, SalesSimulator, demo_merchant
from salesync.engine.intake import Intake
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Locations, Tenants


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--orders-per-day", type=int, default=60)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--batch", type=int, default=500, help="documents per transaction")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        migrate(engine)
        factory = session_factory(engine)
        merchant = demo_merchant(orders_per_day=args.orders_per_day)
        with factory() as session, session.begin():
            Tenants(session).add(merchant.tenant)
            for location in merchant.locations:
                Locations(session, merchant.tenant.id).add(location)

        started = time.perf_counter()
        documents = SalesSimulator(merchant).run(date(2026, 1, 1), args.days)
        taken = 0
        batch: list[Document] = []
        for document in documents:
            batch.append(document)
            if len(batch) == args.batch:
                taken += _take(factory, merchant, batch)
                batch = []
        taken += _take(factory, merchant, batch)
        intake_s = time.perf_counter() - started
        print(f"intake: {taken} documents in {intake_s:.1f} s = {taken / intake_s:,.0f} docs/s")

        with factory() as session:
            books = LedgerBooks(session, merchant.tenant.id)
            for fmt in ("beancount", "hledger"):
                started = time.perf_counter()
                count = books.export(fmt, Path(tmp) / f"books.{fmt}")
                took = time.perf_counter() - started
                print(f"export {fmt}: {count} entries in {took:.2f} s = {count / took:,.0f}/s")
        engine.dispose()
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")


def _take(factory: sessionmaker[Session], merchant: DemoMerchant, batch: list[Document]) -> int:
    if not batch:
        return 0
    with factory() as session, session.begin():
        report = Intake(session, merchant.tenant.id, merchant.locations).take(batch)
    return report.posted


if __name__ == "__main__":
    main()
