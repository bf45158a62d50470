"""CRM pass throughput: days of simulated sales reaching the built-in CRM at their sync
windows, with a "0 days after" and a "3 days after" trigger deciding every sale.

Prints, per simulated day, the sales delivered, the trigger decisions and the seconds
the CRM's passes took that day, so a pass that slows as history grows shows up. Usage:
    python benchmarks/crm.py [--days 30] [--orders-per-day 500]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from salesync.clock import ManualClock
from salesync.crm.feed import CrmFeed
from salesync.crm.triggers import Triggers
from salesync.domain.documents import Document
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import CrmFiringRow, CrmSaleRow

FIRST = date(2026, 3, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--orders-per-day", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    merchant = demo_merchant(orders_per_day=args.orders_per_day)
    tenant = merchant.tenant.id
    with tempfile.TemporaryDirectory() as tmp:
        db = make_engine(args.database_url or f"sqlite:///{Path(tmp) / 'crm.db'}")
        migrate(db)
        factory = session_factory(db)
        clock = ManualClock(datetime.combine(FIRST, datetime.min.time(), UTC))
        with factory() as session, session.begin():
            Tenants(session).add(merchant.tenant)
            for location in merchant.locations:
                Locations(session, tenant).add(location)
            Triggers(session, tenant, clock).add("Thank you", "thank_you", 0)
            Triggers(session, tenant, clock).add("Review", "review_request", 3)
        feed = CrmFeed(factory, clock)
        engine = Engine(factory, clock)
        by_day: dict[date, list[Document]] = {}
        for doc in simulate(merchant, FIRST, args.days, seed=1):
            by_day.setdefault(doc.occurred_at.date(), []).append(doc)
        for day in sorted(by_day):
            for doc in by_day[day]:
                payload = json.dumps(codec.encode(doc))
                engine.receive(tenant, "simulator", doc.kind.value, payload)
            spent = 0.0
            for hour in range(0, 24, 6):
                clock.set(datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hour))
                engine.tick(tenant)
                started = time.perf_counter()
                feed(tenant)
                spent += time.perf_counter() - started
            with factory() as session:
                sales = session.scalar(select(func.count()).select_from(CrmSaleRow))
                decided = session.scalar(select(func.count()).select_from(CrmFiringRow))
            print(f"{day}  sales in CRM {sales:>8}  decisions {decided:>8}  crm {spent:6.2f}s")
        db.dispose()


if __name__ == "__main__":
    main()
