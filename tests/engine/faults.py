"""A destination that misbehaves on purpose, the way real accounting APIs do."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from salesync.connectors.destination import Posting, Written
from salesync.domain.errors import AuthError, BugError, TransientError
from wrapped_books import WrappedBooks


class Crash(BaseException):
    """The process dies here: nothing after this line runs, nothing is cleaned up."""


FAULTS = ("lost_response", "server_error", "rate_limited", "crash_before", "crash_after")


@dataclass
class FaultyDestination(WrappedBooks):
    """Wraps a real destination; each call may fail in one of the ways listed in FAULTS."""

    plan: list[str] = field(default_factory=list)
    """Faults to inject, in order, one per post call ('ok' for none); a call carries a
    whole batch, so a fault hits every posting in it."""
    rng: random.Random | None = None
    fault_rate: float = 0.0
    calls: int = 0
    find_plan: list[str] = field(default_factory=list)
    """Faults for the read-back calls, in order ('auth' or 'ok')."""
    written: Counter[str] = field(default_factory=Counter)
    """How many times each key was handed to the books to write: books that do not refuse
    a repeated key (a QuickBooks company that does not check document numbers) would
    hold it that many times."""

    def _next_fault(self) -> str:
        if self.plan:
            return self.plan.pop(0)
        if self.rng is not None and self.rng.random() < self.fault_rate:
            return self.rng.choice(FAULTS)
        return "ok"

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        self.calls += 1
        fault = self._next_fault()
        if fault == "server_error":
            raise TransientError("HTTP 503 from destination", code="503")
        if fault == "rate_limited":
            raise TransientError("HTTP 429 from destination", code="429", retry_after=120)
        if fault == "auth":
            raise AuthError("HTTP 401: token revoked", code="401")
        if fault == "bug":
            raise BugError("KeyError: 'TxnDate' in the destination's answer", code="bug")
        if fault == "crash_before":
            raise Crash
        self.written.update(p.key for p in postings)
        written = self.inner.post(postings)
        if fault == "lost_response":
            raise TransientError("read timeout after the request was sent", code="timeout")
        if fault == "crash_after":
            raise Crash
        return written

    def find(self, keys: Sequence[str]) -> dict[str, str]:
        if self.find_plan and self.find_plan.pop(0) == "auth":
            raise AuthError("HTTP 401: token revoked", code="401")
        return self.inner.find(keys)
