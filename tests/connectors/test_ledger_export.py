"""Beancount and hledger exports of the built-in ledger, checked by the real tools."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from beancount.core import data, realization

from salesync.connectors.ledger.balances import balances
from salesync.connectors.ledger.export import LedgerExportError, write_beancount, write_hledger
from salesync.domain.journal import Account, ChartOfAccounts, JournalEntry, JournalLine
from salesync.domain.money import Money
from salesync.domain.postings import DEFAULT_PLAN, journal_for
from salesync.domain.simulate import DemoMerchant, demo_merchant, simulate, tokyo_store

from ledger_tools import bean_check, hledger, hledger_balances, nonzero, run

Writer = Callable[..., int]
WRITERS = pytest.mark.parametrize("writer", [write_beancount, write_hledger], ids=["bean", "hl"])

START = date(2024, 3, 1)
DAYS = 31
SEED = 20240301
TITLE = "Harbor & Pine Goods"


@dataclasses.dataclass(frozen=True)
class Month:
    """A month of simulated activity as journal entries, with what an export declares."""

    entries: list[JournalEntry]
    chart: ChartOfAccounts
    currencies: tuple[str, ...]
    locations: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Exported:
    month: Month
    beancount: Path
    hledger: Path
    counts: tuple[int, ...]


def _month(merchant: DemoMerchant) -> Month:
    by_id = {loc.id: loc for loc in merchant.locations}
    entries = [
        journal_for(doc, by_id[doc.location_id])
        for doc in simulate(merchant, START, DAYS, seed=SEED)
    ]
    return Month(
        entries=entries,
        chart=DEFAULT_PLAN.chart(line.account for e in entries for line in e.lines),
        currencies=tuple(dict.fromkeys(loc.currency for loc in merchant.locations)),
        locations={loc.id: loc.name for loc in merchant.locations},
    )


def _two_stores() -> DemoMerchant:
    return demo_merchant(orders_per_day=20)


def _with_tokyo() -> DemoMerchant:
    merchant = demo_merchant(orders_per_day=20)
    return dataclasses.replace(merchant, stores=(*merchant.stores, tokyo_store()))


@pytest.fixture(scope="module", params=[_two_stores, _with_tokyo], ids=["usd-gbp", "usd-gbp-jpy"])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    month = _month(request.param())
    folder = tmp_path_factory.mktemp("export")
    counts = tuple(
        _export(
            writer, month.entries, month.chart, path, month.currencies, locations=month.locations
        )
        for writer, path in [
            (write_beancount, folder / "books.beancount"),
            (write_hledger, folder / "books.journal"),
        ]
    )
    return Exported(month, folder / "books.beancount", folder / "books.journal", counts)


def _export(
    writer: Writer,
    entries: Sequence[JournalEntry],
    chart: ChartOfAccounts,
    path: Path,
    currencies: Sequence[str],
    *,
    locations: Mapping[str, str] | None = None,
    title: str = TITLE,
) -> int:
    with path.open("w", encoding="utf-8") as out:
        return writer(
            entries,
            chart,
            out,
            title=title,
            open_date=START,
            currencies=currencies,
            locations=locations,
        )


def _beancount_balances(entries: list[data.Directive]) -> dict[tuple[str, str], Decimal]:
    root = realization.realize(entries)
    return {
        (real.account, position.units.currency): position.units.number
        for real in realization.iter_children(root)
        for position in real.balance
        if position.units.number is not None
    }


def _load_beancount(path: Path) -> tuple[list[data.Directive], dict[str, Any]]:
    entries, errors, options = loader.load_file(str(path))
    assert errors == []
    return entries, options


def _hledger_transactions(path: Path) -> list[dict[str, Any]]:
    result = hledger("-f", str(path), "print", "-O", "json")
    assert (result.returncode, result.stderr) == (0, "")
    transactions: list[dict[str, Any]] = json.loads(result.stdout)
    return transactions


def _entry(
    key: str,
    currency: str,
    *legs: tuple[str, str],
    narration: str = "Sale",
    memo: str = "",
    day: date = START,
) -> JournalEntry:
    return JournalEntry(
        key=key,
        tenant_id="demo",
        location_id="brooklyn",
        date=day,
        narration=narration,
        lines=tuple(
            JournalLine(account, Money.of(amount, currency), memo) for account, amount in legs
        ),
        documents=(f"doc-{key}",),
    )


SMALL_CHART = ChartOfAccounts((Account("Assets:Bank"), Account("Income:Sales")))


def _declared() -> dict[str, Any]:
    return {"title": TITLE, "open_date": START, "currencies": ["USD"]}


def _sale(key: str, amount: str = "10.00", currency: str = "USD", **kw: Any) -> JournalEntry:
    return _entry(key, currency, ("Assets:Bank", amount), ("Income:Sales", f"-{amount}"), **kw)


@pytest.mark.tools
def test_month_passesbean_check(exported: Exported) -> None:
    """A month of sales, refunds and payouts in two or three currencies passes bean-check
    silently, and every entry was written."""
    month = exported.month
    assert {e.key.partition(":")[0] for e in month.entries} == {"sale", "refund", "payout"}
    assert {e.location_id for e in month.entries} == set(month.locations)
    result = run(bean_check(), exported.beancount)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert exported.counts == (len(month.entries),) * 2


@pytest.mark.tools
def test_bean_check_is_not_vacuous(exported: Exported, tmp_path: Path) -> None:
    """bean-check rejects the same export once one account's open directive is removed."""
    text = exported.beancount.read_text(encoding="utf-8")
    broken = tmp_path / "broken.beancount"
    broken.write_text(text.replace(f"{START} open Assets:Bank\n", "", 1), encoding="utf-8")
    result = run(bean_check(), broken)
    assert result.returncode != 0
    assert "Assets:Bank" in result.stdout + result.stderr


