"""Liveness and readiness probes: ready only on a database whose schema this release
runs on."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from salesync.api import create_app
from salesync.clock import ManualClock
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.schema import release
from salesync.store.vault import Vault


def test_a_process_on_a_current_schema_is_live_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["schema_revision"] == release().head


def test_a_schema_this_release_cannot_run_on_is_not_ready(
    factory: sessionmaker[Session], clock: ManualClock, vault: Vault
) -> None:
    app = create_app(factory, clock, vault)
    engine = factory.kw["bind"]
    with TestClient(app) as running:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9001'"))
        assert running.get("/readyz").status_code == 200  # newer, but the floor allows it
        with engine.begin() as connection:
            connection.execute(text("UPDATE schema_floor SET revision = '9000'"))
        refused = running.get("/readyz")
        assert refused.status_code == 503
        assert refused.json()["error"] == "schema_not_ready"
        assert "Upgrade salesync" in refused.json()["message"]
        assert running.get("/healthz").status_code == 200


def test_a_database_that_does_not_answer_is_not_ready(
    tmp_path: Path, clock: ManualClock, vault: Vault
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    app = create_app(session_factory(engine), clock, vault)
    with TestClient(app) as running:
        (tmp_path / "db.sqlite").unlink()
        (tmp_path / "db.sqlite").mkdir()  # the file is gone and cannot be made again
        engine.dispose()
        refused = running.get("/readyz")
    assert refused.status_code == 503
    assert refused.json()["error"] == "database_unavailable"
