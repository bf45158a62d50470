"""POS export files: the source contract, reading files the way their mapping says, and
imports with a report of every receipt, idempotent re-imports, revisions and replays."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from contract import SourceContract, SourceHarness
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.posfile import (
    MappingFileError,
    PosFileSource,
    group_receipts,
    load_mapping,
    mapping_settings,
    open_export,
    read_export,
    receipt_record,
)
from salesync.connectors.posfile.cells import CellError, parse_number
from salesync.connectors.posfile.mapping import AmountFormat, parse_mapping
from salesync.connectors.posfile.preview import preview_export
from salesync.connectors.source import (
    ForgedWebhookError,
    SourceConnection,
    SourceRecord,
    WebhookRequest,
    context_from,
)
from salesync.domain.documents import Location, Refund, Sale, Tenant
from salesync.domain.errors import SyncError, ValidationError
from salesync.domain.money import Money
from salesync.engine.imports import ImportReport, Outcome, PosImports
from salesync.engine.runner import Engine
from salesync.store.documents import Documents
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import InboxRecordRow
from salesync.store.vault import Vault, new_key

EXAMPLES = Path(__file__).parents[2] / "examples" / "pos"
TILL_CSV = EXAMPLES / "till-export.csv"
TILL_MAPPING = load_mapping(EXAMPLES / "till-mapping.toml")
KIOSK_JSON = EXAMPLES / "kiosk-export.json"
KIOSK_MAPPING = load_mapping(EXAMPLES / "kiosk-mapping.json")
TENANT = "posshop"
NOW = datetime(2026, 3, 8, 12, tzinfo=UTC)
SHOREDITCH = Location("shoreditch", TENANT, "Shoreditch", "Europe/London", "GBP")
BROOKLYN = Location("brooklyn", TENANT, "Brooklyn", "America/New_York", "USD")
TILL_SETTINGS: dict[str, Any] = {
    "namespace": "till",
    "locations": {"SHD": "shoreditch"},
    **mapping_settings(TILL_MAPPING),
}


def till_records(settings: dict[str, Any], skip: tuple[str, ...] = ()) -> list[SourceRecord]:
    export = open_export(TILL_CSV, TILL_MAPPING)
    return [
        receipt_record(r, export.name, settings["namespace"])
        for r in group_receipts(export, TILL_MAPPING)
        if r.number not in skip
    ]


class TestPosFileContract(SourceContract):
    @pytest.fixture
    def harness(self) -> SourceHarness:
        settings = {**TILL_SETTINGS, "locations": {"SHD": "shoreditch", "EVT": "shoreditch"}}
        bad = [r for r in till_records(settings) if '"R-10046"' in r.payload]
        return SourceHarness(
            source=PosFileSource(),
            connection=SourceConnection(TENANT, "conn-till", "till", settings, {}),
            locations=(SHOREDITCH,),
            now=NOW,
            records=lambda: till_records(settings, skip=("R-10046",)),
            changed_at=False,
            malformed=[
                *bad,
                SourceRecord("receipt", json.dumps({"format": 1, "rows": []})),
                SourceRecord("order", json.dumps({"format": 1})),
            ],
        )


def test_it_takes_no_webhooks_and_fetches_nothing() -> None:
    """Deliveries are refused as forged, and a client says files are imported, not fetched."""
    source = PosFileSource()
    connection = SourceConnection(TENANT, "c", "till", TILL_SETTINGS, {})
    with pytest.raises(ForgedWebhookError):
        source.verify(WebhookRequest("https://x/hook", {}, b"{}"), connection)
    client = source.connect(connection)
    with pytest.raises(SyncError, match="nothing to fetch") as caught:
        client.fetch("orders", None)
    assert "salesync pos import" in caught.value.user_message
    with pytest.raises(SyncError):
        client.history(NOW - timedelta(days=1), NOW)


def test_amounts_are_read_as_declared_and_ambiguity_is_refused_with_the_fix() -> None:
    """Signs, thousands and decimal commas follow the mapping; a doubtful amount is refused."""
    uk = AmountFormat(thousands=",", currency_symbols=True)
    assert parse_number("£1,500.00", uk, money=True) == Decimal("1500.00")
    assert parse_number("-£1.41", uk, money=True) == Decimal("-1.41")
    assert parse_number("(2.50)", uk, money=True) == Decimal("-2.50")
    assert parse_number("12.50 GBP", uk, money=True) == Decimal("12.50")
    german = AmountFormat(decimal=",", thousands=".")
    assert parse_number("1.234,50", german) == Decimal("1234.50")
    assert parse_number("3,5-", german) == Decimal("-3.5")
    with pytest.raises(CellError, match="set decimal = ','"):
        parse_number("12,50", AmountFormat())
    with pytest.raises(CellError, match="does not group thousands"):
        parse_number("12,50", uk)
    with pytest.raises(CellError, match="currency_symbols = true"):
        parse_number("€3.00", AmountFormat(), money=True)
    with pytest.raises(CellError, match="not an amount"):
        parse_number("£", uk, money=True)


def test_a_semicolon_latin1_export_with_decimal_commas_reads() -> None:
    """Delimiter sniffed, latin-1 decoded, split date and time joined, tax added by rate."""
    mapping = parse_mapping(
        {
            "encoding": "latin-1",
            "columns": {
                "receipt": "Beleg",
                "timestamp": "Datum",
                "time": "Uhrzeit",
                "sku": "Artikel",
                "description": "Bezeichnung",
                "quantity": "Menge",
                "unit_price": "Preis",
                "tender": "Zahlart",
            },
            "time": {"format": "%d.%m.%Y %H:%M:%S", "timezone": "Europe/Berlin"},
            "amounts": {"decimal": ",", "thousands": ".", "currency": "EUR"},
            "tax": {"mode": "exclusive", "name": "MwSt", "rate": 19},
            "tenders": {"Bar": "cash"},
        }
    )
    text = (
        "Beleg;Datum;Uhrzeit;Artikel;Bezeichnung;Menge;Preis;Zahlart\n"
        "7;06.03.2026;18:05:00;K-1;Kräuterbonbons;2;1.250,00;Bar\n"
        "7;06.03.2026;18:05:00;K-2;Süßholz;0,5;3,00;Bar\n"
    )
    export = read_export(text.encode("latin-1"), "kasse.csv", mapping)
    context = context_from(TENANT, "pos_file", "c", {"default_location": "berlin"})
    [receipt] = preview_export(export, mapping, context).receipts
    sale = receipt.translated
    assert isinstance(sale, Sale), receipt.problems
    assert receipt.problems == ()
    assert [line.name for line in sale.lines] == ["Kräuterbonbons", "Süßholz"]
    assert sale.occurred_at == datetime(2026, 3, 6, 17, 5, tzinfo=UTC)
    assert sale.tax_total == Money(Decimal("475.29"), "EUR")
    assert sale.payments[0].tender == "cash"
    assert sale.payments[0].amount == Money(Decimal("2976.79"), "EUR")


def test_a_byte_order_mark_is_not_part_of_the_first_column() -> None:
    """A CSV saved by a spreadsheet with a UTF-8 BOM reads the same as one without."""
    export = read_export(b"\xef\xbb\xbf" + TILL_CSV.read_bytes(), "bom.csv", TILL_MAPPING)
    assert export.columns[0] == "Receipt No"
    assert export.rows == open_export(TILL_CSV, TILL_MAPPING).rows


def test_a_missing_mapped_column_refuses_the_file_naming_the_columns() -> None:
    """The whole file is refused up front with the columns it lacks and the ones it has."""
    data = TILL_CSV.read_bytes().replace(b"Qty", b"Quantity").replace(b"Paid", b"Amount")
    with pytest.raises(ValidationError) as caught:
        read_export(data, "till.csv", TILL_MAPPING)
    message = caught.value.user_message
    assert "no column 'Qty', 'Paid'" in message
    assert "'Quantity'" in message
    assert "did you mean 'Quantity'?" in str(caught.value.problems[0])


def test_a_json_object_without_its_records_key_is_refused_with_its_keys() -> None:
    """A JSON export that is an object names the keys to choose the rows' array from."""
    mapping = KIOSK_MAPPING.model_copy(update={"records": None})
    with pytest.raises(ValidationError, match="holds an object") as caught:
        open_export(KIOSK_JSON, mapping)
    assert "'export'" in caught.value.user_message


