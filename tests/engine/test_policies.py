"""Sync policies: windows in each location's own time, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.planning import PostingMode
from salesync.domain.simulate import DemoMerchant
from salesync.engine.planner import Planner
from salesync.engine.policies import (
    REALTIME,
    SCHEDULED,
    SyncMode,
    SyncPolicy,
    day_close,
    default_policy,
    next_window,
)

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_sales_wait_for_the_next_local_window() -> None:
    """A sale at 07:00 New York time waits for 18:00 New York time, not UTC."""
    received = datetime(2026, 10, 5, 7, 0, tzinfo=NY)
    assert SCHEDULED.due_at(received, NY) == datetime(2026, 10, 5, 18, 0, tzinfo=NY)
    late = datetime(2026, 10, 5, 18, 30, tzinfo=NY)
    assert SCHEDULED.due_at(late, NY) == datetime(2026, 10, 6, 6, 0, tzinfo=NY)


def test_windows_keep_local_time_across_dst() -> None:
    """Across the November change 06:00 stays 06:00 local: the UTC instant moves an hour."""
    before = next_window(utc(2026, 10, 31, 2), NY, (time(6),))
    after = next_window(utc(2026, 10, 31, 12), NY, (time(6),))
    assert before == utc(2026, 10, 31, 10)  # 06:00 EDT (UTC-4), the last day of summer time
    assert after == utc(2026, 11, 1, 11)  # 06:00 EST (UTC-5), the clocks went back at 02:00
    spring = next_window(utc(2026, 3, 28, 12), LONDON, (time(6),))
    assert spring == utc(2026, 3, 29, 5)  # 06:00 BST (UTC+1)


def test_a_window_in_the_spring_gap_opens_just_after_it() -> None:
    """02:30 does not exist on 8 March 2026 in New York; the window opens at 03:30 EDT."""
    window = next_window(utc(2026, 3, 8, 5), NY, (time(2, 30),))
    assert window == utc(2026, 3, 8, 7, 30)
    assert window.astimezone(NY).hour == 3


def test_a_window_in_the_repeated_hour_opens_at_its_first_occurrence() -> None:
    """01:30 happens twice on 1 November 2026 in New York; the first one counts."""
    window = next_window(utc(2026, 11, 1, 4), NY, (time(1, 30),))
    assert window == utc(2026, 11, 1, 5, 30)  # 01:30 EDT


def test_realtime_and_manual_policies() -> None:
    """Customers and manual sales move at once; a manual policy never moves by itself."""
    now = utc(2026, 10, 5, 12)
    assert REALTIME.due_at(now, NY) == now
    assert default_policy("customer", "shopify") is REALTIME
    assert default_policy("sale", "manual") is REALTIME
    assert default_policy("sale", "shopify") is SCHEDULED
    assert SyncPolicy(SyncMode.MANUAL, ()).due_at(now, NY) is None


def test_bad_policy_settings_are_named() -> None:
    """A window that is not a time, or an unknown mode, says what it expects."""
    with pytest.raises(ValueError, match="time of day such as 06:00"):
        SyncPolicy.parse_windows("scheduled", ["6pm"])
    with pytest.raises(ValueError, match="realtime, scheduled, manual"):
        SyncPolicy.parse_windows("hourly", ["06:00"])
    with pytest.raises(ValueError, match="at least one window"):
        SyncPolicy(SyncMode.SCHEDULED, ())


def test_a_posting_mode_for_an_unknown_location_is_refused(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Setting a mode names the location that does not exist instead of storing it."""
    with db() as session, pytest.raises(KeyError, match="no location 'nowhere'"):
        Planner(session, "demo", merchant.locations, clock).set_mode(
            "nowhere", PostingMode.PER_PAYOUT
        )


def test_a_day_closes_at_its_local_midnight_also_when_clocks_change_around_it() -> None:
    """A day ends at local midnight; where midnight falls in a spring-forward gap it ends
    with the gap, and where midnight comes twice it ends when the date stops going back."""
    assert day_close(date(2026, 3, 10), NY) == utc(2026, 3, 11, 4)
    assert day_close(date(2026, 3, 10), LONDON) == utc(2026, 3, 11)
    havana = ZoneInfo("America/Havana")  # 00:00 -> 01:00 on 8 March, 01:00 -> 00:00 on 1 Nov
    assert day_close(date(2026, 3, 7), havana) == utc(2026, 3, 8, 5)
    assert day_close(date(2026, 10, 31), havana) == utc(2026, 11, 1, 4)
    santiago = ZoneInfo("America/Santiago")  # 5 April: 00:00 back to 23:00 on the 4th
    assert day_close(date(2026, 4, 4), santiago) == utc(2026, 4, 5, 4)
    assert day_close(date(2026, 9, 5), santiago) == utc(2026, 9, 6, 4)  # 00:00 -> 01:00
