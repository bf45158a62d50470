"""Reading and writing the values Xero's JSON carries: money, quantities and dates.

Xero writes dates in the Microsoft JSON form ``/Date(1596585600000+0000)/`` with a
``DateString`` beside them, and reads ISO dates (``2020-08-05`` or ``2020-08-05T00:00:00``)
as well as its own form.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def decimal_of(value: Any) -> Decimal | None:
    """A finite Decimal from a JSON number or numeric string; None when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        return None
    return parsed if parsed.is_finite() else None


def cents(amount: Decimal) -> Decimal:
    """Rounded half up to the cent, as Xero rounds line and tax amounts."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def number(amount: Decimal) -> float:
    """A JSON number for an amount already rounded as Xero keeps it."""
    return float(amount)


def ms_date(moment: datetime) -> str:
    """Xero's JSON date form for an instant."""
    millis = int(moment.astimezone(UTC).timestamp() * 1000)
    return f"/Date({millis}+0000)/"


def day_json(day: date) -> str:
    """Xero's JSON date form for a calendar day (midnight UTC)."""
    return ms_date(datetime(day.year, day.month, day.day, tzinfo=UTC))


def day_string(day: date) -> str:
    """The ``DateString`` Xero writes beside a date."""
    return f"{day.isoformat()}T00:00:00"


def parse_day(value: Any) -> date | None:
    """The calendar day in an ISO date, ISO date-time or ``/Date(ms)/`` value; else None."""
    if not isinstance(value, str):
        return None
    found = _MS_DATE.match(value.strip())
    if found:
        return datetime.fromtimestamp(int(found.group(1)) / 1000, tz=UTC).date()
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None
