"""Shared fixtures: a real PostgreSQL server started for the session, and a database per
test on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.sandbox.servers import PostgresServer
from salesync.store.database import make_engine, migrate, session_factory

# The command line's console takes its width when it is made, at import: a fixed width
# makes what the CLI tests read the same under a terminal, a pipe or a test worker.
os.environ["COLUMNS"] = "200"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free loopback port; yields its admin URL."""
    server = PostgresServer().create()
    try:
        yield server.url
    finally:
        server.destroy()


def _fresh_postgres_database(admin_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database: a SQLite file, or a database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'salesync.db'}"
    return _fresh_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty database on the test PostgreSQL server."""
    return _fresh_postgres_database(postgres_server)


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on a migrated database."""
    engine = make_engine(database_url)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with no configuration: the CLI uses its embedded defaults there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SALESYNC_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("SALESYNC_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path
