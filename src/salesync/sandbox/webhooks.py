"""Webhook delivery with clock-driven retries, shared by the source sandboxes.

A sandbox signs a message the way its provider does and enqueues it; nothing is sent until
``deliver_due()`` is called, and retries become due only when the injected clock reaches
them, so tests move time instead of sleeping. Deliveries are real HTTP POSTs through httpx.

The queue can also misbehave on purpose, the way real providers occasionally do: drop the
next messages (never sent), send the next ones twice (same event id), or hold the next
ones back so later events overtake them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import httpx

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    """One signed notification, fixed when its event was triggered."""

    subscription_id: str
    event_id: str
    topic: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    triggered_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One POST of a message and what came back."""

    delivery_id: int
    event_id: str
    topic: str
    url: str
    attempt: int
    at: datetime
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """The wait before each retry; when they run out, the message is given up."""

    delays: tuple[timedelta, ...]
    horizon: timedelta | None = None
    """No retry is made later than this after the event was triggered, whatever is left."""

    def next_delay(self, failures: int) -> timedelta | None:
        """The wait before the next try after ``failures`` failures; None means give up."""
        return self.delays[failures - 1] if failures <= len(self.delays) else None

    def next_due(self, failures: int, now: datetime, triggered_at: datetime) -> datetime | None:
        """When to try again after ``failures`` failures at ``now``; None means give up."""
        delay = self.next_delay(failures)
        if delay is None:
            return None
        due = now + delay
        if self.horizon is not None and due - triggered_at > self.horizon:
            return None
        return due


@dataclass(frozen=True, slots=True)
class _Pending:
    delivery_id: int
    message: WebhookMessage
    due_at: datetime
    failures: int = 0


@dataclass(slots=True)
class _Chaos:
    drop: int = 0
    duplicate: int = 0
    delay: int = 0
    delay_by: timedelta = field(default_factory=lambda: timedelta(minutes=5))


class DeliveryQueue:
    """Messages waiting to be POSTed, retried on ``schedule`` as the clock moves."""

    def __init__(
        self,
        clock: Clock,
        schedule: RetrySchedule,
        *,
        timeout: httpx.Timeout,
        client: httpx.Client | None = None,
        on_exhausted: Callable[[WebhookMessage], None] | None = None,
    ) -> None:
        self._clock = clock
        self._schedule = schedule
        self._timeout = timeout
        self._client = client
        self._on_exhausted = on_exhausted
        self._ids = itertools.count(1)
        self._pending: list[_Pending] = []
        self._chaos = _Chaos()
        self._lock = threading.Lock()
        self.attempts: list[DeliveryAttempt] = []
        self.dropped: list[WebhookMessage] = []
        self.exhausted: list[WebhookMessage] = []

    def use_client(self, client: httpx.Client | None) -> None:
        """Send through ``client`` (e.g. a TestClient for an in-process receiver)."""
        self._client = client

    def drop_next(self, count: int) -> None:
        """Silently lose the next ``count`` messages, as a provider outage would."""
        with self._lock:
            self._chaos.drop += count

    def duplicate_next(self, count: int) -> None:
        """Deliver each of the next ``count`` messages twice, with the same event id."""
        with self._lock:
            self._chaos.duplicate += count

    def delay_next(self, count: int, by: timedelta) -> None:
        """Hold the next ``count`` messages back by ``by`` so later events overtake them."""
        with self._lock:
            self._chaos.delay += count
            self._chaos.delay_by = by

    def enqueue(self, message: WebhookMessage) -> None:
        """Queue ``message`` for its first attempt now (or later, if held back)."""
        with self._lock:
            if self._chaos.drop:
                self._chaos.drop -= 1
                self.dropped.append(message)
                return
            due = message.triggered_at
            if self._chaos.delay:
                self._chaos.delay -= 1
                due += self._chaos.delay_by
            copies = 1
            if self._chaos.duplicate:
                self._chaos.duplicate -= 1
                copies = 2
            for _ in range(copies):
                self._pending.append(_Pending(next(self._ids), message, due))

    def pending(self) -> list[tuple[int, WebhookMessage, datetime]]:
        """What is waiting: (delivery id, message, when it is next due)."""
        with self._lock:
            return [(p.delivery_id, p.message, p.due_at) for p in self._pending]

    def deliver_due(self) -> list[DeliveryAttempt]:
        """POST every message whose time has come; reschedule or give up on failures."""
        now = self._clock()
        with self._lock:
            due = sorted(
                (p for p in self._pending if p.due_at <= now),
                key=lambda p: (p.due_at, p.delivery_id),
            )
            self._pending = [p for p in self._pending if p.due_at > now]
        if not due:
            return []
        if self._client is not None:
            results = [self._post(self._client, p, now) for p in due]
        else:
            with httpx.Client(timeout=self._timeout) as client:
                results = [self._post(client, p, now) for p in due]
        exhausted: list[WebhookMessage] = []
        with self._lock:
            for pending, attempt in zip(due, results, strict=True):
                self.attempts.append(attempt)
                if attempt.ok:
                    continue
                failures = pending.failures + 1
                due_at = self._schedule.next_due(failures, now, pending.message.triggered_at)
                if due_at is None:
                    self.exhausted.append(pending.message)
                    exhausted.append(pending.message)
                else:
                    self._pending.append(replace(pending, due_at=due_at, failures=failures))
        if self._on_exhausted is not None:
            for message in exhausted:
                self._on_exhausted(message)
        return results

    def _post(self, client: httpx.Client, pending: _Pending, now: datetime) -> DeliveryAttempt:
        message = pending.message
        status: int | None = None
        error: str | None = None
        try:
            response = client.post(message.url, content=message.body, headers=dict(message.headers))
            status = response.status_code
        except httpx.TimeoutException:
            error = "timeout"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # InvalidURL is not an HTTPError; a bad subscription URL is a failed attempt
            # like any other, retried and finally given up, never a lost message.
            error = f"{type(exc).__name__}: {exc}"
        return DeliveryAttempt(
            delivery_id=pending.delivery_id,
            event_id=message.event_id,
            topic=message.topic,
            url=message.url,
            attempt=pending.failures + 1,
            at=now,
            status=status,
            error=error,
        )
