"""Support-desk fixtures: a migrated database with two merchants whose locations are
active from 1 November 2026, the two built-in catalogs, and a movable clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Location, Tenant
from salesync.store.repositories import Locations, Tenants
from salesync.support.catalog import load_catalog
from salesync.support.plans import Catalog

TENANT = "acme"
OTHER = "globex"
START = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
"""Midnight of 1 November in New York, the built-in catalogs' support time zone."""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def tiered() -> Catalog:
    return load_catalog("tiered")


@pytest.fixture
def proactive() -> Catalog:
    return load_catalog("proactive")


@pytest.fixture
def db(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The session factory, with tenant ``acme`` (locations ``soho`` and ``brooklyn``,
    active from the start) and tenant ``globex`` (location ``loop``)."""
    with factory() as session, session.begin():
        for tenant, name, locations in (
            (TENANT, "Acme Goods", ("soho", "brooklyn")),
            (OTHER, "Globex", ("loop",)),
        ):
            Tenants(session).add(Tenant(id=tenant, name=name))
            for location in locations:
                Locations(session, tenant).add(
                    Location(
                        id=location,
                        tenant_id=tenant,
                        name=location.title(),
                        timezone="America/New_York",
                        currency="USD",
                    ),
                    at=START,
                )
    return factory
