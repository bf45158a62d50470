"""Client-side pacing in simulated time: the window, the provider's own count, 429 pauses."""

from __future__ import annotations

import threading

import pytest

from salesync.connectors.pacing import CallBudget, Limits, budget_for, forget_budgets
from salesync.domain.errors import TransientError


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def budget(limits: Limits, t: FakeTime, max_wait: float = 120.0) -> CallBudget:
    return CallBudget(limits, clock=t.clock, sleep=t.sleep, max_wait=max_wait)


def test_calls_fill_the_minute_then_wait_for_the_oldest_to_age_out() -> None:
    t = FakeTime()
    b = budget(Limits(per_minute=60, concurrent=5), t)
    for i in range(60):
        t.now += 0.5 if i else 0
        with b.call():
            pass
    assert t.now == pytest.approx(1029.5)
    with b.call():
        pass
    assert t.now == pytest.approx(1060.0), "the 61st call waits until the first ages out"
    assert b.waited == pytest.approx(30.5)


def test_headroom_leaves_calls_for_other_apps() -> None:
    t = FakeTime()
    b = budget(Limits(per_minute=10, concurrent=5, headroom=2), t)
    for _ in range(8):
        with b.call():
            pass
    assert t.now == 1000.0
    with b.call():
        pass
    assert t.now == 1060.0


def test_the_providers_lower_count_is_adopted() -> None:
    t = FakeTime()
    b = budget(Limits(per_minute=60, concurrent=5), t)
    b.observe_remaining(minute=1)
    with b.call():
        pass
    assert t.now == 1000.0
    with b.call():
        pass
    assert t.now == 1060.0, "the provider said one call was left in this minute"


def test_a_429_pauses_every_caller_and_is_counted() -> None:
    t = FakeTime()
    b = budget(Limits(per_minute=500, concurrent=10), t)
    b.pause(30)
    with b.call():
        pass
    assert t.now == 1030.0
    assert b.throttled == 1


def test_a_wait_beyond_the_limit_is_a_transient_error_with_retry_after() -> None:
    t = FakeTime()
    b = budget(Limits(per_minute=60, concurrent=5, per_day=2), t, max_wait=300)
    for _ in range(2):
        with b.call():
            pass
    with pytest.raises(TransientError) as caught, b.call():
        pass
    assert caught.value.retry_after == pytest.approx(86_400.0)
    assert caught.value.kind.retryable


def test_no_more_than_the_concurrent_limit_are_in_flight() -> None:
    b = CallBudget(Limits(per_minute=1000, concurrent=2))
    inside, peak = 0, 0
    lock = threading.Lock()
    release = threading.Event()

    def work() -> None:
        nonlocal inside, peak
        with b.call():
            with lock:
                inside += 1
                peak = max(peak, inside)
            release.wait(0.2)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2


def test_budgets_are_shared_per_account() -> None:
    forget_budgets()
    first = budget_for("qbo:1", lambda: CallBudget(Limits(500, 10)))
    assert budget_for("qbo:1", lambda: CallBudget(Limits(1, 1))) is first
    assert budget_for("qbo:2", lambda: CallBudget(Limits(1, 1))) is not first
    forget_budgets()
