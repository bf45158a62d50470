"""Money as a Decimal amount with an ISO 4217 currency, rounded by the currency's minor unit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from iso4217 import Currency


class CurrencyError(ValueError):
    """An unknown currency code, or two currencies mixed in one operation."""


@cache
def minor_unit(currency: str) -> int:
    """Return the number of decimal places of ``currency``'s minor unit (USD 2, JPY 0, KWD 3)."""
    try:
        exponent = Currency(currency).exponent
    except ValueError:
        raise CurrencyError(
            f"{currency!r} is not an ISO 4217 currency code, such as 'USD'"
        ) from None
    if exponent is None:
        raise CurrencyError(f"{currency!r} has no minor unit (a fund or metal code), not money")
    return int(exponent)


@cache
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


_KNOWN: set[str] = set()
"""Currency codes already checked by ``minor_unit``, in upper case: money is built hundreds
of times per order, and a set lookup is what checking a known code should cost."""


def _as_decimal(value: Decimal | int | str) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money never comes from a float; pass a Decimal, int or str")
    if isinstance(value, bool):
        raise TypeError("a bool is not an amount")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    return amount


_ZEROS: dict[str, Money] = {}
"""Zero in each currency asked for: money is immutable, so one zero serves every sum."""


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in one currency. Arithmetic refuses to mix currencies.

    The amount keeps whatever precision it was given (a unit price may carry more decimals
    than the currency); ``rounded()`` brings it to the currency's minor unit.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        amount = self.amount
        if type(amount) is not Decimal or not amount.is_finite():
            object.__setattr__(self, "amount", _as_decimal(amount))
        code = self.currency
        if code not in _KNOWN:
            code = code.upper() if isinstance(code, str) else code
            minor_unit(code)
            _KNOWN.add(code)
            object.__setattr__(self, "currency", code)

    @classmethod
    def _checked(cls, amount: Decimal, currency: str) -> Money:
        """Money from parts that are valid already (the result of arithmetic on money):
        the checks of ``__post_init__`` would only repeat what made the operands."""
        money = object.__new__(cls)
        object.__setattr__(money, "amount", amount)
        object.__setattr__(money, "currency", currency)
        return money

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """Build money from a Decimal, int or numeric string (never a float)."""
        return cls(_as_decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        known = _ZEROS.get(currency)
        if known is None:
            known = _ZEROS[currency] = cls(Decimal(0), currency)
        return known

    @classmethod
    def from_minor(cls, units: int, currency: str) -> Money:
        """Build money from an integer count of minor units (cents for USD, yen for JPY)."""
        return cls(Decimal(units).scaleb(-minor_unit(currency)), currency)

    def to_minor(self) -> int:
        """Return the rounded amount as an integer count of minor units."""
        return int(self.rounded().amount.scaleb(minor_unit(self.currency)))

    def rounded(self) -> Money:
        """Round half away from zero to the currency's minor unit."""
        return Money._checked(
            self.amount.quantize(_quantum(self.currency), ROUND_HALF_UP), self.currency
        )

    def times_rounded(self, factor: Decimal | int) -> Money:
        """``(self * factor).rounded()`` in one step: a line's price times its quantity."""
        if type(factor) is not Decimal:
            factor = _as_decimal(factor)
        amount = (self.amount * factor).quantize(_quantum(self.currency), ROUND_HALF_UP)
        return Money._checked(amount, self.currency)

    def is_rounded(self) -> bool:
        return self.amount == self.rounded().amount

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyError(f"cannot mix {self.currency} and {other.currency} in one amount")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money._checked(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money._checked(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money._checked(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money._checked(abs(self.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, Money):
            raise TypeError("money times money has no meaning")
        return Money._checked(self.amount * _as_decimal(factor), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def __bool__(self) -> bool:
        return bool(self.amount)

    def __str__(self) -> str:
        return f"{self.rounded().amount:.{minor_unit(self.currency)}f} {self.currency}"

    def allocate(self, weights: Sequence[Decimal | int]) -> list[Money]:
        """Split the rounded amount by ``weights`` so the parts add up exactly.

        Remainders go one minor unit at a time to the largest fractional shares, so a
        discount spread over lines never loses or invents a cent.
        """
        if not weights:
            raise ValueError("allocate needs at least one weight")
        ws = [_as_decimal(w) for w in weights]
        if any(w < 0 for w in ws):
            raise ValueError("allocation weights must not be negative")
        total_weight = sum(ws, Decimal(0))
        total = self.to_minor()
        if total_weight == 0:
            raise ValueError("allocation weights must not all be zero")
        exact = [Decimal(total) * w / total_weight for w in ws]
        parts = [int(e.to_integral_value(rounding="ROUND_FLOOR")) for e in exact]
        remainder = total - sum(parts)
        order = sorted(range(len(ws)), key=lambda i: (exact[i] - parts[i], -i), reverse=True)
        for i in order[:remainder]:
            parts[i] += 1
        return [Money.from_minor(p, self.currency) for p in parts]


def total(amounts: Iterable[Money], currency: str) -> Money:
    """Sum ``amounts``; an empty iterable gives zero in ``currency``."""
    result = Money.zero(currency)
    code, summed = result.currency, result.amount
    for amount in amounts:
        if type(amount) is not Money or amount.currency != code:
            result._same(amount)
        summed += amount.amount
    return Money._checked(summed, code)
