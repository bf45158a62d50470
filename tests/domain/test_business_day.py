"""Business day: the calendar date of an instant in the location's time zone, DST included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from salesync.domain.documents import DocumentKind, Location, business_day, document_id

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        # 2026-03-08, clocks go from 02:00 EST (-5) to 03:00 EDT (-4): that day starts at
        # 05:00 UTC and ends at 04:00 UTC the next morning (a 23-hour day).
        ("2026-03-08T04:59:59", date(2026, 3, 7)),
        ("2026-03-08T05:00:00", date(2026, 3, 8)),
        ("2026-03-08T06:59:59", date(2026, 3, 8)),  # 01:59:59 EST
        ("2026-03-08T07:00:00", date(2026, 3, 8)),  # 03:00:00 EDT
        ("2026-03-09T03:59:59", date(2026, 3, 8)),  # 23:59:59 EDT
        ("2026-03-09T04:00:00", date(2026, 3, 9)),
        # 2026-11-01, clocks go from 02:00 EDT back to 01:00 EST: that day starts at 04:00
        # UTC and ends at 05:00 UTC the next morning (a 25-hour day).
        ("2026-11-01T03:59:59", date(2026, 10, 31)),
        ("2026-11-01T04:00:00", date(2026, 11, 1)),
        ("2026-11-01T05:30:00", date(2026, 11, 1)),  # 01:30 EDT, the first time round
        ("2026-11-01T06:30:00", date(2026, 11, 1)),  # 01:30 EST, the second time round
        ("2026-11-02T04:30:00", date(2026, 11, 1)),  # 23:30 EST
        ("2026-11-02T05:00:00", date(2026, 11, 2)),
    ],
)
def test_new_york_business_day_across_both_dst_changes(instant: str, day: date) -> None:
    """In New York the business day follows the local midnight as it moves with DST."""
    assert business_day(utc(instant), NEW_YORK) == day


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        # 2026-03-29, clocks go from 01:00 GMT to 02:00 BST: that day ends at 23:00 UTC.
        ("2026-03-29T00:30:00", date(2026, 3, 29)),  # 00:30 GMT
        ("2026-03-29T01:30:00", date(2026, 3, 29)),  # 02:30 BST
        ("2026-03-29T22:59:59", date(2026, 3, 29)),  # 23:59:59 BST
        ("2026-03-29T23:30:00", date(2026, 3, 30)),  # 00:30 BST, still the 29th in UTC
    ],
)
def test_london_business_day_across_the_spring_change(instant: str, day: date) -> None:
    """In London, after the clocks go forward, late-evening UTC is already tomorrow."""
    assert business_day(utc(instant), LONDON) == day


def test_late_evening_sale_belongs_to_the_local_day_not_the_utc_one() -> None:
    """A sale at 23:30 in New York is on that day, though in UTC it is 03:30 the next day."""
    sold = datetime(2026, 6, 15, 23, 30, tzinfo=NEW_YORK)
    assert sold.astimezone(UTC).date() == date(2026, 6, 16)
    assert business_day(sold, NEW_YORK) == date(2026, 6, 15)


def test_business_day_does_not_depend_on_the_offset_the_time_was_given_in() -> None:
    """The same instant written in UTC, in Tokyo or with a fixed offset has one business day."""
    sold = datetime(2026, 11, 1, 23, 30, tzinfo=NEW_YORK)
    for written in (
        sold.astimezone(UTC),
        sold.astimezone(ZoneInfo("Asia/Tokyo")),
        sold.astimezone(timezone(timedelta(hours=-5))),
    ):
        assert business_day(written, NEW_YORK) == date(2026, 11, 1)


def test_naive_time_has_no_business_day() -> None:
    """A time without a UTC offset is refused rather than guessed."""
    with pytest.raises(ValueError, match="naive times are ambiguous"):
        business_day(datetime(2026, 3, 8, 12, 0), NEW_YORK)  # noqa: DTZ001


def test_location_refuses_an_unknown_time_zone_or_currency() -> None:
    """A location's zone must be IANA and its currency ISO 4217, said in the error."""
    with pytest.raises(ValueError, match="'Eastern' is not an IANA time zone"):
        Location("x", "t", "X", "Eastern", "USD")
    with pytest.raises(ValueError, match="'DOL' is not an ISO 4217 currency code"):
        Location("x", "t", "X", "America/New_York", "DOL")


def test_document_id_is_stable_per_source_document() -> None:
    """The same source document always gets the same id; another kind or tenant does not."""
    first = document_id("harbor", "shopify", DocumentKind.SALE, "1001")
    assert document_id("harbor", "shopify", DocumentKind.SALE, "1001") == first
    assert document_id("harbor", "shopify", DocumentKind.REFUND, "1001") != first
    assert document_id("other", "shopify", DocumentKind.SALE, "1001") != first
