"""Backfill throughput: N orders imported through the engine into the built-in ledger,
once with both locations in daily-summary mode and once per order.

The orders are one simulated day (sales and refunds, before the run is timed) told again
for each day of the range under that day's dates and ids, so what is measured is the
backfill (inbox, intake, planning, posting), not the simulator. They are made a window at
a time, never held all at once.

Prints orders per second of wall time and per CPU second of this process (the figure
for one core, and the steadier one on a shared machine) and peak resident memory at each
quarter of the run (memory should stay flat as N grows). At the end it prints where the
CPU went per order, stage by stage (making the history, storing it in the inbox, take-in,
planning, sending), and the time spent inside the database driver (statements and
commits): what any faster path would still have to pay for the rows it keeps. Usage:
    python benchmarks/backfill.py [--orders 1000000] [--orders-per-day 500]
        [--mode daily_summary|per_order] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine as Database
from sqlalchemy import event, func, select

from salesync.clock import ManualClock
from salesync.domain.documents import DocumentKind, Payout, Refund, document_id
from salesync.domain.planning import PostingMode
from salesync.domain.simulate import SOURCE, DemoMerchant, demo_merchant, simulate
from salesync.engine.backfill import BackfillProgress, Backfills, HistoricalRecord
from salesync.engine.outbox import PostingState
from salesync.engine.planner import Planner
from salesync.engine.runner import Engine
from salesync.runtime import settle_heap
from salesync.store import codec
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Journal, Locations, Tenants
from salesync.store.tables import PostingRow

FIRST = date(2025, 1, 1)
T = TypeVar("T")


class TemplatedHistory:
    """One simulated day of sales and refunds, told again for every day asked for.

    Each copy carries its day's date in its external ids and times, and the document ids
    that follow from them, so every order is a new document; a refund still refunds the
    sale of its own copy.
    """

    name = SOURCE
    connection_id = None

    def __init__(self, merchant: DemoMerchant, day: date) -> None:
        self.tenant_id = merchant.tenant.id
        self.day = day
        self.templates: list[tuple[str, str, tuple[tuple[str, DocumentKind, str], ...]]] = []
        told = [d for d in simulate(merchant, day, 1, seed=11) if not isinstance(d, Payout)]
        by_id = {d.id: d for d in told}
        for document in told:
            named = [document]
            if isinstance(document, Refund):
                named.append(by_id[document.sale_id])
            payload = json.dumps(codec.encode(document))
            ids = tuple((d.id, d.kind, d.external_id) for d in named)
            self.templates.append((document.kind.value, payload, ids))

    def __len__(self) -> int:
        return len(self.templates)

    def _copy(self, day: date) -> Iterator[HistoricalRecord]:
        stamp, dashed = self.day.strftime("%Y%m%d"), f"{self.day.isoformat()}T"
        new_stamp, new_dashed = day.strftime("%Y%m%d"), f"{day.isoformat()}T"
        for kind, payload, ids in self.templates:
            text = payload.replace(stamp, new_stamp).replace(dashed, new_dashed)
            event_id = None
            for old_id, document_kind, external_id in ids:
                new_external_id = external_id.replace(stamp, new_stamp)
                new_id = document_id(self.tenant_id, SOURCE, document_kind, new_external_id)
                text = text.replace(old_id, new_id)
                event_id = event_id or f"sim:{new_id}"
            yield HistoricalRecord(kind, text, event_id)

    def history(self, start: datetime, end: datetime) -> Iterator[HistoricalRecord]:
        day = start.date()
        while day < end.date():
            yield from self._copy(day)
            day += timedelta(days=1)


class Stages:
    """CPU seconds per stage of the backfill, and wall seconds inside the database driver."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.database = 0.0
        self._entered: float | None = None

    def timed(self, stage: str, call: Callable[..., T]) -> Callable[..., T]:
        def run(*args: Any, **kwargs: Any) -> T:
            started = time.process_time()
            try:
                return call(*args, **kwargs)
            finally:
                self.cpu[stage] = self.cpu.get(stage, 0.0) + time.process_time() - started

        return run

    def made(self, records: Iterable[T]) -> Iterator[T]:
        """``records`` as they are made, the making counted as the history's own stage."""
        items = iter(records)
        while True:
            started = time.process_time()
            item = next(items, None)
            self.cpu["history"] = self.cpu.get("history", 0.0) + time.process_time() - started
            if item is None:
                return
            yield item

    def watch(self, db: Database) -> None:
        def entered(*_: Any) -> None:
            self._entered = time.perf_counter()

        def left(*_: Any) -> None:
            if self._entered is not None:
                self.database += time.perf_counter() - self._entered
                self._entered = None

        event.listen(db, "before_cursor_execute", entered)
        event.listen(db, "after_cursor_execute", left)
        commit = db.dialect.do_commit

        def timed_commit(connection: Any) -> None:
            entered()
            try:
                commit(connection)
            finally:
                left()

        db.dialect.do_commit = timed_commit  # type: ignore[method-assign]

    def report(self, orders: int, busy: float) -> str:
        per = 1e6 / orders
        cpu = dict(self.cpu)
        # Storing a window is what the backfill does outside the history and the engine.
        cpu["inbox"] = cpu.get("backfill", 0.0) - cpu.get("engine", 0.0) - cpu.get("history", 0.0)
        named = ("history", "inbox", "take-in", "plan", "send")
        other = busy - sum(cpu.get(s, 0.0) for s in named)
        parts = ", ".join(f"{s} {cpu.get(s, 0.0) * per:.0f}" for s in named)
        return (
            f"  CPU µs per order: {parts}, other {other * per:.0f} (all {busy * per:.0f}); "
            f"inside the database driver {self.database * per:.0f} µs per order (wall)"
        )


