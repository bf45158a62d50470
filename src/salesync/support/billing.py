"""What a tenant owes: invoice lines for billing periods, upgrades and extra developer time,
computed from the plans in force and the days each location was active. Pure: no I/O.

The billing model:

- **Days, not instants.** Everything is counted in whole local days of the catalog's time
  zone. A location active for any part of a day is billed for that day; a day is billed at
  the plan in force at its end, so a plan changed at noon bills that whole day at the new
  plan and the old plan stops the day before.
- **Monthly plans are billed in arrears**, once a billing period (a month counted from the
  subscription's anchor day) has ended. Each location is billed
  ``location_price * days active at that plan / days in the period`` and the account
  ``base_price * days the plan was in force / days in the period``. A plan changed during
  the period gives separate lines for the days before and after the change.
- **Annual plans are billed in advance** at the start of each subscription year:
  ``base_price * 12`` plus ``location_price * 12`` for each location active at that start.
  A location added mid-year is billed ``location_price * 12 * days left in the year /
  days in the year`` as an adjustment line on the invoice of the month it was added. A
  location removed mid-year is not refunded: the year was paid ahead, and it stays billed
  through the renewal (reactivating it within the same year costs nothing again).
- **Upgrades are billed at once for the rest of the term.** Moving onto an annual plan
  mid-year bills ``term_price * days left until the renewal / days in the year``, the
  change day included, and keeps the anniversary; the monthly plan's days before the
  change stay on that month's arrears invoice. Leaving an annual plan for a higher annual
  plan credits the unused part of the old one on the same invoice. A move between monthly
  plans needs no invoice of its own: the period invoice splits the days.
- **Downgrades off an annual plan wait for the renewal**, as does any move from an annual
  plan to a monthly one; a downgrade between monthly plans applies at once.
- **Extra developer time** is billed when bought: blocks * the plan's extra_time_price.
- **Rounding.** Each line is rounded half up to the currency's minor unit; an invoice's
  total is the sum of its lines. A line's quantity is the fraction of its term it covers
  (four decimals, for reading) or a count; the amount is computed from the exact days.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from salesync.domain.money import Money, total
from salesync.support.periods import Period, days_active, local_day, midnight
from salesync.support.plans import Plan, Term

Kind = Literal["period", "upgrade", "extra_time"]


class BillingError(ValueError):
    """A bill or plan change that cannot be made; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    description: str
    quantity: Decimal
    unit_price: Money
    amount: Money


@dataclass(frozen=True, slots=True)
class Invoice:
    id: int
    tenant_id: str
    number: str
    kind: Kind
    key: str
    """Unique for the tenant and kind: the period's days, the plan change, the purchase."""
    plan: str
    """The code of the plan billed (the one in force at the end of the period)."""
    period_start: datetime
    period_end: datetime
    total: Money
    issued_at: datetime
    lines: tuple[InvoiceLine, ...]


@dataclass(frozen=True, slots=True)
class Quote:
    """What moving to ``plan`` now costs for ``period`` (from today to the end of its term).

    For an annual plan it is invoiced at once; for a monthly plan it is what the rest of
    the current billing period will cost on it, billed with that period's invoice."""

    plan: Plan
    period: Period
    lines: tuple[InvoiceLine, ...]
    total: Money


@dataclass(frozen=True, slots=True)
class PlanSpan:
    """``plan`` in force from ``since`` until ``until`` (None: still in force)."""

    plan: Plan
    since: datetime
    until: datetime | None


@dataclass(frozen=True, slots=True)
class LocationActivity:
    """When one location was active (billed): ``since`` inclusive to ``until`` exclusive."""

    id: str
    name: str
    intervals: tuple[tuple[datetime, datetime | None], ...]

    def active_at(self, at: datetime) -> bool:
        return any(since <= at and (until is None or at < until) for since, until in self.intervals)


def prorate(price: Decimal, days: int, of_days: int, currency: str) -> Money:
    """``price`` for ``days`` of ``of_days``, rounded half up to the minor unit."""
    if of_days <= 0 or not 0 <= days <= of_days:
        raise ValueError(f"cannot prorate {days} of {of_days} days")
    return Money(price * days / of_days, currency).rounded()


