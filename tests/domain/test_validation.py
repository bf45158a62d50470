"""Validation: every problem in a sale, refund or payout, each with a code, words and a path."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given

from salesync.domain.documents import (
    Discount,
    Payment,
    Payout,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
)
from salesync.domain.money import Money
from salesync.domain.validation import (
    MAX_QUANTITY,
    Problem,
    validate_payout,
    validate_refund,
    validate_sale,
)

from .builders import (
    NOW,
    SOLD_AT,
    clean_payout,
    clean_sale,
    ny_tax,
    refund_of_mug,
    usd,
    with_line,
)
from .strategies import Broken, sales, sales_with_refund, unbalanced_sales


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


def the_problem(problems: list[Problem], code: str) -> Problem:
    """The one problem with ``code``; fails listing them all if there is not exactly one."""
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, problems
    return found[0]


def assert_plain(problem: Problem) -> None:
    """A merchant can read the message: words, no Python reprs, and a field path."""
    assert problem.message
    assert problem.path
    for repr_fragment in ("Decimal(", "Money(", "datetime.", "TaxLine("):
        assert repr_fragment not in problem.message
    assert str(problem) == f"{problem.path}: {problem.message}"


# --- sales -------------------------------------------------------------------------------


def test_clean_sale_has_no_problems() -> None:
    """A sale whose lines, tax, total and tenders agree validates to an empty list."""
    assert validate_sale(clean_sale(), now=NOW) == []


def test_split_tenders_that_cover_the_total_are_fine() -> None:
    """Cash plus card adding up to the total is as good as one card payment."""
    sale = clean_sale(payments=(Payment("cash", usd("20.00")), Payment("card", usd("58.39"))))
    assert validate_sale(sale) == []


SALE_CASES: list[tuple[str, Callable[[Sale], Sale], str, str]] = [
    ("tip in euros", lambda s: dataclasses.replace(s, tip=eur("5.00")), "currency_mismatch", "tip"),
    (
        "naive time",
        lambda s: dataclasses.replace(s, occurred_at=datetime(2026, 3, 10, 15)),  # noqa: DTZ001
        "naive_time",
        "occurred_at",
    ),
    (
        "last century",
        lambda s: dataclasses.replace(s, occurred_at=datetime(1999, 12, 31, tzinfo=UTC)),
        "date_too_old",
        "occurred_at",
    ),
    ("no lines", lambda s: dataclasses.replace(s, lines=()), "no_lines", "lines"),
    ("no payments", lambda s: dataclasses.replace(s, payments=()), "no_payments", "payments"),
    (
        "zero quantity",
        lambda s: with_line(s, 0, quantity=Decimal(0)),
        "quantity_out_of_range",
        "lines[0].quantity",
    ),
    (
        "absurd quantity",
        lambda s: with_line(s, 1, quantity=MAX_QUANTITY + 1),
        "quantity_out_of_range",
        "lines[1].quantity",
    ),
    (
        "negative price",
        lambda s: with_line(s, 1, unit_price=usd("-16.00")),
        "price_out_of_range",
        "lines[1].unit_price",
    ),
    (
        "discount above line",
        lambda s: with_line(s, 0, discounts=(Discount("staff", usd("60.00")),)),
        "discount_exceeds_line",
        "lines[0].discounts",
    ),
    (
        "rate as percent",
        lambda s: with_line(s, 0, taxes=(TaxLine("NY sales tax", Decimal("8.875"), usd("4.97")),)),
        "tax_rate_out_of_range",
        "lines[0].taxes[0].rate",
    ),
    (
        "negative tax",
        lambda s: with_line(s, 1, taxes=ny_tax("-1.42")),
        "negative_tax",
        "lines[1].taxes[0].amount",
    ),
    (
        "negative shipping",
        lambda s: dataclasses.replace(s, shipping=usd("-5.00")),
        "negative_amount",
        "shipping",
    ),
    (
        "order discount above subtotal",
        lambda s: dataclasses.replace(s, order_discounts=(Discount("oops", usd("80.00")),)),
        "discount_exceeds_subtotal",
        "order_discounts",
    ),
    (
        "zero payment",
        lambda s: dataclasses.replace(
            s, payments=(Payment("card", usd("78.39")), Payment("cash", usd("0.00")))
        ),
        "payment_not_positive",
        "payments[1]",
    ),
    (
        "declared total off",
        lambda s: dataclasses.replace(
            s, declared_total=usd("88.39"), payments=(Payment("card", usd("88.39")),)
        ),
        "total_mismatch",
        "declared_total",
    ),
    (
        "short payment",
        lambda s: dataclasses.replace(s, payments=(Payment("card", usd("70.00")),)),
        "tenders_do_not_cover_total",
        "payments",
    ),
]


@pytest.mark.parametrize(
    ("break_sale", "code", "path"),
    [case[1:] for case in SALE_CASES],
    ids=[case[0] for case in SALE_CASES],
)
def test_each_bad_sale_input_gives_its_code_message_and_path(
    break_sale: Callable[[Sale], Sale], code: str, path: str
) -> None:
    """Each kind of bad sale input is reported with its code, plain words and field path."""
    problem = the_problem(validate_sale(break_sale(clean_sale()), now=NOW), code)
    assert problem.path == path
    assert_plain(problem)


def test_every_problem_in_a_sale_is_reported_not_just_the_first() -> None:
    """A sale wrong in five unrelated ways gets five problems, one per fault."""
    sale = with_line(clean_sale(), 0, quantity=Decimal(0))
    sale = with_line(sale, 1, taxes=ny_tax("-1.42"))
    sale = dataclasses.replace(
        sale,
        occurred_at=NOW + timedelta(days=3),
        shipping=usd("-5.00"),
        payments=(Payment("card", usd("1.00")),),
        declared_total=None,
    )
    assert codes(validate_sale(sale, now=NOW)) == {
        "quantity_out_of_range",
        "negative_tax",
        "date_in_future",
        "negative_amount",
        "tenders_do_not_cover_total",
    }


def test_mixed_currencies_are_each_reported_with_both_codes() -> None:
    """Each amount in another currency is named by path, saying both currencies."""
    sale = with_line(clean_sale(), 1, unit_price=eur("16.00"))
    sale = dataclasses.replace(sale, payments=(Payment("card", eur("78.39")),))
    problems = validate_sale(sale)
    assert [(p.code, p.path) for p in problems] == [
        ("currency_mismatch", "lines[1].unit_price"),
        ("currency_mismatch", "payments[0].amount"),
    ]
    for problem in problems:
        assert "EUR" in problem.message
        assert "USD" in problem.message
        assert_plain(problem)


def test_tenders_short_of_the_total_are_reported_with_both_sums() -> None:
    """Payments adding up to less than the total say what was paid and what was owed."""
    sale = clean_sale(payments=(Payment("cash", usd("20.00")), Payment("card", usd("50.00"))))
    problem = the_problem(validate_sale(sale), "tenders_do_not_cover_total")
    assert "70.00 USD" in problem.message
    assert "78.39 USD" in problem.message


@pytest.mark.parametrize(
    ("declared", "problems"),
    [
        # Two lines and two taxes are five separately rounded parts: up to 0.05 is rounding.
        ("78.44", set()),
        ("78.34", set()),
        ("78.45", {"total_mismatch"}),
        ("78.33", {"total_mismatch"}),
    ],
)
def test_declared_total_may_drift_by_rounding_only(declared: str, problems: set[str]) -> None:
    """A declared total within one minor unit per rounded part passes; beyond it, it does not."""
    sale = clean_sale(declared_total=usd(declared), payments=(Payment("card", usd(declared)),))
    assert codes(validate_sale(sale)) == problems


def test_sale_with_naive_time_is_refused() -> None:
    """A time with no UTC offset cannot be placed on a business day."""
    sale = clean_sale(occurred_at=datetime(2026, 3, 10, 15))  # noqa: DTZ001
    problem = the_problem(validate_sale(sale, now=NOW), "naive_time")
    assert "time zone" in problem.message


@pytest.mark.parametrize(
    ("later", "problems"),
    [(timedelta(hours=12), set()), (timedelta(days=2), {"date_in_future"})],
)
def test_future_dates_are_refused_beyond_a_day_of_clock_slack(
    later: timedelta, problems: set[str]
) -> None:
    """With ``now`` given, a sale more than a day ahead of it is in the future."""
    sale = clean_sale(occurred_at=NOW + later)
    assert codes(validate_sale(sale, now=NOW)) == problems


def test_future_dates_are_not_judged_without_a_clock() -> None:
    """Without ``now`` validation has no clock, so it does not guess what the future is."""
    assert validate_sale(clean_sale(occurred_at=NOW + timedelta(days=400))) == []


@given(sales())
def test_generated_valid_sales_have_no_problems(sale: Sale) -> None:
    """Every sale the strategy builds (any tax mode, currency, discount and tender mix) is clean."""
    assert validate_sale(sale) == []


@given(unbalanced_sales())
def test_validation_catches_every_unbalanced_document_the_strategy_makes(broken: Broken) -> None:
    """A sale broken once (a tender, the declared total, one currency) reports that fault."""
    problems = validate_sale(broken.sale)
    assert (broken.code, broken.path) in {(p.code, p.path) for p in problems}


# --- refunds -----------------------------------------------------------------------------


def test_clean_refund_has_no_problems() -> None:
    """Returning the mug, with its tax, to the card is a valid refund."""
    assert validate_refund(refund_of_mug(), clean_sale(), now=NOW) == []


def test_refund_to_another_tender_is_fine() -> None:
    """A refund may go back as store credit instead of to the card that paid."""
    refund = refund_of_mug(payments=(Payment("store_credit", usd("17.42")),))
    assert validate_refund(refund, clean_sale()) == []


def tee_refund(external_id: str, quantity: str, amount: str, tax: str) -> Refund:
    lines = (RefundLine("TEE-001", Decimal(quantity), usd(amount), "Apparel", ny_tax(tax)),)
    paid = usd(amount) + usd(tax)
    return refund_of_mug(external_id, lines=lines, payments=(Payment("card", paid),))


REFUND_CASES: list[tuple[str, Callable[[Refund], Refund], str, str]] = [
    (
        "refund in euros",
        lambda r: dataclasses.replace(
            r,
            currency="EUR",
            lines=(RefundLine("MUG-005", Decimal(1), eur("16.00")),),
            payments=(Payment("card", eur("16.00")),),
        ),
        "currency_mismatch",
        "currency",
    ),
    (
        "payment in euros",
        lambda r: dataclasses.replace(r, payments=(Payment("card", eur("17.42")),)),
        "currency_mismatch",
        "payments[0].amount",
    ),
    ("other sale", lambda r: dataclasses.replace(r, sale_id="nope"), "wrong_sale", "sale_id"),
    (
        "before the sale",
        lambda r: dataclasses.replace(r, occurred_at=SOLD_AT - timedelta(hours=1)),
        "refund_before_sale",
        "occurred_at",
    ),
    (
        "naive time",
        lambda r: dataclasses.replace(r, occurred_at=datetime(2026, 3, 11, 11)),  # noqa: DTZ001
        "naive_time",
        "occurred_at",
    ),
    (
        "in the future",
        lambda r: dataclasses.replace(r, occurred_at=NOW + timedelta(days=5)),
        "date_in_future",
        "occurred_at",
    ),
    ("nothing refunded", lambda r: dataclasses.replace(r, lines=()), "no_lines", "lines"),
    (
        "negative line",
        lambda r: dataclasses.replace(
            r, lines=(RefundLine("MUG-005", Decimal(-1), usd("16.00"), taxes=ny_tax("1.42")),)
        ),
        "negative_refund_line",
        "lines[0]",
    ),
    (
        "sku not sold",
        lambda r: dataclasses.replace(
            r, lines=(RefundLine("HAT-999", Decimal(1), usd("16.00"), taxes=ny_tax("1.42")),)
        ),
        "sku_not_in_sale",
        "lines[0].sku",
    ),
    (
        "more tees than sold",
        lambda r: tee_refund("R-1", "3", "84.00", "7.46"),
        "quantity_exceeds_sale",
        "lines[0].quantity",
    ),
    (
        "more money than paid",
        lambda r: dataclasses.replace(
            r,
            lines=(RefundLine("MUG-005", Decimal(1), usd("100.00")),),
            payments=(Payment("card", usd("100.00")),),
        ),
        "refund_exceeds_sale",
        "lines",
    ),
    (
        "tender short",
        lambda r: dataclasses.replace(r, payments=(Payment("cash", usd("16.00")),)),
        "tenders_do_not_cover_total",
        "payments",
    ),
]


@pytest.mark.parametrize(
    ("break_refund", "code", "path"),
    [case[1:] for case in REFUND_CASES],
    ids=[case[0] for case in REFUND_CASES],
)
def test_each_bad_refund_input_gives_its_code_message_and_path(
    break_refund: Callable[[Refund], Refund], code: str, path: str
) -> None:
    """Each kind of bad refund is reported against its sale with code, words and path."""
    problem = the_problem(
        validate_refund(break_refund(refund_of_mug()), clean_sale(), now=NOW), code
    )
    assert problem.path == path
    assert_plain(problem)


def test_refund_quantity_counts_earlier_refunds() -> None:
    """One tee back, then another, is fine; a third tee of the two sold is too many."""
    sale = clean_sale()
    first = tee_refund("R-1", "1", "28.00", "2.49")
    second = tee_refund("R-2", "1", "28.00", "2.49")
    third = tee_refund("R-3", "1", "28.00", "2.49")
    assert validate_refund(first, sale) == []
    assert validate_refund(second, sale, [first]) == []
    problem = the_problem(validate_refund(third, sale, [first, second]), "quantity_exceeds_sale")
    assert "3 of SKU TEE-001 returned in all, but only 2 were sold" in problem.message


def test_refund_amount_counts_earlier_refunds() -> None:
    """A goodwill refund of 50.00 leaves 28.39 to give back, so a further 30.47 is too much."""
    sale = clean_sale()
    goodwill = tee_refund("R-1", "1", "50.00", "0.00")
    second = tee_refund("R-2", "1", "28.00", "2.47")
    assert validate_refund(second, sale) == []
    assert validate_refund(goodwill, sale) == []
    problem = the_problem(validate_refund(second, sale, [goodwill]), "refund_exceeds_sale")
    assert "30.47 USD" in problem.message
    assert "28.39 USD" in problem.message


def test_every_problem_in_a_refund_is_reported() -> None:
    """A refund of an unsold SKU, dated before the sale, short on tenders, shows all three."""
    refund = refund_of_mug(
        lines=(RefundLine("HAT-999", Decimal(1), usd("10.00")),),
        occurred_at=SOLD_AT - timedelta(days=1),
        payments=(Payment("cash", usd("5.00")),),
    )
    assert codes(validate_refund(refund, clean_sale())) == {
        "sku_not_in_sale",
        "refund_before_sale",
        "tenders_do_not_cover_total",
    }


@given(sales_with_refund())
def test_generated_refunds_of_generated_sales_have_no_problems(pair: tuple[Sale, Refund]) -> None:
    """Refunding any of a valid sale's lines at what they cost, to any tender, is valid."""
    sale, refund = pair
    assert validate_refund(refund, sale) == []