def test_mapping_files_list_every_problem() -> None:
    """A mapping missing a column and a currency is refused with both named."""
    with pytest.raises(MappingFileError) as caught:
        parse_mapping(
            {
                "columns": {
                    "timestamp": "When",
                    "sku": "SKU",
                    "unit_price": "Price",
                    "tender": "Pay",
                },
                "time": {"timezone": "Mars/Olympus"},
                "tax": {"mode": "inclusive"},
            }
        )
    text = "\n".join(caught.value.problems)
    assert "columns.receipt: Field required" in text
    assert "'Mars/Olympus' is not an IANA time zone" in text


def test_an_exchange_on_one_receipt_is_refused_plainly() -> None:
    """A receipt mixing sold and returned rows names the rows and how to export them."""
    text = (
        "Receipt No,Date/Time,Store,Type,Item Code,Qty,Price,Payment Type,Paid\n"
        "X1,06/03/2026 10:00,SHD,Sale,TEE-001,1,£28.00,Card,£0.00\n"
        "X1,06/03/2026 10:00,SHD,Return,MUG-005,-1,£28.00,,\n"
    )
    mapping = TILL_MAPPING.model_copy(
        update={
            "columns": TILL_MAPPING.columns.model_copy(
                update={
                    "associate": None,
                    "original_receipt": None,
                    "description": None,
                    "category": None,
                    "line_discount": None,
                    "tax_rate": None,
                    "tax_amount": None,
                }
            )
        }
    )
    export = read_export(text.encode(), "x.csv", mapping)
    context = context_from(TENANT, "pos_file", "c", TILL_SETTINGS)
    [receipt] = preview_export(export, mapping, context).receipts
    assert receipt.translated is None
    assert any("an exchange" in p and p.startswith("row 2, Type") for p in receipt.problems)