def period_key(period: Period) -> str:
    """A period invoice's key: the first and last day it bills."""
    return f"{period.first_day.isoformat()}..{period.last_day.isoformat()}"


def invoice_number(tenant_id: str, month: date, sequence: int) -> str:
    """A human-readable invoice number, unique per tenant and sequence: ``acme-202612-0001``.
    A long tenant id is shortened with a digest so the number fits its column."""
    prefix = tenant_id
    if len(prefix) > 40:
        prefix = f"{tenant_id[:31]}~{hashlib.sha256(tenant_id.encode()).hexdigest()[:8]}"
    return f"{prefix}-{month:%Y%m}-{sequence:04d}"


def invoice_total(lines: Iterable[InvoiceLine], currency: str) -> Money:
    return total((line.amount for line in lines), currency)


def arrears_lines(
    period: Period,
    spans: Sequence[PlanSpan],
    *,
    locations: Sequence[LocationActivity],
    zone: ZoneInfo,
    currency: str,
) -> list[InvoiceLine]:
    """The lines of a monthly billing period billed in arrears: for each monthly plan in
    force during ``period``, its base price and each location's days at that plan."""
    lines: list[InvoiceLine] = []
    for span, days in plan_days(period, spans, zone):
        if span.plan.term is not Term.MONTHLY:
            continue
        plan = span.plan
        if plan.base_price:
            description = f"{plan.name} base"
            first, last = days.first_day, days.last_day
            lines.append(
                _prorated(
                    description,
                    plan.base_price,
                    period,
                    days=days.days,
                    first=first,
                    last=last,
                    currency=currency,
                )
            )
        if not plan.location_price:
            continue
        for location in locations:
            active = days_active(days, list(location.intervals), zone)
            if active:
                first, last = _active_range(days, location.intervals, zone)
                description = f"{plan.name}, {location.name}"
                lines.append(
                    _prorated(
                        description,
                        plan.location_price,
                        period,
                        days=active,
                        first=first,
                        last=last,
                        currency=currency,
                    )
                )
    return lines


def plan_days(
    period: Period, spans: Sequence[PlanSpan], zone: ZoneInfo
) -> list[tuple[PlanSpan, Period]]:
    """The days of ``period`` each plan was in force (the plan at the end of a day bills it),
    as sub-periods; plans in force for no whole day are left out."""
    found = []
    for span in spans:
        first = max(local_day(span.since, zone), period.first_day)
        end = local_day(span.until, zone) if span.until is not None else None
        last = min(end - timedelta(days=1), period.last_day) if end else period.last_day
        if first <= last:
            found.append((span, _days(first, last, zone)))
    return found


def term_lines(
    plan: Plan,
    term: Period,
    since: date,
    *,
    locations: Sequence[LocationActivity],
    currency: str,
    base: bool = True,
    credit: bool = False,
) -> list[InvoiceLine]:
    """``plan`` from local day ``since`` to the end of ``term`` (a year on an annual plan, a
    month on a monthly one), prorated by the days left; negated as a credit for the unused
    part of a plan being left."""
    months = plan.term.months
    label = f"Unused {plan.name}" if credit else plan.name
    prices = [(f"{label} base", plan.base_price)] if base and plan.base_price else []
    if plan.location_price:
        prices += [(f"{label}, {loc.name}", plan.location_price) for loc in locations]
    days = (term.last_day - since).days + 1
    lines = []
    for description, price in prices:
        line = _prorated(
            description,
            price * months,
            term,
            days=days,
            first=since,
            last=term.last_day,
            currency=currency,
        )
        lines.append(_negated(line) if credit else line)
    return lines


def adjustment_lines(
    month: Period,
    year: Period,
    span: PlanSpan,
    *,
    locations: Sequence[LocationActivity],
    zone: ZoneInfo,
    currency: str,
) -> list[InvoiceLine]:
    """The locations that became active during ``month`` under the annual plan of ``span``
    without having been billed for ``year`` yet, each for the days left in the year."""
    billed_at = max(year.start, span.since)
    end = year.end if span.until is None else min(year.end, span.until)
    lines: list[InvoiceLine] = []
    for location in locations:
        if location.active_at(billed_at):
            continue
        added = sorted(since for since, _ in location.intervals if billed_at < since < end)
        if added and month.contains(added[0]):
            day = local_day(added[0], zone)
            lines += term_lines(
                span.plan, year, day, locations=[location], currency=currency, base=False
            )
    return lines


