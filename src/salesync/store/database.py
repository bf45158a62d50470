"""Engines, sessions and schema upgrades for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from salesync.store.schema import upgrade


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the dashboard read while a sync writes; foreign keys are off by default in
    # SQLite and tenant integrity depends on them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_savepoint(connection: Any, _name: str) -> None:
    # pysqlite begins a transaction lazily, at the first write, and not for SAVEPOINT; a
    # savepoint opened first would stand alone and its release would commit on the spot,
    # outside the transaction the engine relies on for atomicity. Begin it explicitly
    # (https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl).
    # IMMEDIATE takes the write lock now, waiting up to busy_timeout for another writer:
    # a deferred transaction that read first and wrote after another connection committed
    # would fail at once with "database is locked" (a stale WAL snapshot cannot be
    # upgraded to a writer, and busy_timeout does not apply). Transactions that open with
    # a savepoint are writers; plain reads stay outside any transaction and never block.
    dbapi = connection.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        dbapi.execute("BEGIN IMMEDIATE")


@dataclass(frozen=True, slots=True)
class Pool:
    """How many PostgreSQL connections one process keeps and may open.

    A Celery worker's threads and its dispatcher share one pool, so ``size`` should cover
    ``--concurrency`` plus one; the server's ``max_connections`` must cover every
    process's ``size + max_overflow``."""

    size: int = 5
    max_overflow: int = 10
    pre_ping: bool = True
    """Test each connection as it is taken: one the server dropped (a restart, an idle
    timeout) is replaced instead of failing the work that took it."""


def make_engine(url: str, pool: Pool | None = None) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and foreign keys, and their folder;
    PostgreSQL gets a connection pool sized by ``pool``.

    Statement parameters are kept out of error messages: they carry raw payloads and
    customers' details, and errors end up in logs and incidents."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_savepoint)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    pool = pool or Pool()
    return create_engine(
        url,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_pre_ping=pool.pre_ping,
        hide_parameters=True,
    )


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (all migrations by default), safely beside
    processes that are running or starting (see ``salesync.store.schema``)."""
    upgrade(engine, revision)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together at the end, or not at all."""
    with factory() as session, session.begin():
        yield session


def insert_new(session: Session, model: Any) -> Any:
    """An ``INSERT`` of ``model`` rows in the session's dialect, to be finished with
    ``.on_conflict_do_nothing(...)``: a row another writer inserted first is left as it
    is instead of failing the transaction (SQLite and PostgreSQL both say it so)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
