"""Postings: where each part of a sale, refund or payout lands, and that every entry balances.

Hand-worked examples are written as ledger text (account, amount, memo) so a reader can
check the arithmetic line by line.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given

from salesync.domain.documents import (
    Discount,
    LineKind,
    Location,
    Payment,
    Payout,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
)
from salesync.domain.journal import JournalEntry
from salesync.domain.money import Money, total
from salesync.domain.postings import DEFAULT_PLAN, journal_for

from .builders import BROOKLYN, clean_payout, clean_sale, ny_tax, refund_of_mug, usd
from .strategies import TENDERS, location_for, payouts, sales, sales_with_refund

LONDON = Location("shoreditch", "harbor", "Shoreditch", "Europe/London", "GBP")


def gbp(amount: str) -> Money:
    return Money(Decimal(amount), "GBP")


def ledger(entry: JournalEntry) -> str:
    """The entry as aligned text: one leg per line, amount then memo."""
    return "".join(
        f"{line.account:<38}{line.amount!s:>14}  {line.memo}".rstrip() + "\n"
        for line in entry.lines
    )


def text(block: str) -> str:
    return dedent(block).lstrip("\n")


def legs(entry: JournalEntry, account: str) -> Money:
    return total((ln.amount for ln in entry.lines if ln.account == account), entry.currency)


# --- hand-worked examples ----------------------------------------------------------------


def test_tax_exclusive_sale_credits_revenue_before_tax() -> None:
    """With tax added on top, revenue is the price and the tax is a separate liability."""
    # 2 tees at 28.00 = 56.00, less 10 % = 5.60 off, net 50.40.
    # New York tax on top: 50.40 x 0.08875 = 4.4730 -> 4.47.  Paid 50.40 + 4.47 = 54.87.
    line = SaleLine(
        "TEE-001",
        "Tee",
        "Apparel",
        Decimal(2),
        usd("28.00"),
        discounts=(Discount("10% off", usd("5.60")),),
        taxes=ny_tax("4.47"),
    )
    sale = clean_sale(lines=(line,), payments=(Payment("card", usd("54.87")),), declared_total=None)
    assert ledger(journal_for(sale, BROOKLYN)) == text(
        """
        Assets:Clearing:Card                       54.87 USD  card
        Income:Sales:Apparel                      -56.00 USD
        Income:Discounts                            5.60 USD
        Liabilities:Sales-Tax:NY-Sales-Tax         -4.47 USD
        """
    )


def test_tax_inclusive_sale_credits_revenue_net_of_the_tax_inside() -> None:
    """With VAT inside the price, revenue is the price less the VAT it contains."""
    # 2 tees at 24.00 = 48.00 VAT included, less 10 % = 4.80 off: 43.20 paid.
    # VAT inside 43.20 at 20 %: 43.20 x 0.20 / 1.20 = 7.20.
    # Revenue credited: 48.00 - 7.20 = 40.80, less the 4.80 discount = 36.00 = 43.20 - 7.20.
    line = SaleLine(
        "TEE-001",
        "Tee",
        "Apparel",
        Decimal(2),
        gbp("24.00"),
        discounts=(Discount("10% off", gbp("4.80")),),
        taxes=(TaxLine("VAT 20", Decimal("0.20"), gbp("7.20")),),
    )
    sale = clean_sale(
        location_id=LONDON.id,
        currency="GBP",
        tax_mode=TaxMode.INCLUSIVE,
        lines=(line,),
        payments=(Payment("card", gbp("43.20")),),
        declared_total=None,
    )
    entry = journal_for(sale, LONDON)
    assert ledger(entry) == text(
        """
        Assets:Clearing:Card                       43.20 GBP  card
        Income:Sales:Apparel                      -40.80 GBP
        Income:Discounts                            4.80 GBP
        Liabilities:Sales-Tax:VAT-20               -7.20 GBP
        """
    )
    net_revenue = -(legs(entry, "Income:Sales:Apparel") + legs(entry, "Income:Discounts"))
    assert net_revenue == gbp("36.00")


def test_shipping_tips_and_service_charges_post_to_their_own_accounts() -> None:
    """Shipping and service charges are income of their own; a tip is owed to staff."""
    # Clean sale 72.00 + 6.39 tax, plus shipping 5.00 (tax 0.44), tip 10.00: paid 93.83.
    sale = clean_sale(
        shipping=usd("5.00"),
        shipping_taxes=ny_tax("0.44"),
        tip=usd("10.00"),
        payments=(Payment("card", usd("93.83")),),
        declared_total=None,
    )
    entry = journal_for(sale, BROOKLYN)
    assert legs(entry, "Income:Shipping") == usd("-5.00")
    assert legs(entry, "Liabilities:Tips-Payable") == usd("-10.00")
    assert legs(entry, "Liabilities:Sales-Tax:NY-Sales-Tax") == usd("-6.83")


def test_declared_total_drift_is_booked_to_rounding() -> None:
    """A source total two cents above the lines books exactly those two cents to rounding."""
    sale = clean_sale(declared_total=usd("78.41"), payments=(Payment("cash", usd("78.41")),))
    entry = journal_for(sale, BROOKLYN)
    assert legs(entry, "Expenses:Rounding") == usd("-0.02")
    assert legs(entry, "Assets:Cash-Drawer") == usd("78.41")


def gift_card_line(value: str) -> SaleLine:
    return SaleLine(
        "GIFT", "Gift card", "Gift cards", Decimal(1), usd(value), kind=LineKind.GIFT_CARD
    )


def test_gift_card_sale_credits_the_gift_card_liability_not_income() -> None:
    """Selling a 50.00 gift card is money owed back in goods, so no income is booked."""
    sale = clean_sale(
        lines=(gift_card_line("50.00"),),
        payments=(Payment("cash", usd("50.00")),),
        declared_total=None,
    )
    assert ledger(journal_for(sale, BROOKLYN)) == text(
        """
        Assets:Cash-Drawer                         50.00 USD  cash
        Liabilities:Gift-Cards                    -50.00 USD  gift card sold
        """
    )


def test_taxed_gift_card_in_tax_inclusive_mode_books_its_tax_not_rounding() -> None:
    """When a source puts VAT on a gift card, the liability is the price less that VAT."""
    # 50.00 with 20 % VAT inside: VAT 8.33, liability 41.67; nothing goes to rounding.
    line = dataclasses.replace(
        gift_card_line("50.00"),
        unit_price=gbp("50.00"),
        taxes=(TaxLine("VAT 20", Decimal("0.20"), gbp("8.33")),),
    )
    sale = clean_sale(
        currency="GBP",
        tax_mode=TaxMode.INCLUSIVE,
        lines=(line,),
        payments=(Payment("card", gbp("50.00")),),
        declared_total=None,
    )
    assert ledger(journal_for(sale, LONDON)) == text(
        """
        Assets:Clearing:Card                       50.00 GBP  card
        Liabilities:Gift-Cards                    -41.67 GBP  gift card sold
        Liabilities:Sales-Tax:VAT-20               -8.33 GBP
        """
    )


def test_gift_card_redemption_debits_the_gift_card_liability() -> None:
    """Paying with a gift card uses up what is owed on it instead of bringing in cash."""
    sale = clean_sale(
        payments=(Payment("gift_card", usd("50.00")), Payment("card", usd("28.39"))),
    )
    entry = journal_for(sale, BROOKLYN)
    assert legs(entry, "Liabilities:Gift-Cards") == usd("50.00")
    assert legs(entry, "Assets:Clearing:Card") == usd("28.39")


@pytest.mark.parametrize(
    ("tender", "account"),
    [
        ("card", "Assets:Clearing:Card"),
        ("store_credit", "Liabilities:Store-Credit"),
        ("cash", "Assets:Cash-Drawer"),
        ("gift_card", "Liabilities:Gift-Cards"),
    ],
)
def test_refund_credits_the_account_of_the_tender_it_goes_to(tender: str, account: str) -> None:
    """A refund to store credit or cash credits that tender's account, not the card's."""
    refund = refund_of_mug(payments=(Payment(tender, usd("17.42")),))
    assert [(ln.account, ln.amount, ln.memo) for ln in journal_for(refund, BROOKLYN).lines] == [
        (account, usd("-17.42"), tender),
        ("Income:Returns", usd("16.00"), ""),
        ("Liabilities:Sales-Tax:NY-Sales-Tax", usd("1.42"), ""),
    ]


def test_refund_of_a_gift_card_debits_the_gift_card_liability() -> None:
    """Giving back an unused gift card cancels the liability rather than booking a return."""
    refund = refund_of_mug(
        lines=(RefundLine("GIFT", Decimal(1), usd("50.00"), kind=LineKind.GIFT_CARD),),
        payments=(Payment("cash", usd("50.00")),),
    )
    entry = journal_for(refund, BROOKLYN)
    assert legs(entry, "Liabilities:Gift-Cards") == usd("50.00")
    assert legs(entry, "Income:Returns") == usd("0.00")


def test_payout_moves_card_takings_to_the_bank_less_fees() -> None:
    """A 100.00 payout with 3.20 fees deposits 96.80 and empties the card clearing account."""
    assert ledger(journal_for(clean_payout(), BROOKLYN)) == text(
        """
        Assets:Bank                                96.80 USD  deposit
        Expenses:Payment-Fees                       3.20 USD  processing fees
        Assets:Clearing:Card                     -100.00 USD  settled
        """
    )


def test_payout_adjustment_has_its_own_leg() -> None:
    """A -10.00 chargeback adjustment is booked as an expense so the 86.80 deposit balances."""
    payout = clean_payout(adjustments=usd("-10.00"), net=usd("86.80"))
    entry = journal_for(payout, BROOKLYN)
    assert legs(entry, "Expenses:Payout-Adjustments") == usd("10.00")
    assert legs(entry, "Assets:Bank") == usd("86.80")


RETURNED_AT = datetime(2026, 3, 13, 9, 0, tzinfo=ZoneInfo("America/New_York"))


def test_a_failed_payout_leaves_its_deposit_with_the_processor() -> None:
    """A payout the bank refused deposits nothing: its 96.80 stays in the clearing account
    (the processor holds it again), while its fees and what it settled stand."""
    entry = journal_for(clean_payout(failed_at=RETURNED_AT), BROOKLYN)
    assert legs(entry, "Assets:Bank") == usd("0.00")
    assert legs(entry, "Expenses:Payment-Fees") == usd("3.20")
    assert legs(entry, "Assets:Clearing:Card") == usd("-3.20")
    assert balance(entry) == usd("0.00")


def test_money_paid_out_again_after_a_failure_leaves_the_clearing_account() -> None:
    """A later payout that pays out a failed one's 96.80 beside its own 100.00 gross
    deposits both and takes the 96.80 out of the clearing account, where the failure left it."""
    payout = clean_payout(returned=usd("96.80"), net=usd("193.60"))
    entry = journal_for(payout, BROOKLYN)
    assert legs(entry, "Assets:Bank") == usd("193.60")
    assert legs(entry, "Assets:Clearing:Card") == usd("-196.80")
    failed = journal_for(clean_payout(failed_at=RETURNED_AT), BROOKLYN)
    both = [*failed.lines, *entry.lines]
    card = total((ln.amount for ln in both if ln.account == "Assets:Clearing:Card"), "USD")
    # Two payouts settled 100.00 each of card takings; one deposit reached the bank.
    assert card == usd("-200.00")
    assert total((ln.amount for ln in both if ln.account == "Assets:Bank"), "USD") == usd("193.60")


def test_entry_is_dated_on_the_business_day_and_keyed_by_the_document() -> None:
    """A sale at 23:30 in New York is posted on that New York day, under a stable key."""
    late = datetime(2026, 3, 10, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    sale = clean_sale(occurred_at=late)
    entry = journal_for(sale, BROOKLYN)
    assert entry.date == date(2026, 3, 10)
    assert entry.key == "sale:pos:S-1001"
    assert entry.documents == (sale.id,)
    assert journal_for(sale, BROOKLYN) == entry
    keyed = journal_for(sale, BROOKLYN, key="order:pos:sale:S-1001")
    assert keyed.key == "order:pos:sale:S-1001"
    assert keyed.lines == entry.lines


def test_every_account_a_plan_names_is_valid() -> None:
    """The default plan's fixed accounts and derived ones are all valid account names."""
    chart = DEFAULT_PLAN.chart([DEFAULT_PLAN.income("Home ware"), DEFAULT_PLAN.tax("VAT 20")])
    assert "Income:Sales:Home-Ware" in chart
    assert "Liabilities:Sales-Tax:VAT-20" in chart
    assert DEFAULT_PLAN.tender("mobile wallet") == "Assets:Clearing:Mobile-Wallet"


