"""The command line: the demo end to end, re-runs, reports, exports, helpful errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesync.cli.app import app
from salesync.config import load_settings
from salesync.connectors.ledger.books import LedgerBooks
from salesync.store.database import make_engine, session_factory

from ledger_tools import bean_check, hledger, hledger_balances, nonzero, run

DEMO = ["demo", "--start", "2026-03-06", "--days", "4", "--orders-per-day", "8"]


@pytest.fixture
def cli(cli_home: Path) -> CliRunner:
    return CliRunner()


def test_demo_posts_refuses_and_exports(cli: CliRunner, tmp_path: Path) -> None:
    """The demo posts every document, quarantines the broken sale with reasons, balances."""
    result = cli.invoke(app, DEMO)
    assert result.exit_code == 0, result.output
    assert "Quarantined sale record" in result.output
    assert "0 still waiting for their sale" in result.output
    assert "tenders_do_not_cover_total" not in result.output  # plain words, not codes
    assert "payments add up to" in result.output
    assert result.output.count("Total (balanced)") == 2
    assert (tmp_path / "var" / "exports" / "demo.beancount").is_file()
    assert (tmp_path / "var" / "exports" / "demo.journal").is_file()


def test_running_the_demo_twice_posts_nothing_new(cli: CliRunner) -> None:
    """A second run recognises every record as a repeat and posts nothing new."""
    first = cli.invoke(app, DEMO)
    posted = first.output.split("Outbox: ")[1].split("\n")[0]
    second = cli.invoke(app, DEMO)
    assert first.exit_code == second.exit_code == 0
    assert second.output.split("Outbox: ")[1].split("\n")[0] == posted
    assert "Inbox: 0 records taken in" not in second.output


@pytest.mark.tools
def test_demo_exports_pass_the_tools_and_match_our_trial_balance(
    cli: CliRunner, tmp_path: Path
) -> None:
    """bean-check and hledger accept the demo's exports; hledger's balances equal ours."""
    assert cli.invoke(app, DEMO).exit_code == 0
    exports = tmp_path / "var" / "exports"
    checked = run(bean_check(), exports / "demo.beancount")
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")
    strict = hledger("-f", str(exports / "demo.journal"), "check", "--strict")
    assert (strict.returncode, strict.stderr) == (0, "")
    engine = make_engine(load_settings().database)
    with session_factory(engine)() as session:
        ours = {
            (r.account, r.balance.currency): r.balance.amount
            for r in LedgerBooks(session, "demo").trial_balance()
        }
    engine.dispose()
    assert nonzero(hledger_balances(exports / "demo.journal")) == nonzero(ours)
    assert sum(ours.values(), Decimal(0)) == 0


def test_reports_read_the_books(cli: CliRunner) -> None:
    """trial-balance, ledger and export work on the demo's books."""
    cli.invoke(app, DEMO)
    balance = cli.invoke(app, ["trial-balance", "--as-of", "2026-03-07"])
    assert balance.exit_code == 0
    assert "Assets:Cash-Drawer" in balance.output
    ledger = cli.invoke(app, ["ledger", "Assets:Bank", "--currency", "GBP"])
    assert ledger.exit_code == 0
    assert "Payout PO-SHO-" in ledger.output
    out = Path("books.journal")
    exported = cli.invoke(app, ["export", "--format", "hledger", "--out", str(out)])
    assert exported.exit_code == 0
    assert out.read_text().count("\n20") > 10


def test_helpful_errors(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown tenant, a bad date and a bad setting each say what to do."""
    cli.invoke(app, DEMO)
    unknown = cli.invoke(app, ["trial-balance", "--tenant", "nobody"])
    assert unknown.exit_code == 2
    assert "Tenants: demo" in unknown.output
    bad_date = cli.invoke(app, ["trial-balance", "--as-of", "15/03/2026"])
    assert bad_date.exit_code == 2
    assert "YYYY-MM-DD" in bad_date.output
    monkeypatch.setenv("SALESYNC_DATABASE_URL", "oracle://x")
    bad_setting = cli.invoke(app, ["init"])
    assert bad_setting.exit_code == 2
    assert "SALESYNC_DATABASE_URL" in bad_setting.output