class Timed:
    """A history source whose making of records is timed apart from storing them."""

    def __init__(self, history: TemplatedHistory, stages: Stages) -> None:
        self.name, self.connection_id = history.name, history.connection_id
        self._history, self._stages = history, stages

    def history(self, start: datetime, end: datetime) -> Iterator[HistoricalRecord]:
        return self._stages.made(self._history.history(start, end))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(mode: PostingMode, orders: int, per_day: int, url: str | None, tmp: Path) -> None:
    merchant = demo_merchant(orders_per_day=per_day)
    history = TemplatedHistory(merchant, FIRST)
    days = max(1, math.ceil(orders / len(history)))
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
    stages = Stages()
    stages.watch(db)
    engine = Engine(factory, clock)
    # The tick calls these through the instance, so each stage is timed where it runs.
    engine.take_in = stages.timed("take-in", engine.take_in)  # type: ignore[method-assign]
    engine.plan = stages.timed("plan", engine.plan)  # type: ignore[method-assign]
    engine.send = stages.timed("send", engine.send)  # type: ignore[method-assign]
    backfills = Backfills(factory, clock)
    job = backfills.start(merchant.tenant.id, "simulator", FIRST, last, window_days=1)
    marks = {days * q // 4 for q in (1, 2, 3, 4)}
    started, cpu = time.perf_counter(), time.process_time()

    def after(progress: BackfillProgress) -> None:
        # Each window all the way into the books (in per-order mode a window is hundreds
        # of postings, more than one tick sends), as the figure claims.
        stages.timed("engine", engine.run_until_idle)(merchant.tenant.id, max_ticks=1_000_000)
        if progress.days_done in marks:
            elapsed, busy = time.perf_counter() - started, time.process_time() - cpu
            print(
                f"  {mode.value:>13}: {progress.records:>9,} orders in {elapsed:8.1f} s "
                f"= {progress.records / elapsed:8,.0f}/s ({progress.records / busy:8,.0f} per "
                f"CPU second), peak RSS {peak_rss_mib():6.0f} MiB",
                flush=True,
            )

    done = stages.timed("backfill", backfills.run)(job, Timed(history, stages), after_window=after)
    engine.run_until_idle(merchant.tenant.id, max_ticks=1_000_000)
    elapsed, busy = time.perf_counter() - started, time.process_time() - cpu
    with factory() as session:
        entries = Journal(session, merchant.tenant.id).count()
        unsent = session.scalar(
            select(func.count())
            .select_from(PostingRow)
            .where(PostingRow.state != PostingState.POSTED.value)
        )
    if unsent:
        raise SystemExit(f"{unsent} postings are not in the books: the figures would lie")
    print(
        f"{mode.value}: {done.records:,} orders over {days} days into {entries:,} entries, "
        f"{done.records / elapsed:,.0f} orders/s ({done.records / busy:,.0f} per CPU second), "
        f"peak RSS {peak_rss_mib():.0f} MiB",
        flush=True,
    )
    print(stages.report(done.records, busy), flush=True)
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
    settle_heap()  # as the salesync command and each worker process do at start
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
