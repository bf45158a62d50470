"""The ``Idempotency-Key`` header on POST, PUT and PATCH, as Xero documents it
(https://developer.xero.com/documentation/guides/idempotent-requests/idempotency/):

- keys are kept per app for 6 minutes from the first call, then forgotten, so a reuse after
  that runs as a new request;
- the same key on the same request replays the first answer, errors included;
- the same key with a different URL, body or method is refused with 400
  ``Idempotency Key: <key> is used with a different request.``;
- a key longer than 128 characters is refused; other methods ignore the header.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from salesync.sandbox.xero import errors
from salesync.sandbox.xero.errors import Reply

KEY_MAX = 128
RETENTION = timedelta(minutes=6)
METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, slots=True)
class Remembered:
    """The first answer given to a key, with what the request looked like."""

    fingerprint: str
    reply: Reply
    at: datetime


def fingerprint(method: str, target: str, body: bytes) -> str:
    """What must match for a repeat to count as the same request: method, URL, body."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{method} {target} {digest}"


def check_key(key: str) -> None:
    """Refuse a key longer than Xero accepts."""
    if len(key) > KEY_MAX:
        raise errors.problem(
            400,
            f"Idempotency Key: {key} is {len(key)} characters long; "
            f"the maximum is {KEY_MAX} characters.",
        )


class IdempotencyStore:
    """Answers remembered per (app, key) for ``retention``; thread-safe."""

    def __init__(self, clock: Callable[[], datetime], retention: timedelta = RETENTION) -> None:
        self.retention = retention
        self._clock = clock
        self._remembered: dict[tuple[str, str], Remembered] = {}
        self._lock = threading.Lock()

    def recall(self, app: str, key: str, print_: str) -> Reply | None:
        """The remembered answer for the same request; raises 400 for a different one."""
        with self._lock:
            found = self._remembered.get((app, key))
            if found is None:
                return None
            if self._clock() - found.at >= self.retention:
                del self._remembered[(app, key)]
                return None
        if found.fingerprint != print_:
            raise errors.problem(400, f"Idempotency Key: {key} is used with a different request.")
        return found.reply

    def remember(self, app: str, key: str, print_: str, reply: Reply) -> None:
        with self._lock:
            self._remembered[(app, key)] = Remembered(print_, reply, self._clock())
