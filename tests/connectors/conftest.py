"""Fixtures the focused Xero test files share: a module's SQLite database and harnesses
on a fresh clock (the destination contract runs on SQLite and PostgreSQL itself)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from destination_contract import START
from sqlalchemy.orm import Session, sessionmaker
from xero_harness import XeroHarness

from salesync.clock import ManualClock
from salesync.store.database import make_engine, migrate, session_factory


@pytest.fixture(scope="module")
def xero_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """One migrated SQLite database for a module's Xero tests (each uses its own
    connection and organisation)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('xero') / 'salesync.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def start(xero_db: sessionmaker[Session]) -> Iterator[Callable[..., XeroHarness]]:
    """Starts Xero harnesses on a fresh clock and closes them after the test."""
    started: list[XeroHarness] = []

    def make(**settings: Any) -> XeroHarness:
        harness = XeroHarness.start(xero_db, ManualClock(START), **settings)
        started.append(harness)
        return harness

    yield make
    for harness in started:
        harness.close()


@pytest.fixture
def xero(start: Callable[..., XeroHarness]) -> XeroHarness:
    return start()
