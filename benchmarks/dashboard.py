"""The dashboard's read models over a realistic history: about N simulated sales and
refunds imported through the engine into the built-in ledger (per order), then the time
of the sales log's first page, of a page deep in the log, of the sales report over the
whole range and of reconciling it.

Prints each time (the best of a few runs) and the number of documents it read; it asserts
nothing, so it can be compared between commits and machines. Usage:
    python benchmarks/dashboard.py [--documents 20000] [--days 30] [--repeat 3]
        [--database-url sqlite:///dashboard.db]  (kept, and reused by the next run)
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.ledger.destination import LedgerDestination
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.backfill import Backfills, SimulatedHistory
from salesync.engine.runner import Engine
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.documents import Documents
from salesync.store.repositories import Locations, Tenants
from salesync.views.reconciliation import reconciliation
from salesync.views.sales import sales_log
from salesync.views.sales_report import sales_report

FIRST = date(2026, 1, 1)


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs, in seconds, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def build(factory: sessionmaker[Session], documents: int, days: int) -> str:
    """Import about ``documents`` sales and refunds over ``days`` days; the tenant id. A
    database given by URL that holds them already (from an earlier run) is used as it is,
    since importing through the engine takes far longer than what is measured."""
    probe = demo_merchant(orders_per_day=100)
    with factory() as session:
        if Tenants(session).get(probe.tenant.id) is not None:
            stored = Documents(session, probe.tenant.id).count()
            print(f"using the {stored:,} documents already in the database")
            return probe.tenant.id
    sample = sum(1 for d in simulate(probe, FIRST, 3, seed=5) if d.kind.value != "payout") / 3
    per_day = max(1, math.ceil(100 * documents / (sample * days)))
    merchant = demo_merchant(orders_per_day=per_day)
    last = FIRST + timedelta(days=days - 1)
    clock = ManualClock(datetime.combine(last + timedelta(days=2), datetime.min.time(), UTC))
    with factory() as session, session.begin():
        Tenants(session).add(merchant.tenant)
        for location in merchant.locations:
            Locations(session, merchant.tenant.id).add(location)
    engine = Engine(factory, clock)
    backfills = Backfills(factory, clock)
    job = backfills.start(merchant.tenant.id, "simulator", FIRST, last, window_days=1)
    started = time.perf_counter()
    backfills.run(
        job,
        SimulatedHistory(merchant, FIRST, last, seed=5),
        after_window=lambda _: engine.tick(merchant.tenant.id),
    )
    engine.run_until_idle(merchant.tenant.id)
    with factory() as session:
        stored = Documents(session, merchant.tenant.id).count()
    print(f"built {stored:,} documents over {days} days in {time.perf_counter() - started:.1f} s")
    return merchant.tenant.id


def measure(factory: sessionmaker[Session], tenant: str, days: int, repeat: int) -> None:
    last = FIRST + timedelta(days=days - 1)
    with factory() as session:
        seconds, page = best_of(repeat, lambda: sales_log(session, tenant))
        print(f"sales log, first page of {len(page.entries)}:      {seconds * 1000:8.1f} ms")
        cursor = page.next_cursor
        for _ in range(20):
            cursor = sales_log(session, tenant, before=cursor).next_cursor
        seconds, deep = best_of(repeat, lambda: sales_log(session, tenant, before=cursor))
        print(f"sales log, page 22 of {len(deep.entries)}:            {seconds * 1000:8.1f} ms")
        seconds, report = best_of(repeat, lambda: sales_report(session, tenant, FIRST, last))
        print(
            f"sales report, {days} days, {report.documents:,} documents: "
            f"{seconds * 1000:8.1f} ms ({len(report.groups)} location-days)"
        )
        books = LedgerDestination(factory, tenant)
        seconds, view = best_of(repeat, lambda: reconciliation(session, tenant, FIRST, last, books))
        print(
            f"reconciliation, {days} days:               {seconds * 1000:8.1f} ms "
            f"({view.clean_days} clean of {len(view.days)})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = make_engine(args.database_url or f"sqlite:///{Path(tmp) / 'dashboard.db'}")
        migrate(db)
        factory = session_factory(db)
        tenant = build(factory, args.documents, args.days)
        measure(factory, tenant, args.days, args.repeat)
        db.dispose()


if __name__ == "__main__":
    main()
