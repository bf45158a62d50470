"""Journal entries: only balanced, single-currency, rounded entries on valid accounts exist."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from salesync.domain.journal import (
    AccountType,
    ChartOfAccounts,
    JournalEntry,
    JournalLine,
    UnbalancedEntryError,
    account_component,
    account_type,
    check_account_name,
    compact,
)
from salesync.domain.money import Money


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def entry(*lines: JournalLine) -> JournalEntry:
    return JournalEntry("sale:pos:S-1", "harbor", "brooklyn", date(2026, 3, 10), "Sale", lines)


def test_balanced_entry_is_accepted() -> None:
    """Debits equal to credits in one currency make an entry, whose debits are the total."""
    made = entry(
        JournalLine("Assets:Cash-Drawer", usd("10.89")),
        JournalLine("Income:Sales:Apparel", usd("-10.00")),
        JournalLine("Liabilities:Sales-Tax:NY", usd("-0.89")),
    )
    assert made.currency == "USD"
    assert made.debits == usd("10.89")


def test_unbalanced_entry_is_refused_with_the_difference() -> None:
    """An entry whose legs do not sum to zero is refused, saying by how much."""
    with pytest.raises(
        UnbalancedEntryError, match=r"entry sale:pos:S-1 is off balance by 0.01 USD"
    ):
        entry(
            JournalLine("Assets:Cash-Drawer", usd("10.90")),
            JournalLine("Income:Sales:Apparel", usd("-10.89")),
        )


def test_entry_with_one_line_is_refused() -> None:
    """A single leg cannot be double entry."""
    with pytest.raises(UnbalancedEntryError, match="at least two lines"):
        entry(JournalLine("Assets:Cash-Drawer", usd("0.00")))


def test_entry_mixing_currencies_is_refused() -> None:
    """Legs in USD and EUR cannot share an entry, even if the numbers cancel."""
    with pytest.raises(UnbalancedEntryError, match=r"mixes currencies \['EUR', 'USD'\]"):
        entry(
            JournalLine("Assets:Cash-Drawer", usd("10.00")),
            JournalLine("Income:Sales:Apparel", Money(Decimal("-10.00"), "EUR")),
        )


def test_entry_with_unrounded_amount_is_refused() -> None:
    """A leg with fractions of a cent is refused, naming the account and the amount."""
    with pytest.raises(
        UnbalancedEntryError,
        match=r"Assets:Cash-Drawer amount 10.005 is not rounded to the currency's minor unit",
    ):
        entry(
            JournalLine("Assets:Cash-Drawer", usd("10.005")),
            JournalLine("Income:Sales:Apparel", usd("-10.005")),
        )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Revenue:Sales", r"must start with one of Assets, Liabilities, Equity, Income, Expenses"),
        ("assets:bank", r"must start with one of"),
        ("Assets", r"needs at least two parts, such as 'Assets:Bank'"),
        ("Assets:bank", r"part 'bank' must start with a capital letter or digit"),
        ("Assets::Bank", r"part '' must start"),
        ("Income:Sales:Home ware", r"part 'Home ware' .* only letters, digits and '-'"),
    ],
)
def test_bad_account_names_are_refused_saying_what_to_change(name: str, message: str) -> None:
    """Account names follow Beancount's shape; a bad one is refused with the fix in words."""
    with pytest.raises(ValueError, match=message):
        check_account_name(name)
    with pytest.raises(ValueError, match=message):
        entry(JournalLine(name, usd("1.00")), JournalLine("Assets:Bank", usd("-1.00")))


@pytest.mark.parametrize(
    "name", ["Assets:Bank", "Income:Sales:T-Shirts", "Liabilities:Sales-Tax:VAT-20", "Assets:2026"]
)
def test_good_account_names_pass(name: str) -> None:
    """Capitalised or numeric parts of letters, digits and dashes are valid account names."""
    assert check_account_name(name) == name


@pytest.mark.parametrize(
    ("name", "kind", "normal_debit"),
    [
        ("Assets:Bank", AccountType.ASSETS, True),
        ("Expenses:Payment-Fees", AccountType.EXPENSES, True),
        ("Income:Sales:Apparel", AccountType.INCOME, False),
        ("Liabilities:Gift-Cards", AccountType.LIABILITIES, False),
        ("Equity:Opening-Balances", AccountType.EQUITY, False),
    ],
)
def test_account_type_is_the_root_and_decides_the_normal_side(
    name: str, kind: AccountType, normal_debit: bool
) -> None:
    """The first part names the type; assets and expenses grow with debits."""
    assert account_type(name) is kind
    assert kind.normal_debit is normal_debit


@pytest.mark.parametrize(
    ("text", "component"),
    [
        ("NY sales tax", "NY-Sales-Tax"),
        ("Gift cards", "Gift-Cards"),
        ("home & garden", "Home-Garden"),
        ("VAT 20", "VAT-20"),
        ("!!!", "Other"),
    ],
)
def test_free_text_becomes_a_valid_account_part(text: str, component: str) -> None:
    """Categories and tax names turn into one valid account name part."""
    assert account_component(text) == component
    check_account_name(f"Income:{component}")


def test_compact_merges_same_account_and_memo_and_drops_zeros() -> None:
    """Legs on one account with one memo merge, in first-seen order; zero legs vanish."""
    merged = compact(
        [
            JournalLine("Assets:Clearing:Card", usd("5.00"), "card"),
            JournalLine("Income:Discounts", usd("1.00")),
            JournalLine("Assets:Clearing:Card", usd("3.00"), "card"),
            JournalLine("Expenses:Rounding", usd("0.00"), "rounding"),
            JournalLine("Income:Discounts", usd("2.00")),
        ]
    )
    assert merged == (
        JournalLine("Assets:Clearing:Card", usd("8.00"), "card"),
        JournalLine("Income:Discounts", usd("3.00")),
    )


def test_chart_refuses_duplicate_accounts_and_adds_new_ones_once() -> None:
    """A chart lists each account once; with_accounts() appends only what is new."""
    chart = ChartOfAccounts(()).with_accounts(["Assets:Bank", "Income:Sales", "Assets:Bank"])
    assert [a.name for a in chart] == ["Assets:Bank", "Income:Sales"]
    assert "Assets:Bank" in chart
    assert chart.with_accounts(["Assets:Bank"]) is chart
    with pytest.raises(ValueError, match="accounts listed twice: Assets:Bank"):
        ChartOfAccounts((*chart.accounts, chart.accounts[0]))