# --- payouts -----------------------------------------------------------------------------


def test_clean_payout_has_no_problems() -> None:
    """Gross less fees equal to the deposit, matching its transactions, is valid."""
    assert validate_payout(clean_payout(), now=NOW) == []


def test_payout_adjustments_count_toward_the_deposit() -> None:
    """A chargeback adjustment of -10.00 makes 100.00 - 3.20 - 10.00 = 86.80 balance."""
    payout = clean_payout(adjustments=usd("-10.00"), net=usd("86.80"))
    assert validate_payout(payout) == []


def test_money_paid_out_again_counts_toward_the_deposit() -> None:
    """A payout that pays out 50.00 of a failed one besides its own 96.80 deposits 146.80."""
    assert validate_payout(clean_payout(returned=usd("50.00"), net=usd("146.80"))) == []


PAYOUT_CASES: list[tuple[str, Callable[[Payout], Payout], str, str]] = [
    (
        "net a cent short",
        lambda p: dataclasses.replace(p, net=usd("96.79")),
        "payout_does_not_balance",
        "net",
    ),
    (
        "fees as a credit",
        lambda p: dataclasses.replace(p, fees=usd("-3.20"), net=usd("103.20"), transactions=()),
        "negative_fees",
        "fees",
    ),
    (
        "transactions disagree",
        lambda p: dataclasses.replace(p, transactions=p.transactions[:1]),
        "payout_transactions_mismatch",
        "transactions",
    ),
    (
        "failed before it was made",
        lambda p: dataclasses.replace(p, failed_at=p.occurred_at - timedelta(days=1)),
        "failed_before_payout",
        "failed_at",
    ),
    (
        "failed at a naive time",
        lambda p: dataclasses.replace(p, failed_at=datetime(2026, 3, 12, 9, 0)),  # noqa: DTZ001
        "naive_time",
        "failed_at",
    ),
    (
        "returned money as a debit",
        lambda p: dataclasses.replace(p, returned=usd("-5.00"), net=usd("91.80")),
        "negative_returned",
        "returned",
    ),
    (
        "returned money left out of the deposit",
        lambda p: dataclasses.replace(p, returned=usd("5.00")),
        "payout_does_not_balance",
        "net",
    ),
    (
        "returned money in euros",
        lambda p: dataclasses.replace(p, returned=eur("5.00"), net=usd("101.80")),
        "currency_mismatch",
        "returned",
    ),
    (
        "fees in euros",
        lambda p: dataclasses.replace(p, fees=eur("3.20")),
        "currency_mismatch",
        "fees",
    ),
    (
        "naive time",
        lambda p: dataclasses.replace(p, occurred_at=datetime(2026, 3, 11, 6, 30)),  # noqa: DTZ001
        "naive_time",
        "occurred_at",
    ),
]


