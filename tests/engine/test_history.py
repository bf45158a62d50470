"""Backfill jobs run by workers from their row alone: a window per call, the same records
as a run in one process; a job whose source cannot be opened again fails with why, and a
failed job can be set running again."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.simulate import SOURCE as SIMULATOR
from salesync.domain.simulate import demo_merchant
from salesync.engine.backfill import Backfills, BackfillState, SimulatedHistory
from salesync.engine.history import SIMULATED_SEED, reopen, run_window
from salesync.engine.sweep import Sweeper
from salesync.store.repositories import Tenants
from salesync.store.vault import Vault, new_key

FIRST, LAST = date(2026, 2, 1), date(2026, 2, 4)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, tzinfo=UTC))


@pytest.fixture
def sweeper(factory: sessionmaker[Session], clock: ManualClock) -> Sweeper:
    with factory() as session, session.begin():
        for tenant in ("shop", "twin"):
            Tenants(session).add(demo_merchant(tenant).tenant)
    return Sweeper(factory, clock, Vault([new_key()]))


def test_a_job_run_a_window_per_call_from_its_row_imports_what_one_run_does(
    factory: sessionmaker[Session], clock: ManualClock, sweeper: Sweeper
) -> None:
    """Each call fetches one window of the simulator's history, opened again from the
    job's row; the job ends with the records of the same backfill run in one go."""
    backfills = Backfills(factory, clock)
    job = backfills.start("shop", SIMULATOR, FIRST, LAST)
    seen = []
    while (progress := run_window(backfills, sweeper, job)) is not None:
        seen.append(progress.days_done)
        if progress.state is BackfillState.DONE:
            break
    assert seen == [1, 2, 3, 4]
    assert run_window(backfills, sweeper, job) is None  # done: a task sent twice does nothing
    twin = backfills.start("twin", SIMULATOR, FIRST, LAST)
    history = SimulatedHistory(demo_merchant("twin"), FIRST, LAST, seed=SIMULATED_SEED)
    assert backfills.run(twin, history).records == backfills.progress(job).records > 0


def test_a_job_no_worker_can_open_fails_with_why_and_can_run_again(
    factory: sessionmaker[Session], clock: ManualClock, sweeper: Sweeper
) -> None:
    """A job of a provider with no connection recorded fails at its first window with a
    reason; reopening sets it running from its checkpoint; a running job is not reopened."""
    backfills = Backfills(factory, clock)
    job = backfills.start("shop", "shopify", FIRST, LAST)
    assert not reopen(factory, clock, job)
    failed = run_window(backfills, sweeper, job)
    assert failed is not None
    assert failed.state is BackfillState.FAILED
    assert run_window(backfills, sweeper, job) is None
    assert reopen(factory, clock, job)
    assert backfills.progress(job).state is BackfillState.RUNNING
    assert backfills.progress(job).next_day == FIRST
