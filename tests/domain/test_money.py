"""Money: ISO 4217 rounding, currency safety, minor units and exact allocation."""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesync.domain.money import CurrencyError, Money, minor_unit, total

from .strategies import amounts, currencies, quantum


@pytest.mark.parametrize(
    ("currency", "places"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3)]
)
def test_minor_unit_follows_iso_4217(currency: str, places: int) -> None:
    """The minor unit is the currency's ISO 4217 exponent."""
    assert minor_unit(currency) == places


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [
        ("USD", "1.005", "1.01"),
        ("USD", "1.004999", "1.00"),
        ("USD", "-1.005", "-1.01"),
        ("USD", "2.675", "2.68"),
        ("JPY", "2.5", "3"),
        ("JPY", "-2.5", "-3"),
        ("JPY", "1234.49", "1234"),
        ("KWD", "1.0005", "1.001"),
        ("KWD", "-0.0005", "-0.001"),
        ("KWD", "1.2344", "1.234"),
    ],
)
def test_rounding_is_half_away_from_zero_to_the_minor_unit(
    currency: str, amount: str, expected: str
) -> None:
    """rounded() keeps the currency's minor unit, halves going away from zero."""
    rounded = Money(Decimal(amount), currency).rounded()
    assert rounded.amount == Decimal(expected)
    assert rounded.amount.as_tuple().exponent == -minor_unit(currency)


def test_amount_keeps_its_precision_until_rounded() -> None:
    """A unit price may carry more decimals than the currency; only rounded() cuts them."""
    price = Money(Decimal("0.125"), "USD")
    assert price.amount == Decimal("0.125")
    assert not price.is_rounded()
    assert price.rounded().is_rounded()
    assert (price * 3).rounded() == Money(Decimal("0.38"), "USD")


@pytest.mark.parametrize(
    ("money", "minor"),
    [
        (Money(Decimal("12.34"), "USD"), 1234),
        (Money(Decimal("-0.01"), "USD"), -1),
        (Money(Decimal(1500), "JPY"), 1500),
        (Money(Decimal("1.234"), "KWD"), 1234),
        (Money(Decimal("0.0049"), "USD"), 0),
    ],
)
def test_to_minor_counts_minor_units_of_the_rounded_amount(money: Money, minor: int) -> None:
    """to_minor() is the rounded amount in cents, yen or fils, and from_minor() reverses it."""
    assert money.to_minor() == minor
    assert Money.from_minor(minor, money.currency) == money.rounded()


@pytest.mark.parametrize(
    "combine",
    [operator.add, operator.sub, operator.lt, operator.le, operator.gt, operator.ge],
)
def test_arithmetic_and_ordering_refuse_to_mix_currencies(
    combine: Callable[[Money, Money], object],
) -> None:
    """Adding, subtracting or ordering USD with EUR raises CurrencyError naming both."""
    with pytest.raises(CurrencyError, match="cannot mix USD and EUR"):
        combine(Money(Decimal(1), "USD"), Money(Decimal(1), "EUR"))


def test_total_refuses_to_mix_currencies() -> None:
    """Summing amounts in different currencies raises CurrencyError."""
    with pytest.raises(CurrencyError):
        total([Money(Decimal(1), "USD"), Money(Decimal(1), "GBP")], "USD")


def test_total_of_nothing_is_zero_in_the_currency() -> None:
    """An empty sum is zero in the requested currency."""
    assert total([], "JPY") == Money.zero("JPY")


def test_money_of_different_currencies_is_unequal_not_an_error() -> None:
    """Equality across currencies is simply False; only arithmetic refuses."""
    assert Money(Decimal(1), "USD") != Money(Decimal(1), "EUR")


@given(currencies, amounts(), amounts(3) | st.integers(-1000, 1000))
def test_times_rounded_is_the_product_rounded(
    currency: str, amount: Decimal, factor: Decimal | int
) -> None:
    """A line's price times its quantity, in one step, is exactly the product rounded."""
    price = Money(amount, currency)
    result = price.times_rounded(factor)
    assert result == (price * factor).rounded()
    assert result.amount.as_tuple().exponent == quantum(currency).as_tuple().exponent


@pytest.mark.parametrize(
    "build",
    [
        lambda: Money(1.5, "USD"),
        lambda: Money.of(0.1, "USD"),
        lambda: Money(Decimal(1), "USD") * 1.5,
        lambda: Money(Decimal(1), "USD").times_rounded(1.5),
        lambda: Money(Decimal(1), "USD").allocate([0.5, 0.5]),
    ],
    ids=["constructor", "of", "multiply", "times_rounded", "allocate"],
)
def test_floats_are_refused(build: Callable[[], object]) -> None:
    """Money never comes from a float, wherever the float comes in."""
    with pytest.raises(TypeError, match="float"):
        build()


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", "-inf"])
def test_non_numbers_and_non_finite_amounts_are_refused(value: str) -> None:
    """A string that is not a finite number is refused with the value in the message."""
    with pytest.raises(ValueError, match="is not a"):
        Money.of(value, "USD")


def test_bool_is_not_an_amount() -> None:
    """True is an int to Python but not an amount of money."""
    with pytest.raises(TypeError, match="bool"):
        Money.of(True, "USD")


@pytest.mark.parametrize(
    "combine",
    [
        lambda m: m + 1,
        lambda m: m * m,
        lambda m: m < Decimal(1),
    ],
    ids=["add-int", "money-times-money", "compare-decimal"],
)
def test_money_does_not_combine_with_non_money(combine: Callable[[Money], object]) -> None:
    """Money adds to and compares with money only, and money times money means nothing."""
    with pytest.raises(TypeError):
        combine(Money(Decimal(1), "USD"))


