"""Schema upgrades beside running processes: one migrator at a time on PostgreSQL, older
releases running on a newer schema while its floor allows, and a clear refusal when not."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from salesync.store.database import make_engine, migrate
from salesync.store.schema import SchemaTooNewError, release, status


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_an_empty_database_is_brought_to_this_release_and_its_floor_recorded(
    engine: Engine,
) -> None:
    before = status(engine)
    assert before.current is None
    assert before.pending == release().revisions
    assert not before.usable
    migrate(engine)
    after = status(engine)
    assert after.current == release().head
    assert after.pending == ()
    assert after.usable
    assert after.floor == release().floor
    assert "this release's newest" in after.describe()


def test_pending_migrations_are_named(engine: Engine) -> None:
    previous = release().revisions[-2]
    migrate(engine, previous)
    found = status(engine)
    assert found.current == previous
    assert found.pending == (release().head,)
    assert "Run `salesync init`" in found.describe()
    migrate(engine)
    assert status(engine).pending == ()


def _as_if_a_newer_release_migrated(engine: Engine, *, floor: str | None = None) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9001'"))
        if floor is not None:
            connection.execute(text("UPDATE schema_floor SET revision = :f"), {"f": floor})


def test_a_newer_schema_that_keeps_older_code_working_is_run_on_without_migrating(
    engine: Engine,
) -> None:
    migrate(engine)
    _as_if_a_newer_release_migrated(engine)
    found = status(engine)
    assert found.ahead
    assert found.floor_known
    assert found.usable
    migrate(engine)  # a process of this release starting during a rolling upgrade
    assert status(engine).current == "9001"
    assert "runs on it" in found.describe()


def test_a_newer_schema_past_the_floor_this_release_knows_refuses_to_start(
    engine: Engine,
) -> None:
    migrate(engine)
    _as_if_a_newer_release_migrated(engine, floor="9000")
    found = status(engine)
    assert found.ahead
    assert not found.usable
    with pytest.raises(SchemaTooNewError, match="needs code that knows revision 9000"):
        migrate(engine)
    assert status(engine).current == "9001"


def test_the_floor_is_the_newest_migration_that_breaks_older_code(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    chain = [("a1", None, False), ("b2", "a1", True), ("c3", "b2", False)]
    for revision, down, breaks in chain:
        (versions / f"{revision}.py").write_text(
            f"revision = {revision!r}\ndown_revision = {down!r}\n"
            + ("breaks_older = True\n" if breaks else "")
            + "def upgrade():\n    pass\n"
        )
    found = release(tmp_path)
    assert found.revisions == ("a1", "b2", "c3")
    assert found.floor == "b2"


def test_this_release_keeps_every_older_release_working() -> None:
    """No migration of this release breaks older code: the floor is the first revision.
    A migration that must (a drop, a rename) declares ``breaks_older`` and the operating
    guide's two-step upgrade applies; change this test with it."""
    assert release().floor == release().revisions[0]


@pytest.mark.postgres
def test_processes_starting_together_migrate_one_at_a_time(postgres_url: str) -> None:
    """Four processes start at once on an empty database: every one comes up, the
    schema is created once."""
    failures: list[BaseException] = []
    engines = [make_engine(postgres_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))

    def start(engine: Engine) -> None:
        barrier.wait()
        try:
            migrate(engine)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(e,), daemon=True) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "migrators blocked each other"
    assert failures == []
    assert status(engines[0]).current == release().head
    for engine in engines:
        engine.dispose()