@pytest.mark.parametrize(
    ("break_payout", "code", "path"),
    [case[1:] for case in PAYOUT_CASES],
    ids=[case[0] for case in PAYOUT_CASES],
)
def test_each_bad_payout_gives_its_code_message_and_path(
    break_payout: Callable[[Payout], Payout], code: str, path: str
) -> None:
    """Each kind of bad payout is reported with its code, plain words and field path."""
    problem = the_problem(validate_payout(break_payout(clean_payout()), now=NOW), code)
    assert problem.path == path
    assert_plain(problem)


def test_unbalanced_payout_message_shows_the_arithmetic() -> None:
    """The imbalance message spells out gross, fees, adjustments and the deposit."""
    problem = the_problem(
        validate_payout(clean_payout(net=usd("96.79"))), "payout_does_not_balance"
    )
    assert problem.message == (
        "gross 100.00 USD - fees 3.20 USD + adjustments 0.00 USD is not the deposit of 96.79 USD"
    )


def test_every_problem_in_a_payout_is_reported_even_with_a_bad_date() -> None:
    """A future-dated payout that does not balance reports both, not only the date."""
    payout = clean_payout(occurred_at=NOW + timedelta(days=3), net=usd("90.00"))
    assert codes(validate_payout(payout, now=NOW)) == {"date_in_future", "payout_does_not_balance"}