# --- properties ----------------------------------------------------------------------------


def balance(entry: JournalEntry) -> Money:
    return total((ln.amount for ln in entry.lines), entry.currency)


def tender_legs(entry: JournalEntry) -> Money:
    """What the entry moves through tenders: the legs whose memo names a tender."""
    return total((ln.amount for ln in entry.lines if ln.memo in TENDERS), entry.currency)


@given(sales())
def test_every_sale_journal_balances_and_debits_what_was_paid(sale: Sale) -> None:
    """A valid sale's entry balances, tenders debit what was paid, rounding holds only drift."""
    entry = journal_for(sale, location_for(sale))
    assert balance(entry) == Money.zero(sale.currency)
    assert tender_legs(entry) == sale.paid
    assert legs(entry, "Expenses:Rounding") == sale.computed_total - sale.paid
    discounts = total((ln.discount_total for ln in sale.lines), sale.currency)
    rounding_debit = max(legs(entry, "Expenses:Rounding"), Money.zero(sale.currency))
    assert entry.debits == sale.paid + discounts + sale.order_discount_total + rounding_debit
    assert not any(ln.account == "Income:Sales:Gift-Cards" for ln in entry.lines)


@given(sales_with_refund())
def test_every_refund_journal_balances_and_credits_what_was_paid_back(
    pair: tuple[Sale, Refund],
) -> None:
    """A valid refund's entry balances; its tenders credit, and its debits equal, the refund."""
    _, refund = pair
    entry = journal_for(refund, location_for(refund))
    assert balance(entry) == Money.zero(refund.currency)
    assert tender_legs(entry) == -refund.paid
    assert entry.debits == refund.paid
    assert legs(entry, "Expenses:Rounding") == Money.zero(refund.currency)


@given(payouts())
def test_every_payout_journal_balances_and_deposits_the_net(payout: Payout) -> None:
    """A valid payout's entry balances, the bank gets the net and the clearing account the gross."""
    entry = journal_for(payout, location_for(payout))
    assert balance(entry) == Money.zero(payout.currency)
    assert legs(entry, "Assets:Bank") == payout.net
    assert legs(entry, "Assets:Clearing:Card") == -payout.gross
    assert legs(entry, "Expenses:Payment-Fees") == payout.fees