def upgrade_quote(
    current: Plan,
    target: Plan,
    term: Period,
    at: datetime,
    *,
    locations: Sequence[LocationActivity],
    zone: ZoneInfo,
    currency: str,
) -> Quote:
    """The price of moving from ``current`` to ``target`` at ``at`` for the rest of ``term``,
    the locations active at ``at`` included, the unused part of an annual plan credited."""
    day = local_day(at, zone)
    active = [loc for loc in locations if loc.active_at(at)]
    lines = term_lines(target, term, day, locations=active, currency=currency)
    if current.term is Term.ANNUAL and target.term is Term.ANNUAL:
        lines += term_lines(current, term, day, locations=active, currency=currency, credit=True)
    period = Period(midnight(day, zone), term.end, day, term.last_day)
    return Quote(target, period, tuple(lines), invoice_total(lines, currency))


def check_plan_change(current: Plan, target: Plan, year: Period, at: datetime) -> None:
    """Refuse to leave an annual plan before its renewal, except for a higher annual plan."""
    if current.term is not Term.ANNUAL or at == year.start:
        return
    if target.term is Term.ANNUAL and target.rank > current.rank:
        return
    renewal = year.last_day + timedelta(days=1)
    change = "a downgrade" if target.rank < current.rank else f"a move to {target.name}"
    raise BillingError(
        f"{current.name} is paid for the year until the renewal on {_long(renewal)}; "
        f"{change} takes effect only then: make the change at the renewal"
    )


def extra_time_line(plan: Plan, blocks: int, currency: str) -> InvoiceLine:
    """``blocks`` of extra developer time at ``plan``'s price."""
    if plan.extra_time_price is None:
        raise BillingError(
            f"extra developer time cannot be bought on {plan.name}; "
            "it is sold on plans with metered developer hours"
        )
    if blocks < 1:
        raise BillingError(f"extra developer time is bought in whole blocks, not {blocks}")
    unit = Money(plan.extra_time_price, currency).rounded()
    return InvoiceLine(
        f"Extra developer time: {blocks} × {_duration(plan.extra_time_block)}",
        Decimal(blocks),
        unit,
        unit * blocks,
    )


def _prorated(
    description: str,
    price: Decimal,
    term: Period,
    *,
    days: int,
    first: date,
    last: date,
    currency: str,
) -> InvoiceLine:
    """``price`` for a whole ``term``, billed for ``days`` of it (``first`` to ``last``)."""
    if days == term.days:
        quantity = Decimal(1)
        text = f"{description}, {_span(first, last)}"
    else:
        quantity = (Decimal(days) / term.days).quantize(Decimal("0.0001")).normalize()
        text = f"{description}, {_span(first, last)} ({days} of {term.days} days)"
    unit = Money(price, currency).rounded()
    return InvoiceLine(text, quantity, unit, prorate(price, days, term.days, currency))


def _active_range(
    days: Period, intervals: Iterable[tuple[datetime, datetime | None]], zone: ZoneInfo
) -> tuple[date, date]:
    """The first and last local day of ``days`` on which any of ``intervals`` was active."""
    ranges = []
    for since, until in intervals:
        first = max(local_day(since, zone), days.first_day)
        end = until - timedelta(microseconds=1) if until is not None else days.end
        last = min(local_day(end, zone), days.last_day)
        if first <= last and (until is None or since < until):
            ranges.append((first, last))
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


def _negated(line: InvoiceLine) -> InvoiceLine:
    return InvoiceLine(line.description, -line.quantity, line.unit_price, -line.amount)


def _days(first: date, last: date, zone: ZoneInfo) -> Period:
    following = last + timedelta(days=1)
    return Period(midnight(first, zone), midnight(following, zone), first, last)


def _span(first: date, last: date) -> str:
    return _long(first) if first == last else f"{_long(first)} to {_long(last)}"


def _long(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _duration(block: timedelta) -> str:
    minutes = int(block.total_seconds() // 60)
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return "1 hour" if hours == 1 else f"{hours} hours"