def test_payout_with_naive_time_still_reports_its_imbalance() -> None:
    """A naive payout time and a wrong net are two problems, both reported."""
    payout = clean_payout(occurred_at=datetime(2026, 3, 11, 6, 30), net=usd("90.00"))  # noqa: DTZ001
    assert codes(validate_payout(payout)) == {"naive_time", "payout_does_not_balance"}


def test_sale_in_a_zero_decimal_currency_validates_in_yen() -> None:
    """A yen sale rounds to whole yen: 3 x 1,650 yen with 10 % tax inside is 4,950 paid."""
    line = SaleLine(
        "BEAN-007",
        "Beans",
        "Coffee",
        Decimal(3),
        Money(Decimal(1650), "JPY"),
        taxes=(TaxLine("Consumption tax", Decimal("0.10"), Money(Decimal(450), "JPY")),),
    )
    sale = clean_sale(
        currency="JPY",
        tax_mode=TaxMode.INCLUSIVE,
        lines=(line,),
        payments=(Payment("cash", Money(Decimal(4950), "JPY")),),
        declared_total=None,
    )
    assert validate_sale(sale) == []
    short = dataclasses.replace(sale, payments=(Payment("cash", Money(Decimal(4949), "JPY")),))
    assert codes(validate_sale(short)) == {"tenders_do_not_cover_total"}