@dataclass
class Shop:
    factory: sessionmaker[Session]
    clock: ManualClock
    imports: PosImports
    till: str
    kiosk: str
    vault: Vault

    def documents(self) -> int:
        with self.factory() as session:
            return Documents(session, TENANT).count()

    def inbox(self) -> int:
        with self.factory() as session:
            return int(session.scalar(select(func.count()).select_from(InboxRecordRow)) or 0)

    def post(self) -> dict[str, int]:
        """Post everything due and return the books' balance per account (minor units)."""
        Engine(self.factory, self.clock).run_until_idle(TENANT)
        with self.factory() as session:
            rows = LedgerBooks(session, TENANT).trial_balance()
        return {f"{r.account} {r.balance.currency}": r.balance.to_minor() for r in rows}

    def set_till(self, **changes: Any) -> None:
        with self.factory() as session, session.begin():
            Connections(session, TENANT, self.vault).update_settings(self.till, **changes)


@pytest.fixture
def shop(factory: sessionmaker[Session]) -> Shop:
    """A merchant with a London and a Brooklyn store, a till export and a kiosk export."""
    vault = Vault([new_key()])
    with factory() as session, session.begin():
        Tenants(session).add(Tenant(TENANT, "POS shop"))
        for location in (SHOREDITCH, BROOKLYN):
            Locations(session, TENANT).add(location)
        connections = Connections(session, TENANT, vault)
        till = connections.add("pos_file", "source", "till", {}, TILL_SETTINGS)
        kiosk_settings = {
            "namespace": "kiosk",
            "default_location": "brooklyn",
            **mapping_settings(KIOSK_MAPPING),
        }
        kiosk = connections.add("pos_file", "source", "kiosk", {}, kiosk_settings)
    clock = ManualClock(NOW)
    return Shop(factory, clock, PosImports(factory, clock), till, kiosk, vault)


def outcomes(report: ImportReport) -> dict[str, Outcome]:
    return {r.receipt: r.outcome for r in report.receipts}


def test_a_till_export_imports_with_accepted_and_rejected_rows(shop: Shop) -> None:
    """Each receipt is accepted, skipped or rejected with its rows and plain reasons."""
    report = shop.imports.import_file(TENANT, shop.till, TILL_CSV)
    assert (report.rows, len(report.receipts)) == (21, 8)
    assert (report.accepted, report.rejected, report.duplicates) == (5, 2, 0)
    assert outcomes(report)["R-10048"] is Outcome.SKIPPED
    rejected = {r.receipt: r for r in report.having(Outcome.REJECTED)}
    assert rejected["R-10046"].rows == (17, 18, 19)
    assert rejected["R-10046"].problems == ("row 18, Qty: 'x2' is not a number",)
    assert "location 'EVT' is not mapped" in rejected["R-10047"].problems[0]
    assert shop.documents() == 5


def test_reimporting_the_same_file_changes_nothing(shop: Shop) -> None:
    """The same file again is all duplicates; the books stay exactly as they were."""
    shop.imports.import_file(TENANT, shop.till, TILL_CSV)
    books = shop.post()
    assert books
    again = shop.imports.import_file(TENANT, shop.till, TILL_CSV)
    assert again.duplicates == 8
    assert again.accepted == again.rejected == 0
    assert {r.receipt for r in again.receipts if r.still_rejected} == {"R-10046", "R-10047"}
    shop.clock.advance(timedelta(hours=1))
    assert shop.post() == books
    assert shop.documents() == 5


