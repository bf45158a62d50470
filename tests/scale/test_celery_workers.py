"""Two Celery worker processes on a real Redis and PostgreSQL share a merchant's work:
every sale reaches the books exactly once, also when a worker is killed mid-run and
another takes its place."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import system_clock
from salesync.domain.simulate import SOURCE as SIMULATOR
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.backfill import Backfills, BackfillState
from salesync.engine.inbox import Inbox
from salesync.sandbox.servers import WorkerProcesses
from salesync.store import codec
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Journal, Locations, Tenants
from salesync.store.tables import PostingDocumentRow, PostingRow, QueuedDocumentRow, SyncPolicyRow
from salesync.store.vault import new_key

pytestmark = pytest.mark.postgres

MERCHANT = demo_merchant("harbor", orders_per_day=8)
TENANT = MERCHANT.tenant.id


@pytest.fixture
def db(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    """The merchant on a fresh PostgreSQL database, its sales synced in real time."""
    engine = make_engine(postgres_url)
    migrate(engine)
    factory = session_factory(engine)
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        for location in MERCHANT.locations:
            Locations(session, TENANT).add(location)
        for kind in ("sale", "refund", "payout"):
            session.add(
                SyncPolicyRow(tenant_id=TENANT, source="*", kind=kind, mode="realtime", windows=[])
            )
    yield factory
    engine.dispose()


def receive(factory: sessionmaker[Session], first_day: int, days: int) -> int:
    """Days of the merchant's trading, ending before today, into the inbox; how many."""
    start = (datetime.now(UTC) - timedelta(days=first_day)).date()
    documents = list(simulate(MERCHANT, start, days, seed=first_day))
    with factory() as session, session.begin():
        inbox = Inbox(session, TENANT, system_clock)
        for document in documents:
            inbox.receive(
                "simulator",
                document.kind.value,
                json.dumps(codec.encode(document)),
                event_id=f"sim:{document.id}",
            )
    return len(documents)


class Workers(WorkerProcesses):
    """``salesync worker --celery`` processes on the test's database and Redis."""

    def __init__(self, database_url: str, redis_url: str, home: Path) -> None:
        env = {
            **os.environ,
            "SALESYNC_DATABASE_URL": database_url,
            "SALESYNC_BROKER_URL": redis_url,
            "SALESYNC_DATA_DIR": str(home),
            "SALESYNC_SECRET_KEYS": new_key(),
            "SALESYNC_CONFIG": str(home / "none.toml"),
            # A killed worker's postings are taken over after 3 s instead of 5 minutes.
            "SALESYNC_SEND_LEASE_SECONDS": "3",
        }
        super().__init__(env, home)

    def celery(self, queues: str = "realtime,scheduled,backfill") -> subprocess.Popen[bytes]:
        return self.start("--celery", "--interval", "0.2", "--queues", queues)


@pytest.fixture
def workers(
    postgres_url: str, redis_url: str, redis_client: object, tmp_path: Path
) -> Iterator[Workers]:
    found = Workers(postgres_url, redis_url, tmp_path)
    yield found
    found.stop()


def posted(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return (
            session.scalar(
                select(func.count()).select_from(PostingRow).where(PostingRow.state == "posted")
            )
            or 0
        )


def settled(factory: sessionmaker[Session], documents: int, timeout: float = 90) -> None:
    """Wait until every document is planned and every posting is in the books."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with factory() as session:
            planned = session.scalar(
                select(func.count()).select_from(QueuedDocumentRow).where(QueuedDocumentRow.planned)
            )
            open_postings = session.scalar(
                select(func.count()).select_from(PostingRow).where(PostingRow.state != "posted")
            )
        if planned == documents and open_postings == 0:
            return
        time.sleep(0.2)
    with factory() as session:
        stuck = session.execute(
            select(PostingRow.state, PostingRow.attempts, PostingRow.last_error).where(
                PostingRow.state != "posted"
            )
        ).all()
    raise AssertionError(
        f"not settled in {timeout} s: {planned} of {documents} planned, {open_postings} "
        f"open: {stuck[:3]}"
    )


def exactly_once(factory: sessionmaker[Session], documents: int) -> None:
    """Every document is in exactly one posting, and the books hold one entry per
    posting: nothing lost, nothing doubled."""
    with factory() as session:
        linked = session.execute(
            select(PostingDocumentRow.document_id, func.count()).group_by(
                PostingDocumentRow.document_id
            )
        ).all()
        postings = session.scalar(select(func.count()).select_from(PostingRow))
        entries = Journal(session, TENANT).count()
    assert len(linked) == documents
    assert {count for _, count in linked} == {1}
    assert entries == postings


def test_two_workers_post_every_sale_once(db: sessionmaker[Session], workers: Workers) -> None:
    documents = receive(db, first_day=3, days=2)
    workers.celery()
    workers.celery()
    settled(db, documents)
    exactly_once(db, documents)


def test_a_worker_killed_mid_run_loses_and_doubles_nothing(
    db: sessionmaker[Session], workers: Workers
) -> None:
    """One worker is killed with SIGKILL while the two are posting; a new one starts; more
    sales arrive. Every sale is in the books once."""
    documents = receive(db, first_day=6, days=3)
    victim = workers.celery()
    workers.celery()
    deadline = time.monotonic() + 60
    while posted(db) < 5:
        assert time.monotonic() < deadline, "the workers never started posting"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    workers.celery()
    documents += receive(db, first_day=2, days=1)
    settled(db, documents)
    exactly_once(db, documents)


def test_a_backfill_runs_on_its_own_queue_after_live_work(
    db: sessionmaker[Session], workers: Workers, redis_client: redis.Redis
) -> None:
    """A worker taking only realtime and scheduled work takes live sales in and posts them
    while a backfill waits untouched on its own queue; a backfill worker then fetches it
    a window at a time, and its records are posted too: every sale once."""
    backfills = Backfills(db, system_clock)
    first = (datetime.now(UTC) - timedelta(days=12)).date()
    job = backfills.start(TENANT, SIMULATOR, first, first + timedelta(days=2))
    workers.celery("realtime,scheduled")
    documents = receive(db, first_day=3, days=1)
    settled(db, documents)
    assert backfills.progress(job).next_day == first  # not one window fetched
    assert redis_client.llen("backfill") >= 1  # its window waits on the backfill queue
    workers.celery("backfill")
    deadline = time.monotonic() + 90
    while (progress := backfills.progress(job)).state is not BackfillState.DONE:
        assert progress.state is BackfillState.RUNNING, progress
        assert time.monotonic() < deadline, f"the backfill stopped at {progress.next_day}"
        time.sleep(0.2)
    assert progress.records > 0
    settled(db, documents + progress.records)
    exactly_once(db, documents + progress.records)
