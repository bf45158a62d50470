"""The in-memory state of a simulated Clover platform: merchants, one app, its tokens,
its rate limits and its webhook, guarded by one lock.

Clover's REST API serves many merchants under ``/v3/merchants/{mId}``; an app installed
on a merchant holds a token for that merchant only. A business with several locations has
one Clover merchant per location, so a two-store seller is two merchants here.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from salesync.clock import system_clock
from salesync.sandbox.faults import FaultPlan
from salesync.sandbox.limits import CallWindow, ConcurrencyGate
from salesync.sandbox.oauth import TokenAuthority, TokenPolicy, TokenSet
from salesync.sandbox.webhooks import DeliveryQueue, RetrySchedule, WebhookMessage

Clock = Callable[[], datetime]
Json = dict[str, Any]

# Expiring tokens: Clover asks apps not to hard-code their lengths and to read the
# expirations from each answer; a refresh token is single use and is replaced by every
# refresh (https://docs.clover.com/docs/refresh-access-tokens).
CLOVER_TOKENS = TokenPolicy(
    access_ttl=timedelta(hours=1),
    refresh_idle_ttl=timedelta(days=30),
    rotate_after=timedelta(0),
    reuse_grace=timedelta(0),
)
# Clover does not guarantee when, or if, a notification arrives
# (https://docs.clover.com/docs/webhooks) and documents no retry schedule: the sandbox
# retries a failed message twice, then gives it up, so a lost message is a real case.
CLOVER_RETRIES = RetrySchedule(delays=(timedelta(minutes=1), timedelta(minutes=5)))
WEBHOOK_TIMEOUT = httpx.Timeout(10.0)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Clover's documented limits (https://docs.clover.com/docs/api-usage-rate-limits):
    new requests per second per app and per token, and requests in flight per app and
    per token."""

    app_per_second: int = 50
    token_per_second: int = 16
    app_concurrent: int = 10
    token_concurrent: int = 5


@dataclass(slots=True)
class CloverMerchant:
    """One merchant (one location) and its objects as Clover answers them, by id."""

    id: str
    name: str
    timezone: str
    currency: str
    devices: dict[str, Json] = field(default_factory=dict)
    categories: dict[str, Json] = field(default_factory=dict)
    tax_rates: dict[str, Json] = field(default_factory=dict)
    tenders: dict[str, Json] = field(default_factory=dict)
    items: dict[str, Json] = field(default_factory=dict)
    customers: dict[str, Json] = field(default_factory=dict)
    orders: dict[str, Json] = field(default_factory=dict)

    @property
    def refunds(self) -> dict[str, Json]:
        """Every refund of every order, by id (Clover lists them on their own too)."""
        return {r["id"]: r for o in self.orders.values() for r in o["refunds"]["elements"]}

    def collection(self, name: str) -> dict[str, Json]:
        found: dict[str, Json] = getattr(self, name)
        return found


@dataclass(slots=True)
class CloverApp:
    """The app and its webhook: the URL, the code sent to verify it, and the auth code
    Clover puts in ``X-Clover-Auth`` once it is verified."""

    id: str
    secret: str
    webhook_url: str | None = None
    verification_code: str | None = None
    auth_code: str | None = None


@dataclass(slots=True)
class Peak:
    """The most requests a token, or the app, ever had in flight at once, and the limits
    that refused requests (for tests of the caps)."""

    in_flight: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