@pytest.mark.tools
def test_beancount_balances_equal_ours(exported: Exported) -> None:
    """Beancount's realized balances per account and currency equal the entries' own sums,
    with every currency declared at its minor unit and every entry a transaction."""
    entries, options = _load_beancount(exported.beancount)
    month = exported.month
    assert options["title"] == TITLE
    assert options["operating_currency"] == list(month.currencies)
    declared = {e.currency for e in entries if isinstance(e, data.Commodity)}
    assert declared == set(month.currencies)
    precision = {"USD": Decimal("0.01"), "GBP": Decimal("0.01"), "JPY": Decimal(1)}
    assert options["display_precision"] == {c: precision[c] for c in month.currencies}
    transactions = [e for e in entries if isinstance(e, data.Transaction)]
    assert len(transactions) == len(month.entries)
    assert _beancount_balances(entries) == nonzero(balances(month.entries))


@pytest.mark.tools
def test_month_passes_hledger_strict_check(exported: Exported) -> None:
    """The same month passes `hledger check --strict` (accounts and commodities declared)."""
    result = hledger("-f", str(exported.hledger), "check", "--strict")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.tools
def test_hledger_strict_check_is_not_vacuous(exported: Exported, tmp_path: Path) -> None:
    """hledger's strict check rejects the same journal once one commodity declaration is
    removed, so its silence above means every commodity was declared."""
    text = exported.hledger.read_text(encoding="utf-8")
    broken = tmp_path / "broken.journal"
    broken.write_text(text.replace("commodity 1,000.00 USD\n", "", 1), encoding="utf-8")
    result = hledger("-f", str(broken), "check", "--strict")
    assert result.returncode != 0
    assert "USD" in result.stderr


@pytest.mark.tools
def test_hledger_balances_equal_ours(exported: Exported) -> None:
    """hledger's own balances per account and commodity equal the entries' sums exactly."""
    assert hledger_balances(exported.hledger) == nonzero(balances(exported.month.entries))


@pytest.mark.tools
def test_each_currency_is_written_at_its_minor_unit(tmp_path: Path) -> None:
    """USD, JPY and KWD are declared with 2, 0 and 3 decimals and every amount is written
    with exactly that many, and both tools accept and sum them as we do."""
    entries = [
        _sale("usd", "1.5"),
        _sale("jpy", "1E+3", "JPY"),
        _sale("kwd-1", "0.125", "KWD"),
        _sale("kwd-2", "12.5", "KWD"),
    ]
    currencies = ("USD", "JPY", "KWD")
    bean, hl = tmp_path / "books.beancount", tmp_path / "books.journal"
    assert _export(write_beancount, entries, SMALL_CHART, bean, currencies) == 4
    assert _export(write_hledger, entries, SMALL_CHART, hl, currencies) == 4

    for text in (bean.read_text(encoding="utf-8"), hl.read_text(encoding="utf-8")):
        amounts = {" ".join(line.split()[-2:]) for line in text.splitlines()}
        assert {"1.50 USD", "-1.50 USD", "1000 JPY", "-1000 JPY"} <= amounts
        assert {"0.125 KWD", "-0.125 KWD", "12.500 KWD", "-12.500 KWD"} <= amounts
    hl_text = hl.read_text(encoding="utf-8")
    assert "commodity 1,000.00 USD\n" in hl_text
    assert "commodity 1,000. JPY\n" in hl_text
    assert "commodity 1,000.000 KWD\n" in hl_text

    result = run(bean_check(), bean)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    result = hledger("-f", str(hl), "check", "--strict")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    loaded, options = _load_beancount(bean)
    assert options["display_precision"] == {
        "USD": Decimal("0.01"),
        "JPY": Decimal(1),
        "KWD": Decimal("0.001"),
    }
    assert _beancount_balances(loaded) == nonzero(balances(entries))
    assert hledger_balances(hl) == nonzero(balances(entries))


NARRATION = '(refund) "Big" order; café ☕ — naïve\nsecond line\tand a \\ backslash, done'
MEMO = 'gift card; "spare"\r\nno. 2, ñ'
LOCATION = 'Harbor, Pine; "Annex"\nÅre'


