"""Deliveries the ingress refuses, as incidents: a flood stays one ticket and a few writes.

A forged signature, a replayed delivery, a connection whose deliveries cannot be checked
(its webhook secret is gone) or whose source is not installed here are failures like
any other: someone must look. But the endpoint is public, and anyone can send it forged
requests by the thousand; writing an incident for each would hand them the database. So
the first refusal of a kind for a connection is recorded at once, and later ones within
``every`` only counted; the next one recorded after that says how many there were.
Recording goes through the shared writer, and a failure to record never changes the
answer the provider gets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session

from salesync.api.connections import Receiver
from salesync.api.writer import GroupWriter
from salesync.domain.errors import SyncError
from salesync.engine.incidents import Failure, IncidentLog

log = structlog.get_logger("salesync.ingress")

EVERY = timedelta(minutes=1)


class IngressAlarms:
    def __init__(
        self,
        writer: GroupWriter,
        incidents: IncidentLog,
        clock: Callable[[], datetime],
        every: timedelta = EVERY,
    ) -> None:
        self.writer = writer
        self.incidents = incidents
        self.clock = clock
        self.every = every
        self._last: dict[tuple[str, str], datetime] = {}
        self._quiet: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def _due(self, key: tuple[str, str], now: datetime) -> int | None:
        """How many refusals this record stands for, or None while it is too soon."""
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.every:
                self._quiet[key] = self._quiet.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._quiet.pop(key, 0) + 1

    async def sound(self, receiver: Receiver, error: SyncError, remote: str | None) -> None:
        now = self.clock()
        key = (receiver.connection_id, error.code or error.kind.value)
        count = self._due(key, now)
        if count is None:
            return
        error.tenant = error.tenant or receiver.tenant_id
        error.connection = error.connection or receiver.connection_id
        error.provider = error.provider or receiver.provider
        error.operation = error.operation or "webhook"
        error.details = {**error.details, "remote": remote, "refusals": count}
        failure = Failure(
            error=error,
            stage="ingress",
            subject=f"webhooks:{receiver.connection_id}",
            failed_at=now,
            connection_id=receiver.connection_id,
            replay={"connection": receiver.connection_id},
        )

        def work(session: Session) -> None:
            self.incidents.record(session, receiver.tenant_id, failure)

        try:
            await self.writer.run(work)
        except Exception:  # the provider's answer stands; the log keeps what was lost
            log.exception("ingress_incident_not_recorded", connection=receiver.connection_id)
