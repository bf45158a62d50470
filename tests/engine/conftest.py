"""Engine fixtures: a migrated database with the demo merchant, a movable clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.simulate import DemoMerchant, demo_merchant
from salesync.store.repositories import Locations, Tenants

MERCHANT = demo_merchant(orders_per_day=10)


@pytest.fixture
def merchant() -> DemoMerchant:
    return MERCHANT


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 10, 29, tzinfo=UTC))


@pytest.fixture
def db(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The session factory, with the demo tenant and its two locations set up."""
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        for loc in MERCHANT.locations:
            Locations(session, MERCHANT.tenant.id).add(loc)
    return factory
