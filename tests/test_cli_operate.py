"""Operating commands: backfill with progress, reconcile, status, policies, mappings."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from demo_tools import demo_folder
from salesync.cli.app import app
from salesync.config import load_settings
from salesync.store.database import make_engine, session_factory
from salesync.store.tables import BackfillRow

DEMO = ["demo", "--no-serve", "--start", "2026-03-06", "--days", "2", "--orders-per-day", "5"]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where the demo has run once for the whole module (about 30 s)."""
    return demo_folder(tmp_path_factory, DEMO)


@pytest.fixture
def cli(cli_home: Path, demo_home: Path) -> CliRunner:
    """A runner in a copy of the folder where the demo ran: each test changes its own."""
    shutil.copytree(demo_home, cli_home, dirs_exist_ok=True)
    return CliRunner()


def test_backfill_imports_history_and_a_second_run_finds_only_duplicates(cli: CliRunner) -> None:
    """A backfill reports its records; the same range again posts nothing new; books reconcile."""
    args = ["backfill", "--from", "2026-01-05", "--to", "2026-01-07"]
    first = cli.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "3 of 3 days" in first.output
    again = cli.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "0 new records" in again.output
    result = cli.invoke(app, ["reconcile", "--from", "2026-01-05", "--to", "2026-01-07"])
    assert result.exit_code == 0, result.output
    assert result.output.count("clean") == 6


def test_backfill_explains_bad_arguments(cli: CliRunner) -> None:
    """Dates the wrong way round and unknown sources are refused with what to do."""
    wrong_way = cli.invoke(app, ["backfill", "--from", "2026-01-07", "--to", "2026-01-05"])
    assert wrong_way.exit_code == 2
    assert "before it starts" in wrong_way.output
    unknown = cli.invoke(
        app, ["backfill", "--from", "2026-01-05", "--to", "2026-01-07", "--source", "nope"]
    )
    assert unknown.exit_code == 2
    assert "No history source 'nope'" in unknown.output


def test_with_a_broker_a_backfill_is_queued_for_the_workers(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With broker_url set, `salesync backfill` records the job for the workers' backfill
    queue and fetches nothing itself; --resume sets a failed job running again; options
    only an in-process run can honour are refused."""
    monkeypatch.setenv("SALESYNC_BROKER_URL", "redis://127.0.0.1:1/0")
    args = ["backfill", "--from", "2026-01-05", "--to", "2026-01-07"]
    queued = cli.invoke(app, args)
    assert queued.exit_code == 0, queued.output
    found = re.search(r"Backfill (\d+) queued", queued.output)
    assert found, queued.output
    job = int(found[1])
    status = cli.invoke(app, ["status"])
    assert f"backfill {job} running: next day 2026-01-05" in status.output
    refused = cli.invoke(app, [*args, "--rate", "5"])
    assert refused.exit_code == 2
    assert "--rate and --seed" in refused.output
    engine = make_engine(load_settings().database)
    with session_factory(engine)() as session, session.begin():
        session.execute(update(BackfillRow).where(BackfillRow.id == job).values(state="failed"))
    engine.dispose()
    assert f"backfill {job} failed" in cli.invoke(app, ["status"]).output
    resumed = cli.invoke(app, [*args, "--resume", str(job)])
    assert resumed.exit_code == 0, resumed.output
    assert f"Backfill {job} runs again" in resumed.output
    assert f"backfill {job} running" in cli.invoke(app, ["status"]).output


def test_status_shows_the_quarantined_demo_sale_in_plain_words(cli: CliRunner) -> None:
    """Status counts what is waiting and says why the broken sale was refused."""
    result = cli.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "inbox records quarantined" in result.output
    assert "quantity -1 must be above 0" in result.output


def test_policies_are_set_and_bad_ones_refused(cli: CliRunner) -> None:
    """A window is stored in local time; an unknown mode is named with the choices."""
    ok = cli.invoke(app, ["policy", "set", "sale", "scheduled", "--window", "07:30"])
    assert ok.exit_code == 0, ok.output
    assert "scheduled at 07:30" in ok.output
    bad = cli.invoke(app, ["policy", "set", "sale", "hourly"])
    assert bad.exit_code == 2
    assert "realtime, scheduled, manual" in bad.output


def test_a_mapping_round_trips_through_show_and_publish(cli: CliRunner, tmp_path: Path) -> None:
    """`mapping show` prints JSON that `mapping publish` accepts; bad JSON lists its problems."""
    shown = cli.invoke(app, ["mapping", "show"])
    assert shown.exit_code == 0, shown.output
    body = shown.output[shown.output.index("{") :]
    (tmp_path / "m.json").write_text(body)
    published = cli.invoke(app, ["mapping", "publish", str(tmp_path / "m.json")])
    assert published.exit_code == 0, published.output
    assert "Published mapping version 1" in published.output
    (tmp_path / "bad.json").write_text(json.dumps({"format": 1}))
    bad = cli.invoke(app, ["mapping", "publish", str(tmp_path / "bad.json")])
    assert bad.exit_code == 2
    assert "payout_tender: Field required" in bad.output
