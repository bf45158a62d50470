"""`salesync pos`: connect a till's export with its mapping, preview, import with a report
of accepted and rejected rows, re-import, and replay after a fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from salesync.cli.app import app
from salesync.config import load_settings
from salesync.domain.documents import Location, Tenant
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import InboxRecordRow

EXAMPLES = Path(__file__).parent.parent / "examples" / "pos"
CSV = str(EXAMPLES / "till-export.csv")
CONNECT = ["pos", "connect", "till", "--mapping", str(EXAMPLES / "till-mapping.toml")]


def inbox_count() -> int:
    engine = make_engine(load_settings().database)
    try:
        with session_factory(engine)() as session:
            return int(session.scalar(select(func.count()).select_from(InboxRecordRow)) or 0)
    finally:
        engine.dispose()


@pytest.fixture
def cli(cli_home: Path) -> CliRunner:
    """A runner in a folder whose database has the demo tenant's London store."""
    engine = make_engine(load_settings().database)
    try:
        migrate(engine)
        with session_factory(engine)() as session, session.begin():
            Tenants(session).add(Tenant("demo", "Demo"))
            Locations(session, "demo").add(
                Location("shoreditch", "demo", "Shoreditch", "Europe/London", "GBP")
            )
    finally:
        engine.dispose()
    return CliRunner()


def test_a_till_export_imports_with_a_report_of_rows_accepted_and_rejected(
    cli: CliRunner,
) -> None:
    """Preview writes nothing; the import names each rejected receipt's rows and reasons."""
    connected = cli.invoke(app, [*CONNECT, "--location", "SHD=shoreditch"])
    assert connected.exit_code == 0, connected.output
    assert "SHD → shoreditch" in connected.output
    preview = cli.invoke(app, ["pos", "preview", CSV, "--connection", "till"])
    assert preview.exit_code == 0, preview.output
    assert "5 read cleanly, 2 with problems, 1 skipped. Nothing was written." in preview.output
    assert inbox_count() == 0
    imported = cli.invoke(app, ["pos", "import", CSV, "--connection", "till", "--post"])
    assert imported.exit_code == 1, imported.output
    assert "21 rows, 8 receipts: 5 accepted, 2 rejected, 0 already imported." in imported.output
    assert "row 18, Qty: 'x2' is not a number" in imported.output
    assert "row 20, Store: location 'EVT' is not mapped" in imported.output
    assert "17-19" in imported.output
    assert "5 posted" in imported.output
    balance = cli.invoke(app, ["trial-balance"])
    assert "Total (balanced)" in balance.output
    assert "OUT OF BALANCE" not in balance.output


def test_reimporting_finds_duplicates_and_a_replay_takes_in_the_fixed_receipt(
    cli: CliRunner,
) -> None:
    """The same file again is all duplicates; mapping the pop-up store and replaying takes
    its receipt in, while the bad quantity stays rejected."""
    assert cli.invoke(app, [*CONNECT, "--location", "SHD=shoreditch"]).exit_code == 0
    cli.invoke(app, ["pos", "import", CSV, "--connection", "till"])
    again = cli.invoke(app, ["pos", "import", CSV, "--connection", "till"])
    assert "0 accepted, 0 rejected, 8 already imported." in again.output
    assert "still rejected" in again.output
    fixed = cli.invoke(
        app,
        ["pos", "connect", "till", "--location", "SHD=shoreditch", "--location", "EVT=shoreditch"],
    )
    assert fixed.exit_code == 0, fixed.output
    assert fixed.output.startswith("Updated")
    replayed = cli.invoke(app, ["pos", "replay", "--connection", "till"])
    assert replayed.exit_code == 1, replayed.output
    assert "1 accepted, 1 rejected" in replayed.output
    assert "R-10046" in replayed.output


def test_a_file_missing_a_mapped_column_is_refused_naming_it(
    cli: CliRunner, tmp_path: Path
) -> None:
    """A renamed column refuses the whole file, with the columns the file does have."""
    assert cli.invoke(app, [*CONNECT, "--location", "SHD=shoreditch"]).exit_code == 0
    renamed = tmp_path / "renamed.csv"
    renamed.write_bytes(Path(CSV).read_bytes().replace(b"Qty", b"Quantity"))
    result = cli.invoke(app, ["pos", "import", str(renamed), "--connection", "till"])
    assert result.exit_code == 2
    assert "it has no column 'Qty'" in result.output
    assert "did you mean 'Quantity'?" in result.output
    assert inbox_count() == 0


def test_connect_explains_what_it_cannot_use(cli: CliRunner, tmp_path: Path) -> None:
    """Unknown locations, a new connection with no mapping and a bad mapping are refused."""
    unknown = cli.invoke(app, [*CONNECT, "--location", "SHD=paris"])
    assert unknown.exit_code == 2
    assert "No location 'paris'" in unknown.output
    assert "Locations: shoreditch" in unknown.output
    bare = cli.invoke(app, ["pos", "connect", "till"])
    assert bare.exit_code == 2
    assert "--mapping FILE" in bare.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\nreceipt = "No"\n')
    refused = cli.invoke(app, ["pos", "connect", "till", "--mapping", str(bad)])
    assert refused.exit_code == 2
    assert "columns.timestamp: Field required" in refused.output
    assert "time: Field required" in refused.output
    missing = cli.invoke(app, ["pos", "import", CSV, "--connection", "nope"])
    assert missing.exit_code == 2
    assert "No POS file connection 'nope'" in missing.output
