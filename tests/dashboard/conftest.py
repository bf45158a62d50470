"""Dashboard fixtures: a migrated SQLite database with two merchants, users of every
role added with a cheap password hash, and browsers (TestClients) signed in as them.

``signed_in(email)`` gives a client with that user's session cookie; ``csrf(client,
path)`` reads the CSRF token from a page's forms, as a browser would post it back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.passwords import Cost
from salesync.accounts.roles import Role
from salesync.accounts.users import Users
from salesync.api import create_app
from salesync.api.session import SignIn
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.domain.documents import Location, Tenant
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Locations, Tenants
from salesync.store.vault import Vault, new_key

NOW = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
CHEAP = Cost(n=2**10)
PASSWORD = "correct horse battery"  # noqa: S105  a test user's password
USERS = {
    "owner@harbor.example": (Role.OWNER, "demo"),
    "books@harbor.example": (Role.BOOKKEEPER, "demo"),
    "owner@other.example": (Role.OWNER, "other"),
    "tier1@salesync.example": (Role.TIER1, None),
    "dev@salesync.example": (Role.DEVELOPER, None),
    "admin@salesync.example": (Role.ADMIN, None),
}
"""Every role: two merchant users of ``demo``, the owner of ``other``, and the staff."""
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite database with the merchants ``demo`` (two locations in two time
    zones) and ``other``, and the users of ``USERS``."""
    url = f"sqlite:///{tmp_path / 'dashboard.db'}"
    engine = make_engine(url)
    migrate(engine)
    factory = session_factory(engine)
    with factory() as session, session.begin():
        tenants = Tenants(session)
        tenants.add(Tenant("demo", "Harbor & Pine Goods"))
        tenants.add(Tenant("other", "Other Shop"))
        Locations(session, "demo").add(
            Location("brooklyn", "demo", "Brooklyn", "America/New_York", "USD")
        )
        Locations(session, "demo").add(
            Location("bayarea", "demo", "Bay Area", "America/Los_Angeles", "USD")
        )
        Locations(session, "other").add(
            Location("main", "other", "Main Street", "Europe/London", "GBP")
        )
        users = Users(session, ManualClock(NOW), CHEAP)
        for email, (role, tenant) in USERS.items():
            users.add(email, PASSWORD, role, tenant)
    yield factory
    engine.dispose()


@pytest.fixture
def app(db: sessionmaker[Session], clock: ManualClock) -> FastAPI:
    return create_app(
        db,
        clock,
        Vault([new_key()]),
        registry=SourceRegistry(points=[]),
        sign_in=SignIn(db, clock, cost=CHEAP),
    )


@pytest.fixture
def signed_in(app: FastAPI) -> Iterator[Callable[[str], TestClient]]:
    """``signed_in(email)``: a browser signed in as that user of ``USERS``."""
    opened: list[TestClient] = []

    def open_as(email: str) -> TestClient:
        client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
        client.__enter__()
        opened.append(client)
        nonce = csrf_of(client.get("/login").text)
        sent = client.post(
            "/login", data={"email": email, "password": PASSWORD, "csrf_token": nonce}
        )
        assert sent.status_code == 303, sent.text
        return client

    yield open_as
    for client in opened:
        client.__exit__(None, None, None)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, html
    return found.group(1)


@pytest.fixture
def csrf() -> Callable[[TestClient, str], str]:
    """``csrf(client, path)``: the CSRF token of the forms on the page at ``path``."""

    def read(client: TestClient, path: str) -> str:
        page = client.get(path)
        assert page.status_code == 200, page.text
        return csrf_of(page.text)

    return read
