"""``salesync worker`` runs the engine and the support loop without HTTP, and stops
cleanly on a signal; ``salesync sync now`` posts what waits for a sync window at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import Select, func, select
from typer.testing import CliRunner

from salesync.cli.app import app
from salesync.cli.demo import CAST
from salesync.clock import ManualClock, system_clock
from salesync.config import load_settings
from salesync.domain.documents import Sale
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.inbox import RecordState
from salesync.engine.runner import Engine
from salesync.sandbox.stage import Stage
from salesync.store import codec
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Journal, Locations, Tenants
from salesync.store.tables import InboxRecordRow, QueuedDocumentRow

MERCHANT = demo_merchant(orders_per_day=4)


def _merchant_with_sales(count: int = 3) -> None:
    """The demo merchant in the configured database, with ``count`` simulated sales
    received (not yet taken in)."""
    engine = make_engine(load_settings().database)
    migrate(engine)
    factory = session_factory(engine)
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        for location in MERCHANT.locations:
            Locations(session, "demo").add(location)
    sales = [d for d in simulate(MERCHANT, date(2026, 3, 2), 2, seed=3) if isinstance(d, Sale)]
    receiver = Engine(factory, system_clock)
    for sale in sales[:count]:
        receiver.receive("demo", "simulator", "sale", json.dumps(codec.encode(sale)))
    engine.dispose()


def _count(query: Select[int]) -> int:
    engine = make_engine(load_settings().database)
    with session_factory(engine)() as session:
        found = session.scalar(query)
    engine.dispose()
    return int(found or 0)


def _posted() -> int:
    engine = make_engine(load_settings().database)
    with session_factory(engine)() as session:
        found = Journal(session, "demo").count()
    engine.dispose()
    return found


def test_worker_once_runs_one_pass_and_reports_it(cli_home: object) -> None:
    """``--once`` takes in what was received in one pass, then exits 0 with a summary; the
    sales wait for their sync window, so nothing posts yet."""
    _merchant_with_sales(3)
    result = CliRunner().invoke(app, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "stopped after 1 pass(es)" in result.output
    assert "3 record(s) taken in" in result.output
    normalized = select(func.count()).where(InboxRecordRow.state == RecordState.NORMALIZED.value)
    assert _count(normalized) == 3
    assert _posted() == 0


def test_worker_stops_cleanly_on_sigterm(cli_home: object) -> None:
    """A worker running passes stops between them on SIGTERM with exit code 0, a one-line
    summary and no traceback."""
    _merchant_with_sales(2)
    process = subprocess.Popen(
        [sys.executable, "-m", "salesync", "worker", "--interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "SALESYNC_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert "SIGTERM stops it" in first, first
    received = select(func.count()).where(InboxRecordRow.state == RecordState.RECEIVED.value)
    deadline = time.monotonic() + 30
    while _count(received) and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    output = first + process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    assert "Traceback" not in output
    [summary] = [line for line in output.splitlines() if "stopped after" in line]
    assert "2 record(s) taken in" in summary
    assert _count(received) == 0


def test_sync_now_posts_what_waits_for_a_window(cli_home: object) -> None:
    """``sync now`` takes in the received sales, makes them due although their window has
    not come, posts them all and says so; pressed again it posts nothing twice."""
    _merchant_with_sales(3)
    cli = CliRunner()
    result = cli.invoke(app, ["sync", "now", "--tenant", "demo"])
    assert result.exit_code == 0, result.output
    assert "No connection of this tenant sweeps" in result.output
    assert "Taken in: 3 record(s)" in result.output
    assert "Made due now: 3 document(s)" in result.output
    assert "Posted: 3 posting(s)" in result.output
    assert _posted() == 3
    waiting = select(func.count()).where(QueuedDocumentRow.planned.is_(False))
    assert _count(waiting) == 0
    again = cli.invoke(app, ["sync", "now"])
    assert again.exit_code == 0, again.output
    assert "Made due now: 0 document(s)" in again.output
    assert _posted() == 3


def test_sync_now_for_one_source_leaves_the_others_waiting(cli_home: object) -> None:
    """``Engine.sync_now`` limited to other sources makes nothing due: the simulator's
    sales keep waiting for their window."""
    _merchant_with_sales(2)
    engine = make_engine(load_settings().database)
    report = Engine(session_factory(engine), system_clock).sync_now("demo", sources={"shopify"})
    engine.dispose()
    assert (report.work.normalized, report.released, report.waiting) == (2, 0, 2)
    assert _posted() == 0


def test_sync_now_names_an_unknown_connection(cli_home: object) -> None:
    """A connection the tenant does not have is refused with the ones it has."""
    _merchant_with_sales(1)
    result = CliRunner().invoke(app, ["sync", "now", "--connection", "nope"])
    assert result.exit_code == 2
    assert "No connection 'nope'" in result.output


def test_sync_now_sweeps_the_named_connection_and_posts_what_it_brought(
    cli_home: object,
) -> None:
    """Sales made at a (sandbox) Shopify store whose webhooks were never delivered reach
    the books through ``sync now --connection``: its sweep brings them over HTTP and they
    post at once instead of at the next window."""
    cfg = load_settings()
    engine = make_engine(cfg.database)
    migrate(engine)
    factory = session_factory(engine)
    clock = ManualClock(system_clock() - timedelta(hours=3))
    with Stage.open(CAST, factory, clock, cfg.vault()) as stage:
        stage.set_up()
        stage.run_shop("shopify", timedelta(hours=2).total_seconds())
        stage.connect_shopify()
        name = f"{CAST.tenant.name} Shopify"
        result = CliRunner().invoke(app, ["sync", "now", "--connection", name])
    engine.dispose()
    assert result.exit_code == 0, result.output
    swept = next(line for line in result.output.splitlines() if line.startswith(f"│ {name}"))
    new_records = int(swept.split("│")[3].strip().replace(",", ""))
    assert new_records > 0, result.output
    assert "Made due now: 0 document(s)" not in result.output
    assert _posted() > 0
    waiting = select(func.count()).where(
        QueuedDocumentRow.planned.is_(False), QueuedDocumentRow.held.is_(False)
    )
    assert _count(waiting) == 0


def test_a_celery_worker_needs_a_broker_and_known_queues(
    cli_home: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without broker_url the worker says what to set; with one, an unknown queue is
    refused naming the queues there are. Nothing starts."""
    runner = CliRunner()
    missing = runner.invoke(app, ["worker", "--celery"])
    assert missing.exit_code == 2
    assert "SALESYNC_BROKER_URL" in missing.output
    monkeypatch.setenv("SALESYNC_BROKER_URL", "redis://127.0.0.1:1/0")
    unknown = runner.invoke(app, ["worker", "--celery", "--queues", "realtime,bulk"])
    assert unknown.exit_code == 2
    assert "No queue 'bulk'" in unknown.output
    assert "realtime, scheduled" in unknown.output
