"""Client-side pacing: stay inside a provider account's rate limits instead of meeting them.

Accounting APIs count calls per company or organisation (QuickBooks Online: 500 a minute
and 10 in flight; Xero: 60 a minute, 5 in flight, 5,000 a day). A ``CallBudget`` spaces
one account's calls so they never exceed its limits, adopts what the provider says is
left (``X-MinLimit-Remaining`` and the like) when that is less than it counted (other
apps, other workers), and stops everyone when the provider answers 429 with Retry-After.

Budgets are shared by every connection to the same account in this process
(``budget_for``), and across worker processes through Redis once ``share_budgets`` is
set up (``salesync.scale.budget``).

Time is injected (``clock`` and ``sleep``), so tests and benchmarks run in simulated
time: a sleep moves a manual clock that the sandbox reads too.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from salesync.domain.errors import TransientError

Clock = Callable[[], float]
"""Seconds, monotonic."""
Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class Limits:
    """An account's documented limits."""

    per_minute: int
    concurrent: int
    per_day: int | None = None
    headroom: int = 0
    """Calls per minute left unused for the merchant's other apps."""


@dataclass
class CallBudget:
    """Paces the calls of one provider account."""

    limits: Limits
    clock: Clock = time.monotonic
    sleep: Sleep = time.sleep
    max_wait: float = 120.0
    """A call that would have to wait longer than this fails as transient instead (the
    posting is retried later, with no worker asleep on it)."""
    _calls: deque[float] = field(default_factory=deque)
    _day: deque[float] = field(default_factory=deque)
    _paused_until: float = 0.0
    _in_flight: int = 0
    _lock: threading.Condition = field(default_factory=threading.Condition)
    waited: float = 0.0
    """Total time spent waiting for room, for benchmarks and logs."""
    throttled: int = 0
    """How many times the provider said 429 anyway."""

    def _wait_needed(self, now: float) -> float:
        minute = max(1, self.limits.per_minute - self.limits.headroom)
        while self._calls and self._calls[0] <= now - 60.0:
            self._calls.popleft()
        while self._day and self._day[0] <= now - 86_400.0:
            self._day.popleft()
        wait = max(0.0, self._paused_until - now)
        if len(self._calls) >= minute:
            wait = max(wait, self._calls[0] + 60.0 - now)
        if self.limits.per_day is not None and len(self._day) >= self.limits.per_day:
            wait = max(wait, self._day[0] + 86_400.0 - now)
        return wait

    @contextmanager
    def call(self) -> Iterator[None]:
        """Hold one call's place: wait for room in the window and a free slot."""
        with self._lock:
            while True:
                now = self.clock()
                wait = self._wait_needed(now)
                if wait > self.max_wait:
                    raise TransientError(
                        f"the provider's rate limit leaves no room for {wait:.0f} s",
                        user_message="The books' API limit is used up for now; salesync "
                        "carries on automatically when it resets.",
                        code="rate_limit_budget",
                        retry_after=wait,
                    )
                if wait <= 0 and self._in_flight < self.limits.concurrent:
                    break
                if wait > 0:
                    self.waited += wait
                    self._lock.release()
                    try:
                        self.sleep(wait)
                    finally:
                        self._lock.acquire()
                else:
                    self._lock.wait(0.05)
            self._calls.append(now)
            if self.limits.per_day is not None:
                self._day.append(now)
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._lock.notify_all()

    def observe_remaining(self, minute: int | None = None, day: int | None = None) -> None:
        """Adopt the provider's count of calls left when it is lower than ours."""
        with self._lock:
            now = self.clock()
            if minute is not None:
                self._fill(self._calls, self.limits.per_minute - minute, now)
            if day is not None and self.limits.per_day is not None:
                self._fill(self._day, self.limits.per_day - day, now)

    @staticmethod
    def _fill(calls: deque[float], used: int, now: float) -> None:
        while len(calls) < used:
            calls.append(now)

    def pause(self, seconds: float) -> None:
        """The provider answered 429: nobody calls this account for ``seconds``."""
        with self._lock:
            self.throttled += 1
            self._paused_until = max(self._paused_until, self.clock() + seconds)

    @property
    def used_this_minute(self) -> int:
        with self._lock:
            now = self.clock()
            return sum(1 for t in self._calls if t > now - 60.0)


_BUDGETS: dict[str, CallBudget] = {}
_GUARD = threading.Lock()
Sharing = Callable[[str, CallBudget], CallBudget]
_sharing: Sharing | None = None


def budget_for(account: str, make: Callable[[], CallBudget]) -> CallBudget:
    """The process-wide budget of ``account`` (e.g. ``qbo:<realm>``), made on first use;
    shared with other worker processes once ``share_budgets`` was called."""
    with _GUARD:
        found = _BUDGETS.get(account)
        if found is None:
            found = make()
            if _sharing is not None:
                found = _sharing(account, found)
            _BUDGETS[account] = found
        return found


def share_budgets(sharing: Sharing | None) -> None:
    """Make every budget from now on with ``sharing`` (the budget as this process would
    keep it in, the one all workers share out; ``salesync.scale.budget``); ``None``: keep
    budgets in this process again."""
    global _sharing  # noqa: PLW0603 -- one way of keeping budgets per process
    with _GUARD:
        _sharing = sharing
        _BUDGETS.clear()


def forget_budgets() -> None:
    """Drop every shared budget (tests that reuse account ids with new clocks)."""
    with _GUARD:
        _BUDGETS.clear()