def test_a_corrected_export_revises_only_the_corrected_receipt(shop: Shop, tmp_path: Path) -> None:
    """A re-export with one receipt's tenders corrected makes that sale's next revision."""
    shop.imports.import_file(TENANT, shop.till, TILL_CSV)
    shop.post()
    corrected = TILL_CSV.read_text(encoding="utf-8")
    corrected = corrected.replace("Card,£50.00", "Card,£60.00").replace(
        "Cash,£38.00", "Cash,£28.00"
    )
    path = tmp_path / "till-export-corrected.csv"
    path.write_text(corrected, encoding="utf-8")
    report = shop.imports.import_file(TENANT, shop.till, path)
    assert outcomes(report)["R-10043"] is Outcome.REVISED
    assert report.duplicates == 7
    with shop.factory() as session:
        sale = next(
            d
            for d in Documents(session, TENANT).for_day(
                "shoreditch", NOW.date() - timedelta(days=2)
            )
            if isinstance(d, Sale) and d.number == "R-10043"
        )
        assert Documents(session, TENANT).revision(sale.id) == 2
    assert {p.tender: p.amount.amount for p in sale.payments} == {
        "card": Decimal("60.00"),
        "cash": Decimal("28.00"),
    }
    books = shop.post()
    assert books["Assets:Cash-Drawer GBP"] == 1859 + 2800  # R-10042's and the corrected cash


def test_a_file_missing_a_mapped_column_stores_nothing(shop: Shop, tmp_path: Path) -> None:
    """A header without a mapped column is refused before any receipt is stored."""
    path = tmp_path / "renamed.csv"
    path.write_bytes(TILL_CSV.read_bytes().replace(b"Item Code", b"SKU"))
    with pytest.raises(ValidationError, match="no column 'Item Code'"):
        shop.imports.import_file(TENANT, shop.till, path)
    assert shop.inbox() == 0


def test_a_json_export_imports(shop: Shop) -> None:
    """A JSON export's rows at a declared key import as sales at the default location."""
    report = shop.imports.import_file(TENANT, shop.kiosk, KIOSK_JSON)
    assert outcomes(report) == {"5001": Outcome.NEW, "5002": Outcome.NEW}
    books = shop.post()
    assert books["Assets:Clearing:Card USD"] == 2651
    assert books["Assets:Cash-Drawer USD"] == 1742
    assert books["Liabilities:Sales-Tax:NY-Sales-Tax USD"] == -(85 + 131 + 142)


def test_a_preview_writes_nothing(shop: Shop) -> None:
    """A preview reads and checks every receipt without storing a record or a document."""
    shown = shop.imports.preview(TENANT, shop.till, TILL_CSV)
    assert (shown.clean, shown.with_problems, shown.skipped) == (5, 2, 1)
    refund = next(r.translated for r in shown.receipts if r.receipt.number == "R-10045")
    assert isinstance(refund, Refund)
    assert shop.inbox() == 0
    assert shop.documents() == 0


def test_a_rejected_receipt_is_taken_in_after_the_mapping_is_fixed(shop: Shop) -> None:
    """The pop-up store's receipt waits quarantined until its store is mapped and replayed."""
    shop.imports.import_file(TENANT, shop.till, TILL_CSV)
    shop.set_till(locations={"SHD": "shoreditch", "EVT": "shoreditch"})
    replayed = shop.imports.replay(TENANT, shop.till)
    assert outcomes(replayed) == {"R-10047": Outcome.NEW, "R-10046": Outcome.REJECTED}
    assert replayed.rows == 5
    assert shop.documents() == 6
    assert shop.imports.replay(TENANT, shop.till).accepted == 0


def test_a_return_waits_for_its_sale_from_a_later_file_and_links_to_it(
    shop: Shop, tmp_path: Path
) -> None:
    """A return exported before its sale waits, then joins the sale it names."""
    lines = TILL_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    (tmp_path / "returns.csv").write_text(header + "".join(rows[13:15]), encoding="utf-8")
    (tmp_path / "sales.csv").write_text(header + "".join(rows[:3]), encoding="utf-8")
    first = shop.imports.import_file(TENANT, shop.till, tmp_path / "returns.csv")
    assert outcomes(first) == {"R-10045": Outcome.WAITING}
    assert "has not received yet" in first.receipts[0].problems[0]
    shop.imports.import_file(TENANT, shop.till, tmp_path / "sales.csv")
    with shop.factory() as session:
        documents = Documents(session, TENANT)
        [sale] = documents.for_day("shoreditch", NOW.date() - timedelta(days=2))
        [refund] = documents.refunds_of(sale.id)
    assert isinstance(sale, Sale)
    assert sale.number == "R-10041"
    assert refund.external_id == "till/R-10045"
    assert refund.amount == Money(Decimal("28.00"), "GBP")


def test_imported_sales_and_returns_reach_the_ledger_balanced(shop: Shop) -> None:
    """Sales, split tenders, change, discounts and a return post to balanced books."""
    shop.imports.import_file(TENANT, shop.till, TILL_CSV)
    books = shop.post()
    assert sum(books.values()) == 0
    assert books["Assets:Cash-Drawer GBP"] == 1859 + 3800
    assert books["Assets:Clearing:Card GBP"] == 7200 + 5000 + 150000 - 2800
    assert books["Liabilities:Sales-Tax:VAT GBP"] == -(
        933 + 267 + 160 + 150 + 1067 + 400 + 25000 - 467
    )
