"""Backfill throughput: N simulated orders imported through the engine into the built-in
ledger, once with both locations in daily-summary mode and once per order.

Prints orders per second and peak resident memory at each quarter of the run (memory
should stay flat as N grows). Usage:
    python benchmarks/backfill.py [--orders 1000000] [--orders-per-day 500]
"""

from __future__ import annotations

import argparse
import math
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from salesync.clock import ManualClock
from salesync.domain.planning import PostingMode
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.backfill import BackfillProgress, Backfills, SimulatedHistory
from salesync.engine.planner import Planner
from salesync.engine.runner import Engine
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Journal, Locations, Tenants

FIRST = date(2025, 1, 1)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(mode: PostingMode, orders: int, per_day: int, url: str | None, tmp: Path) -> None:
    merchant = demo_merchant(orders_per_day=per_day)
    sample = sum(1 for _ in simulate(merchant, FIRST, 7, seed=1)) / 7
    days = max(1, math.ceil(orders / sample))
    last = FIRST + timedelta(days=days - 1)
    engine_url = url or f"sqlite:///{tmp / f'{mode.value}.db'}"
    db = make_engine(engine_url)
    migrate(db)
    factory = session_factory(db)
    clock = ManualClock(datetime.combine(last + timedelta(days=2), datetime.min.time(), UTC))
    with factory() as session, session.begin():
        Tenants(session).add(merchant.tenant)
        for location in merchant.locations:
            Locations(session, merchant.tenant.id).add(location)
        planner = Planner(session, merchant.tenant.id, merchant.locations, clock)
        for location in merchant.locations:
            planner.set_mode(location.id, mode)
    engine = Engine(factory, clock)
    backfills = Backfills(factory, clock)
    job = backfills.start(merchant.tenant.id, "simulator", FIRST, last, window_days=1)
    marks = {days * q // 4 for q in (1, 2, 3, 4)}
    started = time.perf_counter()

    def after(progress: BackfillProgress) -> None:
        engine.tick(merchant.tenant.id)
        if progress.days_done in marks:
            elapsed = time.perf_counter() - started
            print(
                f"  {mode.value:>13}: {progress.records:>9,} records in {elapsed:8.1f} s "
                f"= {progress.records / elapsed:8,.0f}/s, peak RSS {peak_rss_mib():6.0f} MiB"
            )

    history = SimulatedHistory(merchant, FIRST, last, seed=11)
    done = backfills.run(job, history, after_window=after)
    engine.run_until_idle(merchant.tenant.id)
    elapsed = time.perf_counter() - started
    with factory() as session:
        entries = Journal(session, merchant.tenant.id).count()
    print(
        f"{mode.value}: {done.records:,} documents over {days} days into {entries:,} entries, "
        f"{done.records / elapsed:,.0f} documents/s, peak RSS {peak_rss_mib():.0f} MiB"
    )
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--orders-per-day", type=int, default=500)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument(
        "--mode", choices=[m.value for m in PostingMode if m is not PostingMode.PER_PAYOUT]
    )
    args = parser.parse_args()
    modes = (
        [PostingMode(args.mode)]
        if args.mode
        else [
            PostingMode.DAILY_SUMMARY,
            PostingMode.PER_ORDER,
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            run(mode, args.orders, args.orders_per_day, args.database_url, Path(tmp))


if __name__ == "__main__":
    main()