class CloverPlatform:
    """Merchants, the app, tokens, limits, faults and webhooks of one simulated Clover."""

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        limits: RateLimits | None = None,
        webhook_client: httpx.Client | None = None,
    ) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.merchants: dict[str, CloverMerchant] = {}
        self.tokens = TokenAuthority(CLOVER_TOKENS, clock)
        self.app = CloverApp(self.new_id(), secrets.token_hex(16))
        self.tokens.register_client(self.app.id, self.app.secret)
        self.faults = FaultPlan()
        self.webhook_client = webhook_client
        self.deliveries = DeliveryQueue(
            clock, CLOVER_RETRIES, timeout=WEBHOOK_TIMEOUT, client=webhook_client
        )
        self.peak = Peak()
        self._pending: list[tuple[str, Json]] = []
        self.set_limits(limits or RateLimits())

    def use_webhook_client(self, client: httpx.Client) -> None:
        """Send verification codes and notifications through ``client``."""
        self.webhook_client = client
        self.deliveries.use_client(client)

    def set_limits(self, limits: RateLimits) -> None:
        """Fresh windows and gates of ``limits`` for every app and token."""
        self.limits = limits
        second = timedelta(seconds=1)
        self.app_window = CallWindow(limits.app_per_second, second, self.clock)
        self.token_window = CallWindow(limits.token_per_second, second, self.clock)
        self.app_gate = ConcurrencyGate(limits.app_concurrent)
        self.token_gate = ConcurrencyGate(limits.token_concurrent)

    def now_ms(self) -> int:
        """Clover's timestamps: milliseconds since the epoch."""
        return int(self.clock().timestamp() * 1000)

    def new_id(self) -> str:
        """A 13-character id in Clover's style (upper-case letters and digits)."""
        digest = hashlib.sha256(uuid.uuid4().bytes).digest()
        return base64.b32encode(digest).decode()[:13]

    def add_merchant(self, name: str, timezone: str, currency: str = "USD") -> CloverMerchant:
        merchant = CloverMerchant(self.new_id(), name, timezone, currency)
        with self.lock:
            self.merchants[merchant.id] = merchant
        return merchant

    def install(self, merchant_id: str) -> TokenSet:
        """The app installed on ``merchant_id``: an expiring token pair for it."""
        return self.tokens.issue_tokens(self.app.id, merchant_id)

    # -- webhooks ------------------------------------------------------------------------

    def set_webhook_url(self, url: str) -> None:
        """Save the app's webhook URL and POST it a verification code, as the Developer
        Dashboard does; notifications start once the code is entered (``verify``)."""
        code = str(uuid.uuid4())
        with self.lock:
            self.app.webhook_url, self.app.verification_code = url, code
            self.app.auth_code = None
        # A failed POST is the developer's to notice; they click "Resend Code".
        with contextlib.suppress(httpx.HTTPError, httpx.InvalidURL):
            if self.webhook_client is not None:
                self.webhook_client.post(url, json={"verificationCode": code})
            else:
                with httpx.Client(timeout=WEBHOOK_TIMEOUT) as client:
                    client.post(url, json={"verificationCode": code})

    def verify(self, code: str) -> str | None:
        """The developer enters the code: the webhook is verified and its auth code
        issued; None (and nothing verified) when the code is not the one sent."""
        with self.lock:
            expected = self.app.verification_code
            if expected is None or not secrets.compare_digest(expected, code):
                return None
            self.app.auth_code = str(uuid.uuid4())
            self.app.verification_code = None
            return self.app.auth_code

    def changed(self, merchant_id: str, object_id: str, kind: str) -> None:
        """Note a change for the next notification (``O:<id>`` with CREATE, UPDATE or
        DELETE); nothing is noted while the webhook is not verified."""
        with self.lock:
            if self.app.auth_code is None:
                return
            self._pending.append(
                (merchant_id, {"objectId": object_id, "type": kind, "ts": self.now_ms()})
            )

    def notify(self) -> None:
        """Send what changed since the last notification as one message, as Clover
        batches updates for many merchants into one POST."""
        with self.lock:
            pending, self._pending = self._pending, []
            app = self.app
        if not pending or app.webhook_url is None or app.auth_code is None:
            return
        self.deliveries.enqueue(message_of(app, pending, self.clock()))


def message_of(app: CloverApp, pending: list[tuple[str, Json]], now: datetime) -> WebhookMessage:
    """The webhook message for ``pending`` changes, carrying the app's auth code."""
    merchants: dict[str, list[Json]] = {}
    for merchant_id, update in pending:
        merchants.setdefault(merchant_id, []).append(update)
    body = json.dumps({"appId": app.id, "merchants": merchants}, separators=(",", ":")).encode()
    return WebhookMessage(
        subscription_id=app.id,
        event_id=hashlib.sha256(body).hexdigest()[:32],
        topic="clover.updates",
        url=str(app.webhook_url),
        headers={"Content-Type": "application/json", "X-Clover-Auth": str(app.auth_code)},
        body=body,
        triggered_at=now,
    )
