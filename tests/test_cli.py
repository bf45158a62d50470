"""The command line: the demo end to end, re-runs, reports, exports, helpful errors."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesync.cli.app import app
from salesync.config import load_settings
from salesync.connectors.ledger.books import LedgerBooks
from salesync.store.database import make_engine, session_factory

from ledger_tools import bean_check, hledger, hledger_balances, nonzero, run

DEMO = [
    *("demo", "--no-serve", "--start", "2026-03-06"),
    *("--days", "1", "--history", "3", "--orders-per-day", "3"),
]


@dataclass(frozen=True)
class DemoRun:
    home: Path
    output: str


def cli_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Run the CLI in ``home`` with no configuration (as the ``cli_home`` fixture does)."""
    monkeypatch.chdir(home)
    monkeypatch.setenv("SALESYNC_CONFIG", str(home / "none.toml"))
    monkeypatch.delenv("SALESYNC_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One demo run, shared by the tests that only read what it printed and left."""
    home = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as monkeypatch:
        cli_env(monkeypatch, home)
        result = CliRunner().invoke(app, DEMO)
    assert result.exit_code == 0, result.output
    return DemoRun(home, result.output)


@pytest.fixture
def demo_home(demo_run: DemoRun, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared demo's folder, for commands that read its books."""
    cli_env(monkeypatch, demo_run.home)
    return demo_run.home


@pytest.fixture
def cli(cli_home: Path) -> CliRunner:
    return CliRunner()


def connection_row(output: str, name: str) -> list[str]:
    """The cells of a connection's line in the demo's connections table."""
    line = next(line for line in output.splitlines() if line.startswith(f"│ {name} "))
    return [cell.strip() for cell in line.strip("│ ").split("│")]


def new_records(cell: str) -> int:
    return int(cell.removesuffix(" new").replace(",", ""))


def test_demo_syncs_both_sandboxes_over_http(demo_run: DemoRun) -> None:
    """Both connections received webhooks, the sandboxes lost some, the sweeps and the
    backfill brought new records, and the books reconcile with what came in."""
    for name in ("Shopify", "Square"):
        _, received, lost, _, swept, backfilled = connection_row(demo_run.output, name)
        assert int(received) > 0, name
        assert int(lost) > 0, name
        assert new_records(swept) > 0, name
        assert new_records(backfilled) > 0, name
    assert "Reconciliation clean" in demo_run.output
    assert "authorised salesync by OAuth" in demo_run.output


def test_demo_posts_refuses_and_exports(demo_run: DemoRun) -> None:
    """The demo posts every document, quarantines the broken order with reasons, balances."""
    output = demo_run.output
    assert "Quarantined order record" in output
    assert "0 still waiting for their sale" in output
    assert "Outbox: " in output
    assert "failed" not in output.split("Outbox: ")[1].split("\n")[0]
    assert "quantity_out_of_range" not in output  # plain words, not codes
    assert "quantity -1 must be above 0" in output
    assert "the lines add up to" in output
    # The quarantined order opened a ticket, routed to Tier 1 by the default rules.
    support = output.split("Support: ")[1].split("Inbox: ")[0]
    assert support.startswith("1 open ticket(s), 1 assigned this pass"), support
    assert "#1 [assigned]" in support, support
    assert "tier1/support" in " ".join(support.split()), support
    # A posted Square payout returned by the bank on the last day: the sweep read it
    # failed and its adjustment took the deposit back out of the bank.
    assert "The bank returned Square payout" in output
    returned = next(line for line in output.splitlines() if "was returned by the bank" in line)
    assert returned.endswith("is posted."), returned
    assert output.count("Total (balanced)") == 1
    assert "OUT OF BALANCE" not in output
    assert (demo_run.home / "var" / "exports" / "demo.beancount").is_file()
    assert (demo_run.home / "var" / "exports" / "demo.journal").is_file()


def test_running_the_demo_twice_posts_nothing_new(cli: CliRunner) -> None:
    """A second run starts fresh sandboxes with the same seed: every record it brings is
    recognised as a repeat, and nothing new posts."""
    first = cli.invoke(app, DEMO)
    second = cli.invoke(app, DEMO)
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    posted = first.output.split("Outbox: ")[1].split("\n")[0]
    assert second.output.split("Outbox: ")[1].split("\n")[0] == posted
    assert "This run brought 0 new records" not in first.output
    assert "This run brought 0 new records" in second.output
    for name in ("Shopify", "Square"):
        _, received, _, repeats, swept, backfilled = connection_row(second.output, name)
        assert int(received) > 0, name
        assert int(repeats.replace(",", "")) > 0, name
        assert (new_records(swept), new_records(backfilled)) == (0, 0), name
    balances = [o.split("Trial balance")[1] for o in (first.output, second.output)]
    assert balances[0] == balances[1]


@pytest.mark.tools
def test_demo_exports_pass_the_tools_and_match_our_trial_balance(demo_home: Path) -> None:
    """bean-check and hledger accept the demo's exports; hledger's balances equal ours."""
    exports = demo_home / "var" / "exports"
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


def test_reports_read_the_books(demo_home: Path) -> None:
    """trial-balance, ledger and export work on the demo's books."""
    cli = CliRunner()
    balance = cli.invoke(app, ["trial-balance", "--as-of", "2026-03-05"])
    assert balance.exit_code == 0
    assert "Assets:Cash-Drawer" in balance.output
    ledger = cli.invoke(app, ["ledger", "Assets:Bank", "--currency", "USD"])
    assert ledger.exit_code == 0
    assert "Payout po_" in ledger.output  # Square's payouts
    assert "Payout 5" in ledger.output  # Shopify's
    out = demo_home / "books.journal"
    exported = cli.invoke(app, ["export", "--format", "hledger", "--out", str(out)])
    assert exported.exit_code == 0
    assert out.read_text().count("\n20") > 10


def test_helpful_errors(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown tenant, a bad date and a bad setting each say what to do."""
    cli = CliRunner()
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
