"""Lookups by key stay lookups, and pages stay pages, as the books grow.

Every statement a backfill, its planning and posting, and the dashboard's sales log run is
explained by SQLite while it runs; none may walk a tenant's whole history of documents,
queue, links or inbox when it was asked for particular rows, and the sales log's pages and
its "synced through" line read from the newest end instead of over the whole history.
(SQLite, without statistics, prefers an index starting with ``tenant_id`` over the primary
key for ``tenant_id = ? AND id IN (...)``: each such lookup grew with the tenant's history,
and a backfill slowed as it went; the sales log took a second a page at 150,000 orders.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import event

from salesync.clock import ManualClock
from salesync.domain.simulate import demo_merchant
from salesync.engine.backfill import Backfills, SimulatedHistory
from salesync.engine.runner import Engine
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Locations, Tenants
from salesync.views.freshness import freshness
from salesync.views.health import connection_health
from salesync.views.sales import sales_log

KEYED = re.compile(r"\.(id|document_id|parent_id|parent_ref) IN \(")
"""A statement asking for particular rows (listings and totals over a tenant's history are
another matter)."""
HISTORY = ("documents", "queued_documents", "posting_documents", "inbox_records")
TENANT_ONLY = re.compile(
    r"(SEARCH|SCAN) (?P<table>\w+) USING (?:COVERING )?INDEX \w+ \(tenant_id=\?\)$"
)


@contextmanager
def _explained(db: SqlEngine) -> Iterator[list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []

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


MERCHANT = demo_merchant(orders_per_day=20)
FIRST, LAST = date(2026, 2, 1), date(2026, 2, 4)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqlEngine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'plans.db'}")
    migrate(engine)
    factory = session_factory(engine)
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        for location in MERCHANT.locations:
            Locations(session, MERCHANT.tenant.id).add(location)
    yield engine
    engine.dispose()


def _backfill(db: SqlEngine) -> None:
    factory = session_factory(db)
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    backfills = Backfills(factory, clock)
    job = backfills.start(MERCHANT.tenant.id, "simulator", FIRST, LAST)
    engine = Engine(factory, clock)
    backfills.run(
        job,
        SimulatedHistory(MERCHANT, FIRST, LAST, seed=5),
        after_window=lambda _: engine.tick(MERCHANT.tenant.id),
    )
    engine.run_until_idle(MERCHANT.tenant.id)


def test_backfill_planning_and_the_sales_log_look_rows_up_by_key(db: SqlEngine) -> None:
    with _explained(db) as seen:
        _backfill(db)
        with session_factory(db)() as session:
            page = sales_log(session, MERCHANT.tenant.id, limit=50)
    assert len(page.entries) == 50
    walks = sorted(
        {
            (m["table"], " ".join(statement.split())[:400])
            for statement, detail in seen
            if KEYED.search(statement)
            and (m := TENANT_ONLY.search(detail))
            and m["table"] in HISTORY
        }
    )
    assert not walks, "statements walking a tenant's whole history:\n" + "\n".join(
        f"{table}: {statement}" for table, statement in walks
    )


def test_the_sales_log_and_connection_health_read_from_the_newest_end(db: SqlEngine) -> None:
    _backfill(db)
    tenant = MERCHANT.tenant.id
    with _explained(db) as seen, session_factory(db)() as session:
        first = sales_log(session, tenant, limit=20)
        second = sales_log(session, tenant, limit=20, before=first.next_cursor)
        one = sales_log(session, tenant, location=MERCHANT.locations[0].id, limit=20)
        synced = freshness(session, tenant)
        health = connection_health(session, tenant, datetime(2026, 3, 1, tzinfo=UTC))
    assert len(first.entries) == len(second.entries) == len(one.entries) == 20
    assert second.entries[0].occurred_at <= first.entries[-1].occurred_at
    assert all(f.synced_through is not None for f in synced.locations)
    assert [h.last_posted_at is not None for h in health] == [True]
    walks = sorted(
        {
            (table, " ".join(statement.split())[:400])
            for statement, detail in seen
            if (table := _walked(detail)) in (*HISTORY, "postings")
            and not _from_the_newest_end(statement, seen)
        }
    )
    assert not walks, (
        "sales log and health statements walking a tenant's whole history:\n"
        + "\n".join(f"{table}: {statement}" for table, statement in walks)
    )


def _walked(detail: str) -> str | None:
    """The table a plan line reads whole, or all of one tenant's rows of."""
    whole = re.match(r"SCAN (\w+)", detail)
    tenant = TENANT_ONLY.search(detail)
    return whole[1] if whole else tenant["table"] if tenant else None


def _from_the_newest_end(statement: str, seen: list[tuple[str, str]]) -> bool:
    """A tenant-wide index read in the order asked for, stopped by a LIMIT, reads a page."""
    plan = [detail for s, detail in seen if s == statement]
    return "LIMIT" in statement and not any("FOR ORDER BY" in d for d in plan)
