"""Lookups stay lookups, and pages stay pages, as the books grow.

Every statement a backfill, its planning and posting, and the dashboard's views run is
explained by SQLite while it runs. None may read a tenant's whole history of documents,
queue, links, inbox, postings, journal or runs, except a page read in the order asked for
and stopped by its LIMIT. (SQLite without statistics takes ``tenant_id = ?`` for a handful
of rows: given ``tenant_id = ? AND id IN (...)`` it walked every row of the tenant instead
of looking the keys up, and a backfill slowed as it went; given a day's documents and an
order by time, it walked the tenant's time index; the sales log took a second a page at
150,000 orders, and each send pass read all of a tenant's postings.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import event
from sqlalchemy.orm import Session

from salesync.clock import ManualClock
from salesync.domain.simulate import demo_merchant
from salesync.engine.backfill import Backfills, SimulatedHistory
from salesync.engine.runner import Engine
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Locations, Tenants
from salesync.views.documents import documents
from salesync.views.errors import error_log
from salesync.views.freshness import freshness
from salesync.views.health import connection_health
from salesync.views.held import held_documents, quarantined_records
from salesync.views.reconciliation import day_detail, reconciliation
from salesync.views.sales import sales_log
from salesync.views.sales_report import sales_report
from salesync.views.timeline import timeline

HISTORY = (
    "documents",
    "queued_documents",
    "posting_documents",
    "inbox_records",
    "postings",
    "journal_entries",
    "journal_lines",
    "runs",
)
"""Tables that grow with every order."""
TENANT_ONLY = re.compile(r"(?:SEARCH|SCAN) (\w+) USING (?:COVERING )?INDEX \w+ \(tenant_id=\?\)$")
MERCHANT = demo_merchant(orders_per_day=20)
TENANT = MERCHANT.tenant.id
FIRST, LAST = date(2026, 2, 1), date(2026, 2, 4)
NOW = datetime(2026, 3, 1, tzinfo=UTC)

Seen = list[tuple[str, str]]


@contextmanager
def _explained(db: SqlEngine) -> Iterator[Seen]:
    """Each statement run meanwhile, with each line of SQLite's plan for it."""
    seen: Seen = []

    @event.listens_for(db, "before_cursor_execute")
    def explain(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if many or not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            return
        plan = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        seen.extend((statement, str(row[3])) for row in plan.fetchall())

    yield seen
    event.remove(db, "before_cursor_execute", explain)


def _walked(detail: str) -> str | None:
    """The table a plan line reads whole, or all of one tenant's rows of."""
    whole = re.match(r"SCAN (\w+)", detail)
    tenant = TENANT_ONLY.search(detail)
    return whole[1] if whole else tenant[1] if tenant else None


def _a_page(statement: str, seen: Seen) -> bool:
    """An index read in the order asked for and stopped by a LIMIT reads a page."""
    plan = [detail for s, detail in seen if s == statement]
    return "LIMIT" in statement and not any("FOR ORDER BY" in d for d in plan)


def _walks(seen: Seen) -> str:
    found = sorted(
        {
            (table, " ".join(statement.split())[:400])
            for statement, detail in seen
            if (table := _walked(detail)) in HISTORY and not _a_page(statement, seen)
        }
    )
    return "\n".join(f"{table}: {statement}" for table, statement in found)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqlEngine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'plans.db'}")
    migrate(engine)
    factory = session_factory(engine)
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        for location in MERCHANT.locations:
            Locations(session, TENANT).add(location)
    yield engine
    engine.dispose()


def _backfill(db: SqlEngine) -> None:
    factory = session_factory(db)
    clock = ManualClock(NOW)
    backfills = Backfills(factory, clock)
    job = backfills.start(TENANT, "simulator", FIRST, LAST)
    engine = Engine(factory, clock)
    backfills.run(
        job,
        SimulatedHistory(MERCHANT, FIRST, LAST, seed=5),
        after_window=lambda _: engine.tick(TENANT),
    )
    engine.run_until_idle(TENANT)


def test_a_backfill_its_planning_and_posting_never_read_a_whole_history(db: SqlEngine) -> None:
    with _explained(db) as seen:
        _backfill(db)
    assert len({s for s, _ in seen}) > 20
    assert not (walks := _walks(seen)), f"statements reading a whole history:\n{walks}"


def _views(session: Session) -> dict[str, Callable[[], object]]:
    where = MERCHANT.locations[0].id
    return {
        "sales log": lambda: sales_log(session, TENANT, limit=20),
        "sales log, next page": lambda: sales_log(
            session, TENANT, limit=20, before=sales_log(session, TENANT, limit=20).next_cursor
        ),
        "sales log of a location": lambda: sales_log(session, TENANT, location=where, limit=20),
        "freshness": lambda: freshness(session, TENANT),
        "health": lambda: connection_health(session, TENANT, NOW),
        "documents": lambda: documents(session, TENANT),
        "documents of a location": lambda: documents(session, TENANT, location=where),
        "posted documents": lambda: documents(session, TENANT, state="posted"),
        "held": lambda: held_documents(session, TENANT),
        "quarantined": lambda: quarantined_records(session, TENANT),
        "reconciliation": lambda: reconciliation(session, TENANT, FIRST, LAST, None),
        "a day's detail": lambda: day_detail(session, TENANT, where, FIRST, None),
        "sales report": lambda: sales_report(session, TENANT, FIRST, LAST),
        "timeline": lambda: timeline(session, TENANT),
        "errors": lambda: error_log(session, TENANT),
    }


def test_the_dashboard_views_read_pages_and_ranges_not_a_whole_history(db: SqlEngine) -> None:
    _backfill(db)
    with session_factory(db)() as session:
        found = {}
        for name, view in _views(session).items():
            with _explained(db) as seen:
                assert view() is not None
            if walks := _walks(seen):
                found[name] = walks
        page = sales_log(session, TENANT, limit=20)
        health = connection_health(session, TENANT, NOW)
        synced = freshness(session, TENANT)
    assert len(page.entries) == 20
    assert [h.last_posted_at is not None for h in health] == [True]
    assert all(f.synced_through is not None for f in synced.locations)
    assert not found, "views reading a whole history:\n" + "\n".join(
        f"{name}:\n{walks}" for name, walks in found.items()
    )
