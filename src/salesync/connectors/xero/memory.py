"""What the books last read of one organisation's chart, kept for the next books opened.

The engine opens the books afresh for each send pass, and each read of the chart of
accounts, the tax rates, the tracking categories and the organisation's base currency is
a call of Xero's 60 a minute. The destination keeps what was read per organisation and
connection for a few minutes (``ChartMemory``), so passes close together read them once.

What is remembered is only trusted to say yes. A problem found with it (an account,
tax rate or tracking option missing, archived or of the wrong type) is checked against a
fresh read before it is reported (``accounts.Chart``), and a failed call or a document
Xero refuses over a mapping forgets everything, so what the bookkeeper changes in Xero is
seen at the latest on the next attempt. A remembered value that is simply out of date
(an account archived since) is refused by Xero when written to, which forgets it.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from salesync.connectors.pacing import Clock

TTL = 300.0
"""Seconds a read is trusted: a few send passes, short enough that a change made in
Xero's screens is picked up soon even when nothing is refused."""


class ChartMemory:
    """Named reads of one organisation through one connection, each with its age."""

    def __init__(self, clock: Clock, ttl: float = TTL) -> None:
        self.clock = clock
        self.ttl = ttl
        self._values: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def recall(self, name: str) -> Any | None:
        """A copy of what was read under ``name``, or None when nothing fresh is kept."""
        with self._lock:
            found = self._values.get(name)
            if found is None:
                return None
            if self.clock() - found[0] >= self.ttl:
                del self._values[name]
                return None
            return copy.deepcopy(found[1])

    def keep(self, name: str, value: Any) -> None:
        """Remember what was just read under ``name``."""
        with self._lock:
            self._values[name] = (self.clock(), copy.deepcopy(value))

    def amend(self, name: str, value: Any) -> None:
        """Replace what is kept under ``name`` after salesync changed it in Xero (created an
        account), keeping the age of the read it started from; nothing if none is kept."""
        with self._lock:
            found = self._values.get(name)
            if found is not None:
                self._values[name] = (found[0], copy.deepcopy(value))

    def drop(self, name: str) -> None:
        with self._lock:
            self._values.pop(name, None)

    def forget(self) -> None:
        """Read everything again next time."""
        with self._lock:
            self._values.clear()
