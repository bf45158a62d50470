"""Fan-out: the sync windows of 10,000 locations open at the same instant.

A PostgreSQL and a Redis server are started on free ports; tenants with four locations
each (New York and London stores, so two time zones) get a day of simulated trading,
taken in beforehand, their sales waiting for their sync window. Two ``salesync worker
--celery`` processes are started; then every waiting document's window is set to open
``--lead`` seconds later, all at once, and the workers dispatch and post everything to
the built-in ledger. Prints:

- dispatch: when the last tenant's tick was sent to its queue, and when the last one was
  picked up by a worker (seconds after the windows opened);
- completion spread: when the first, the median and the last tenant had every posting in
  its books;
- the slowest tenant, and whether any tenant was starved (not done when the run ended).

Target (issue 9): every tenant dispatched within 60 s on two workers, none starved.

    python benchmarks/fanout.py [--locations 10000] [--orders-per-day 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Location, Tenant
from salesync.domain.simulate import DemoMerchant, demo_merchant, simulate
from salesync.engine.inbox import Inbox
from salesync.engine.runner import Engine
from salesync.sandbox.servers import PostgresServer, RedisServer, WorkerProcesses
from salesync.scale.dispatch import LEADER
from salesync.store import codec
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import PostingRow, QueuedDocumentRow, RunRow
from salesync.store.vault import new_key

LOCATIONS_PER_TENANT = 4


def merchant(number: int, orders_per_day: int) -> DemoMerchant:
    """A tenant with two New York and two London stores."""
    tenant_id = f"t{number:05d}"
    nyc, london = demo_merchant(tenant_id, orders_per_day).stores
    stores = []
    for n in range(LOCATIONS_PER_TENANT):
        profile = (nyc, london)[n % 2]
        here = profile.location
        # The simulator numbers a store's documents by the first three letters of its id.
        store_id = f"s{n}-{here.id}"
        location = Location(store_id, tenant_id, f"Store {n}", here.timezone, here.currency)
        stores.append(replace(profile, location=location, orders_per_day=orders_per_day))
    return DemoMerchant(Tenant(tenant_id, f"Merchant {number}"), tuple(stores))


def trade(factory: sessionmaker[Session], tenants: int, orders_per_day: int) -> int:
    """Every tenant with yesterday's trading received and taken in; how many documents."""
    clock = ManualClock(datetime.now(UTC))
    engine = Engine(factory, clock)
    day = clock().date() - timedelta(days=1)
    documents = 0
    started = time.monotonic()
    for number in range(tenants):
        shop = merchant(number, orders_per_day)
        with factory() as session, session.begin():
            Tenants(session).add(shop.tenant)
            for location in shop.locations:
                Locations(session, shop.tenant.id).add(location)
            inbox = Inbox(session, shop.tenant.id, clock)
            for document in simulate(shop, day, 1, seed=number):
                inbox.receive("simulator", document.kind.value, json.dumps(codec.encode(document)))
                documents += 1
        engine.take_in(shop.tenant.id)
        if (number + 1) % 250 == 0:
            print(
                f"  set up {number + 1:,} of {tenants:,} tenants "
                f"({time.monotonic() - started:.0f} s)",
                flush=True,
            )
    return documents


def seconds(at: datetime | None, since: datetime) -> float | None:
    return None if at is None else (at - since).total_seconds()