def test_unknown_currency_code_is_refused_clearly() -> None:
    """A code that is not ISO 4217 raises CurrencyError naming the code and an example."""
    with pytest.raises(
        CurrencyError, match=r"'ZZZ' is not an ISO 4217 currency code, such as 'USD'"
    ):
        Money(Decimal(1), "ZZZ")


def test_fund_or_metal_code_is_not_money() -> None:
    """Gold (XAU) has no minor unit, so it is refused as money."""
    with pytest.raises(CurrencyError, match="'XAU' has no minor unit"):
        Money(Decimal(1), "XAU")


def test_currency_code_is_normalised_to_upper_case() -> None:
    """A lower-case code is accepted and stored upper-case."""
    assert Money(Decimal(1), "usd") == Money(Decimal(1), "USD")


def test_comparisons_order_amounts_of_one_currency() -> None:
    """Money orders by amount; equal values are equal and hash alike whatever their precision."""
    a, b = Money(Decimal("9.99"), "USD"), Money(Decimal("10.00"), "USD")
    assert a < b
    assert a <= b
    assert b > a
    assert b >= a
    assert sorted([b, a]) == [a, b]
    assert Money(Decimal("10"), "USD") == Money(Decimal("10.000"), "USD")
    assert hash(Money(Decimal("10"), "USD")) == hash(Money(Decimal("10.000"), "USD"))
    assert Money(Decimal(10), "USD") != Decimal(10)
    assert not Money.zero("USD")
    assert Money(Decimal("0.01"), "USD")


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(Decimal("12.3"), "USD"), "12.30 USD"),
        (Money(Decimal("1500"), "JPY"), "1500 JPY"),
        (Money(Decimal("1.2345"), "KWD"), "1.235 KWD"),
        (Money(Decimal("-4.005"), "EUR"), "-4.01 EUR"),
    ],
)
def test_str_shows_the_rounded_amount_and_code(money: Money, text: str) -> None:
    """str() prints the rounded amount with the currency's places, then the code."""
    assert str(money) == text


@pytest.mark.parametrize(
    ("money", "weights", "parts"),
    [
        (Money(Decimal(100), "USD"), [1, 1, 1], ["33.34", "33.33", "33.33"]),
        (Money(Decimal(100), "JPY"), [1, 1, 1], ["34", "33", "33"]),
        (Money(Decimal("0.05"), "USD"), [1, 2], ["0.02", "0.03"]),
        (Money(Decimal("-0.10"), "USD"), [1, 1, 1], ["-0.03", "-0.03", "-0.04"]),
        (Money(Decimal("1.000"), "KWD"), [3, 0, 1], ["0.750", "0.000", "0.250"]),
    ],
)
def test_allocate_hands_out_remainders_to_the_largest_shares(
    money: Money, weights: list[int], parts: list[str]
) -> None:
    """allocate() splits by weight and gives leftover minor units to the largest fractions."""
    assert money.allocate(weights) == [Money(Decimal(p), money.currency) for p in parts]


@pytest.mark.parametrize(
    ("weights", "message"),
    [([], "at least one weight"), ([1, -1], "negative"), ([0, 0], "all be zero")],
)
def test_allocate_refuses_meaningless_weights(weights: list[int], message: str) -> None:
    """No weights, a negative weight or only zero weights are refused with the reason."""
    with pytest.raises(ValueError, match=message):
        Money(Decimal(10), "USD").allocate(weights)


@given(
    amounts(),
    currencies,
    st.lists(st.integers(0, 1000) | st.decimals("0", "1000", places=3), min_size=1, max_size=8),
)
def test_allocate_parts_always_sum_to_the_rounded_whole(
    amount: Decimal, currency: str, weights: list[int | Decimal]
) -> None:
    """The parts of allocate() are rounded, one per weight, and add up exactly to the whole."""
    if not any(weights):
        weights = [*weights[:-1], 1]
    money = Money(amount, currency)
    parts = money.allocate(weights)
    assert len(parts) == len(weights)
    assert all(p.is_rounded() and p.currency == money.currency for p in parts)
    assert total(parts, currency) == money.rounded()
    whole = Decimal(money.to_minor())
    weight_sum = sum(Decimal(w) for w in weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part.to_minor() - whole * Decimal(weight) / weight_sum) < 1


@given(amounts(), currencies)
def test_minor_units_round_trip(amount: Decimal, currency: str) -> None:
    """from_minor(to_minor(x)) is x rounded to its currency."""
    money = Money(amount, currency)
    assert Money.from_minor(money.to_minor(), currency) == money.rounded()


@given(amounts(), currencies)
def test_str_round_trips_to_the_rounded_amount(amount: Decimal, currency: str) -> None:
    """Parsing str(money) back gives the rounded money, in the same currency."""
    money = Money(amount, currency)
    text, code = str(money).split(" ")
    assert code == currency
    assert Money(Decimal(text), code) == money.rounded()


@given(amounts(), currencies)
def test_money_from_the_amount_as_text_is_equal(amount: Decimal, currency: str) -> None:
    """Money built from str(amount) equals money built from the Decimal, digit for digit."""
    money = Money(amount, currency)
    again = Money.of(str(amount), currency)
    assert again == money
    assert again.amount.as_tuple() == money.amount.as_tuple()


@given(amounts(), amounts(), currencies)
def test_addition_and_subtraction_are_exact(a: Decimal, b: Decimal, currency: str) -> None:
    """Sums and differences keep every digit: (a + b) - b == a, with no float drift."""
    x, y = Money(a, currency), Money(b, currency)
    assert (x + y) - y == x
    assert -x == Money(-a, currency)
    assert abs(x) >= Money.zero(currency)
    assert x.rounded().amount % quantum(currency) == 0