@pytest.mark.tools
def test_tricky_text_passes_both_tools(tmp_path: Path) -> None:
    """Quotes, semicolons, commas, backslashes, tabs, line breaks and non-ASCII text in
    narrations, memos, names and the title pass both tools; Beancount keeps them exactly,
    hledger as one line with ';' ending no description and ',' ending no tag."""
    entry = _entry(
        "sale:pos:A;1",
        "USD",
        ("Assets:Bank", "5.00"),
        ("Income:Sales", "-5.00"),
        narration=NARRATION,
        memo=MEMO,
    )
    chart = ChartOfAccounts(
        (Account("Assets:Bank", 'Checking; "main"\nat First Bank'), Account("Income:Sales"))
    )
    title = 'Harbor "&" Pine; Goods\nLtd ✓'
    bean, hl = tmp_path / "books.beancount", tmp_path / "books.journal"
    locations = {"brooklyn": LOCATION}
    _export(write_beancount, [entry], chart, bean, ["USD"], locations=locations, title=title)
    _export(write_hledger, [entry], chart, hl, ["USD"], locations=locations, title=title)

    result = run(bean_check(), bean)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    loaded, options = _load_beancount(bean)
    assert options["title"] == title
    (txn,) = [e for e in loaded if isinstance(e, data.Transaction)]
    assert txn.narration == NARRATION
    assert (txn.meta["key"], txn.meta["location"]) == ("sale:pos:A;1", LOCATION)
    assert [(p.meta or {}).get("memo") for p in txn.postings] == [MEMO, MEMO]
    (opened,) = [e for e in loaded if isinstance(e, data.Open) and e.account == "Assets:Bank"]
    assert opened.meta["description"] == 'Checking; "main"\nat First Bank'

    result = hledger("-f", str(hl), "check", "--strict")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    (printed,) = _hledger_transactions(hl)
    assert printed["tcode"] == ""
    assert printed["tdescription"] == (
        '(refund) "Big" order, café ☕ — naïve second line and a \\ backslash, done'
    )
    assert dict(printed["ttags"]) == {
        "key": "sale:pos:A;1",
        "location": 'Harbor; Pine; "Annex" Åre',
        "documents": "doc-sale:pos:A;1",
    }
    assert [p["pcomment"] for p in printed["tpostings"]] == ['gift card; "spare" no. 2, ñ\n'] * 2


@WRITERS
def test_undeclared_account_is_refused_by_name(writer: Writer) -> None:
    """An entry posting to an account outside the chart raises a ValueError naming it, after
    the entries before it were written and before any of it was."""
    out = io.StringIO()
    stray = _entry("stray", "USD", ("Assets:Bank", "3.00"), ("Expenses:Mystery-Fees", "-3.00"))
    with pytest.raises(ValueError, match="Expenses:Mystery-Fees") as raised:
        writer([_sale("fine"), stray], SMALL_CHART, out, **_declared())
    assert isinstance(raised.value, LedgerExportError)
    assert raised.value.details["accounts"] == ["Expenses:Mystery-Fees"]
    assert raised.value.documents == ("doc-stray",)
    assert "doc-fine" in out.getvalue()
    assert "doc-stray" not in out.getvalue()


@WRITERS
@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_sale("yen", "100", "JPY"), "JPY, not a declared currency"),
        (_sale("early", day=date(2024, 2, 29)), "before the books open on 2024-03-01"),
    ],
    ids=["currency", "date"],
)
def test_undeclared_currency_or_early_date_is_refused(
    writer: Writer, entry: JournalEntry, message: str
) -> None:
    """An entry in a currency the header does not declare, or dated before the books open,
    raises a ValueError saying so instead of writing a file the tools reject."""
    with pytest.raises(ValueError, match=message):
        writer([entry], SMALL_CHART, io.StringIO(), **_declared())


@WRITERS
def test_writers_stream_a_generator(writer: Writer) -> None:
    """A generator of entries is written entry by entry as it is consumed, never gathered
    first, and the number written comes back."""
    out = io.StringIO()

    def entries() -> Iterator[JournalEntry]:
        for n in range(250):
            entry = _sale(f"s{n}", f"{n + 1}.00")
            yield entry
            assert f"doc-s{n}" in out.getvalue()

    assert writer(entries(), SMALL_CHART, out, **_declared()) == 250


@WRITERS
def test_empty_export_still_declares_everything(writer: Writer) -> None:
    """With no entries, the header alone is written (accounts and currencies) and 0 returned."""
    out = io.StringIO()
    assert writer(iter(()), SMALL_CHART, out, **_declared()) == 0
    text = out.getvalue()
    assert "Assets:Bank" in text
    assert "Income:Sales" in text
    assert "USD" in text


def test_balances_sum_each_account_and_currency_apart() -> None:
    """balances() sums lines per (account, currency), keeping pairs that net to zero."""
    entries = [
        _sale("a", "10.00"),
        _sale("b", "2.50"),
        _sale("c", "300", "JPY"),
        _entry("d", "USD", ("Income:Sales", "12.50"), ("Assets:Bank", "-12.50")),
    ]
    assert balances(entries) == {
        ("Assets:Bank", "USD"): Decimal("0.00"),
        ("Income:Sales", "USD"): Decimal("0.00"),
        ("Assets:Bank", "JPY"): Decimal(300),
        ("Income:Sales", "JPY"): Decimal(-300),
    }