def watch(
    factory: sessionmaker[Session], client: redis.Redis, opened: datetime, timeout: float
) -> tuple[dict[str, datetime], bool]:
    """Until every posting is in the books (or ``timeout``): when each tenant's tick was
    first seen waiting in its queue (its marker in Redis). Whether everything settled."""
    sent: dict[str, datetime] = {}
    deadline = time.monotonic() + timeout
    last_check = 0.0
    while time.monotonic() < deadline:
        now = datetime.now(UTC)
        for key in client.scan_iter(match="salesync:queued:scheduled:tick:*", count=1000):
            sent.setdefault(key.decode().rsplit(":", 1)[1], now)
        if time.monotonic() - last_check > 2 and now > opened:
            last_check = time.monotonic()
            with factory() as session:
                waiting = session.scalar(
                    select(func.count()).where(QueuedDocumentRow.planned.is_(False))
                )
                open_postings = session.scalar(
                    select(func.count()).where(PostingRow.state != "posted")
                )
            print(
                f"  {(now - opened).total_seconds():6.0f} s: {waiting:,} documents to plan, "
                f"{open_postings:,} postings to send",
                flush=True,
            )
            if waiting == 0 and open_postings == 0:
                return sent, True
        time.sleep(0.2)
    return sent, False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--locations", type=int, default=10_000)
    parser.add_argument("--orders-per-day", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="tasks at once per worker")
    parser.add_argument("--lead", type=float, default=10, help="seconds before the windows open")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait at most")
    parser.add_argument("--home", type=Path, help="keep the workers' logs here")
    args = parser.parse_args()
    # Stopped by a signal, the servers and workers it started are stopped too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    tenants = max(1, args.locations // LOCATIONS_PER_TENANT)
    with tempfile.TemporaryDirectory(prefix="salesync-fanout-") as temporary:
        home = args.home or Path(temporary)
        home.mkdir(parents=True, exist_ok=True)
        postgres, broker = PostgresServer().create(), RedisServer().start()
        workers = WorkerProcesses(
            {
                **os.environ,
                "SALESYNC_DATABASE_URL": postgres.url,
                "SALESYNC_BROKER_URL": broker.url,
                "SALESYNC_DATA_DIR": str(home),
                "SALESYNC_SECRET_KEYS": new_key(),
                "SALESYNC_CONFIG": str(home / "none.toml"),
                "SALESYNC_LOG_LEVEL": "WARNING",
            },
            home,
        )
        engine = make_engine(postgres.url)
        client = redis.Redis.from_url(broker.url)
        try:
            migrate(engine)
            factory = session_factory(engine)
            print(
                f"fan-out: {tenants:,} tenants x {LOCATIONS_PER_TENANT} locations = "
                f"{tenants * LOCATIONS_PER_TENANT:,} locations, {args.workers} workers x "
                f"{args.concurrency} tasks at once",
                flush=True,
            )
            documents = trade(factory, tenants, args.orders_per_day)
            print(f"  {documents:,} documents wait for their window", flush=True)
            for _ in range(args.workers):
                workers.start("--celery", "--concurrency", str(args.concurrency))
            deadline = time.monotonic() + 60
            while not client.exists(LEADER):
                if time.monotonic() > deadline:
                    raise SystemExit(f"no worker started dispatching; logs in {home}")
                time.sleep(0.2)
            opened = datetime.now(UTC) + timedelta(seconds=args.lead)
            with factory() as session, session.begin():
                session.execute(
                    update(QueuedDocumentRow)
                    .where(QueuedDocumentRow.planned.is_(False))
                    .values(due_at=opened)
                )
            sent, settled = watch(factory, client, opened, args.timeout)
            report(factory, tenants, opened, sent, settled)
        finally:
            workers.stop()
            client.close()
            engine.dispose()
            broker.destroy()
            postgres.destroy()


def report(
    factory: sessionmaker[Session],
    tenants: int,
    opened: datetime,
    sent: dict[str, datetime],
    settled: bool,
) -> None:
    """Print dispatch time, completion spread, the slowest tenant and any starved one."""
    with factory() as session:
        picked = dict(
            session.execute(
                select(RunRow.tenant_id, func.min(RunRow.started_at))
                .where(RunRow.step == "plan", RunRow.started_at >= opened)
                .group_by(RunRow.tenant_id)
            ).all()
        )
        done = dict(
            session.execute(
                select(PostingRow.tenant_id, func.max(PostingRow.posted_at)).group_by(
                    PostingRow.tenant_id
                )
            ).all()
        )
        unsettled = set(
            session.scalars(
                select(PostingRow.tenant_id).where(PostingRow.state != "posted").distinct()
            )
        ) | set(
            session.scalars(
                select(QueuedDocumentRow.tenant_id)
                .where(QueuedDocumentRow.planned.is_(False))
                .distinct()
            )
        )
    # A tick started before its marker was seen waiting was sent no later than it started.
    dispatched = {t: min(sent.get(t, at), at) for t, at in picked.items()}
    finished = {t: at for t, at in done.items() if t not in unsettled}
    print(f"\nwindows opened at {opened:%H:%M:%S} UTC for {tenants:,} tenants")
    if dispatched:
        last_sent = max(dispatched.values())
        print(
            f"dispatch: {len(dispatched):,} tenants sent to the scheduled queue, the last "
            f"{seconds(last_sent, opened):.1f} s after the windows opened"
        )
        last_picked = seconds(max(picked.values()), opened)
        print(
            f"picked up: the last tenant's tick started {last_picked:.1f} s after the windows "
            f"opened (median {_median(picked, opened):.1f} s)"
        )
    if finished:
        order = sorted(finished.values())
        print(
            f"completion: first tenant done after {seconds(order[0], opened):.1f} s, median "
            f"{_median(finished, opened):.1f} s, last {seconds(order[-1], opened):.1f} s"
        )
        slowest = max(finished, key=lambda t: finished[t])
        print(
            f"slowest tenant: {slowest}, picked up after "
            f"{seconds(picked.get(slowest), opened) or 0:.1f} s, done after "
            f"{seconds(finished[slowest], opened):.1f} s"
        )
    starved = tenants - len(finished)
    verdict = "none" if starved == 0 and settled else f"{starved:,} not done when the run ended"
    print(f"starved tenants: {verdict}")


def _median(at: dict[str, datetime], since: datetime) -> float:
    return statistics.median((a - since).total_seconds() for a in at.values())


if __name__ == "__main__":
    main()
