"""Fault injection shared by every sandbox.

A test (or the demo) arms faults for an operation; the sandbox asks the plan before and
after doing the work. ``lost_response`` is the one that matters most for exactly-once:
the sandbox commits the write, then drops the answer, so the client cannot tell whether
it happened.
"""

from __future__ import annotations

import enum
import threading
from collections import deque
from dataclasses import dataclass, field


class FaultKind(enum.StrEnum):
    SERVER_ERROR = "server_error"
    """Answer 5xx (``status``, default 503) without doing the work."""
    RATE_LIMITED = "rate_limited"
    """Answer 429 with Retry-After ``retry_after`` seconds without doing the work."""
    UNAUTHORIZED = "unauthorized"
    """Answer as the provider does for an expired or revoked access token."""
    LOST_RESPONSE = "lost_response"
    """Do the work and commit it, then fail the response (connection reset / timeout)."""
    SLOW = "slow"
    """Do the work, answer after ``delay`` seconds."""
    MALFORMED = "malformed"
    """Do the work, answer with a body that is not what the API documents."""


BEFORE = frozenset({FaultKind.SERVER_ERROR, FaultKind.RATE_LIMITED, FaultKind.UNAUTHORIZED})
"""Faults that stop the request before any work is done."""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    status: int = 503
    retry_after: float = 1.0
    delay: float = 0.0


@dataclass(slots=True)
class FaultPlan:
    """Faults armed per operation name ('*' matches any), consumed in order, thread-safe."""

    _armed: dict[str, deque[Fault]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    fired: list[tuple[str, FaultKind]] = field(default_factory=list)

    def arm(self, operation: str, fault: Fault | FaultKind, times: int = 1) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        fault = fault if isinstance(fault, Fault) else Fault(fault)
        with self._lock:
            self._armed.setdefault(operation, deque()).extend([fault] * times)

    def take(self, operation: str) -> Fault | None:
        """The next fault for ``operation``, consumed; None when nothing is armed."""
        with self._lock:
            for name in (operation, "*"):
                queue = self._armed.get(name)
                if queue:
                    fault = queue.popleft()
                    self.fired.append((operation, fault.kind))
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._armed.values())
