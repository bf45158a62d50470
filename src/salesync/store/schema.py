"""Schema upgrades that running processes survive, so salesync upgrades without downtime.

Every process brings the database up to its release's newest revision when it starts, so
a rolling upgrade is: start one process of the new release (it migrates), then replace
the others one at a time. Three rules make that safe:

- On PostgreSQL an upgrade holds an advisory lock: processes starting together migrate
  one at a time, and the later ones find nothing left to do.
- Migrations add (tables, nullable columns, indexes) and leave in place what older code
  reads, so processes of the previous release keep working on the newer schema. A
  migration that cannot (a drop, a rename, a new NOT NULL) declares ``breaks_older =
  True``; the database then records it as its floor, the oldest revision code must know.
- A process whose release does not know the database's revision (a newer release
  migrated it) runs on it, without migrating, if it knows the floor; otherwise it
  refuses to start (``SchemaTooNewError``) rather than fail halfway through a sync.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, delete, insert, inspect, select, text

from salesync.store.tables import SchemaFloorRow

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_KEY = 0x5A1E5_0001
"""The PostgreSQL advisory lock upgrades hold (any constant no other lock uses)."""

log = structlog.get_logger("salesync.store")


class SchemaTooNewError(RuntimeError):
    """The database was migrated past what this release can run on."""


@dataclass(frozen=True, slots=True)
class Release:
    """What this release's migrations say: every revision, oldest first, and its floor."""

    revisions: tuple[str, ...]
    floor: str

    @property
    def head(self) -> str:
        return self.revisions[-1]


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    current: str | None
    """The database's revision (``None`` for an empty database)."""
    head: str
    """This release's newest revision."""
    floor: str | None
    """The oldest revision code must know to run on the database, as it records it."""
    pending: tuple[str, ...]
    """Revisions this release would apply, oldest first."""
    known: bool
    """Whether this release knows the database's revision."""
    floor_known: bool

    @property
    def ahead(self) -> bool:
        """A newer release migrated the database."""
        return self.current is not None and not self.known

    @property
    def usable(self) -> bool:
        """This release can run on the database as it is."""
        return not self.pending and (not self.ahead or self.floor_known)

    def describe(self) -> str:
        if self.ahead and self.floor_known:
            return (
                f"The database schema is at {self.current}, newer than this release "
                f"({self.head}); its migrations keep older code working, so this process "
                "runs on it. Upgrade this machine when you can."
            )
        if self.ahead:
            return (
                f"The database schema is at {self.current} and needs code that knows "
                f"revision {self.floor}; this release stops at {self.head}. Upgrade "
                "salesync on this machine before starting it."
            )
        if self.pending:
            return (
                f"The database schema is at {self.current or 'nothing yet'}; this release "
                f"brings it to {self.head} ({len(self.pending)} migration(s): "
                f"{', '.join(self.pending)}). Run `salesync init`."
            )
        return f"The database schema is at {self.head}, this release's newest."


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


@cache
def release(migrations: Path = MIGRATIONS) -> Release:
    """The revisions in ``migrations`` and their floor: the newest that declares
    ``breaks_older``, else the first."""
    script = ScriptDirectory(str(migrations))
    newest_first = list(script.walk_revisions())
    floor = next(
        (s.revision for s in newest_first if getattr(s.module, "breaks_older", False)),
        newest_first[-1].revision,
    )
    return Release(tuple(s.revision for s in reversed(newest_first)), floor)


def status(engine: Engine) -> SchemaStatus:
    """Where the database's schema stands against this release."""
    ours = release()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        floor = (
            connection.scalar(select(SchemaFloorRow.revision))
            if inspect(connection).has_table(SchemaFloorRow.__tablename__)
            else None
        )
    known = current is None or current in ours.revisions
    pending = (
        ours.revisions[ours.revisions.index(current) + 1 :]
        if current is not None and known
        else (ours.revisions if current is None else ())
    )
    return SchemaStatus(
        current,
        ours.head,
        floor,
        pending,
        known,
        floor is not None and floor in ours.revisions,
    )


def upgrade(engine: Engine, revision: str = "head") -> SchemaStatus:
    """Bring the schema up to ``revision`` (this release's newest by default), one
    process at a time; on a database a newer release migrated, run on it if its floor
    allows, else raise ``SchemaTooNewError``."""
    with _upgrading(engine):
        found = status(engine)
        if found.ahead:
            if not found.floor_known:
                raise SchemaTooNewError(found.describe())
            log.warning("schema_ahead", current=found.current, release=found.head)
            return found
        if found.pending:
            command.upgrade(alembic_config(engine), revision)
        if revision == "head":
            _record_floor(engine, found.floor)
        return status(engine)


def _record_floor(engine: Engine, recorded: str | None) -> None:
    floor = release().floor
    if recorded == floor:
        return
    with engine.begin() as connection:
        connection.execute(delete(SchemaFloorRow))
        connection.execute(insert(SchemaFloorRow).values(id=1, revision=floor))


@contextmanager
def _upgrading(engine: Engine) -> Iterator[None]:
    """Hold PostgreSQL's advisory lock for the upgrade: a second process starting at the
    same moment waits, then finds the schema current. (SQLite serves one machine; its
    own write lock orders the few processes that share a file.)"""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            connection.commit()
