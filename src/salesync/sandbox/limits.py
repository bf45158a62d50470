"""Rate limits the sandboxes enforce: clock-driven call windows and a concurrency gate.

Windows read the sandbox's clock, so a test that moves the clock moves the window. A
``CallWindow`` is a sliding log of call instants; a ``FixedWindow`` counts calls in
windows that open at a key's first call and reset whole, as some providers count. The
gate counts requests in flight across threads.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class WindowDecision:
    """The outcome of asking a window for one more call."""

    allowed: bool
    remaining: int
    retry_after: timedelta
    """How long until a call would be allowed again; zero when ``allowed``."""


class CallWindow:
    """At most ``limit`` calls per ``period`` for each key, counted over a sliding window."""

    def __init__(self, limit: int, period: timedelta, clock: Callable[[], datetime]) -> None:
        if limit < 1:
            raise ValueError("a window needs a limit of at least 1")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._calls: dict[str, deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _expire(self, calls: deque[datetime], now: datetime) -> None:
        while calls and calls[0] <= now - self.period:
            calls.popleft()

    def acquire(self, key: str) -> WindowDecision:
        """Count one call for ``key`` if the window has room; say how much is left."""
        now = self._clock()
        with self._lock:
            calls = self._calls[key]
            self._expire(calls, now)
            if len(calls) >= self.limit:
                return WindowDecision(False, 0, calls[0] + self.period - now)
            calls.append(now)
            return WindowDecision(True, self.limit - len(calls), timedelta(0))

    def remaining(self, key: str) -> int:
        """Calls still allowed for ``key`` in the current window, counting none."""
        now = self._clock()
        with self._lock:
            calls = self._calls[key]
            self._expire(calls, now)
            return self.limit - len(calls)


class FixedWindow:
    """At most ``limit`` calls per ``period`` for each key, in windows that reset whole.

    A key's window opens at its first call, so windows of different keys reset at
    different times.
    """

    def __init__(self, limit: int, period: timedelta, clock: Callable[[], datetime]) -> None:
        if limit < 1:
            raise ValueError("a window needs a limit of at least 1")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._windows: dict[str, tuple[datetime, int]] = {}
        self._lock = threading.Lock()

    def _current(self, key: str, now: datetime) -> tuple[datetime, int]:
        opened, count = self._windows.get(key, (now, 0))
        if now >= opened + self.period:
            return now, 0
        return opened, count

    def acquire(self, key: str) -> WindowDecision:
        """Count one call for ``key`` if its window has room; say how much is left."""
        now = self._clock()
        with self._lock:
            opened, count = self._current(key, now)
            if count >= self.limit:
                self._windows[key] = (opened, count)
                return WindowDecision(False, 0, opened + self.period - now)
            self._windows[key] = (opened, count + 1)
            return WindowDecision(True, self.limit - count - 1, timedelta(0))

    def remaining(self, key: str) -> int:
        """Calls still allowed for ``key`` in its current window, counting none."""
        now = self._clock()
        with self._lock:
            return max(self.limit - self._current(key, now)[1], 0)


class ConcurrencyGate:
    """At most ``limit`` requests in flight per key; the excess is refused, never queued."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a gate needs a limit of at least 1")
        self.limit = limit
        self._in_flight: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, key: str) -> Iterator[bool]:
        """Hold a slot for the block; yields False (holding nothing) when the gate is full."""
        with self._lock:
            admitted = self._in_flight[key] < self.limit
            if admitted:
                self._in_flight[key] += 1
        try:
            yield admitted
        finally:
            if admitted:
                with self._lock:
                    self._in_flight[key] -= 1

    def in_flight(self, key: str) -> int:
        with self._lock:
            return self._in_flight[key]
