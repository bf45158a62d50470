"""The path every Accounting API call takes: token, tenant, limits, faults, replay, work.

Limits are Xero's (https://developer.xero.com/faq/limits and
https://developer.xero.com/documentation/guides/oauth2/limits/): per organisation 5 calls
in progress, 60 a minute and 5,000 a day, and 10,000 a minute per app across all
organisations. Every answer carries ``X-MinLimit-Remaining``, ``X-DayLimit-Remaining``
and ``X-AppMinLimit-Remaining``; a refusal is 429 with ``X-Rate-Limit-Problem`` naming the
limit and, for the minute and day limits only, ``Retry-After``. The windows are fixed and
open at the organisation's first call, so each tenant's resets at its own time.
Idempotency is checked after the limits, so a replay still uses up calls.

A request body may be up to 3.5 MB, whatever the number of elements in it; Xero
recommends bundles of up to 50 elements for a timely answer but refuses nothing for
their number (https://developer.xero.com/documentation/guides/oauth2/limits/, "Request
size limit"). A larger body is answered 413 ``RequestEntityTooLarge``, the problem Xero's
gateway sends (https://github.com/XeroAPI/Xero-Java/issues/349); whether Xero counts it
against the limits is not documented, so here it counts as any other call.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from starlette.responses import JSONResponse, PlainTextResponse, Response

from salesync.sandbox.delivery import deliver
from salesync.sandbox.faults import BEFORE, Fault, FaultKind, FaultPlan
from salesync.sandbox.limits import ConcurrencyGate, FixedWindow
from salesync.sandbox.oauth import TokenAuthority, TokenPolicy
from salesync.sandbox.xero import errors
from salesync.sandbox.xero.errors import ApiError, Reply
from salesync.sandbox.xero.idempotency import METHODS, IdempotencyStore, check_key, fingerprint
from salesync.sandbox.xero.organisation import RequestRecord, XeroOrganisation

XERO_TOKENS = TokenPolicy(
    # https://developer.xero.com/faq/oauth2: access tokens last 30 minutes, an unused refresh
    # token 60 days; every refresh hands out a new refresh token, and if that answer is lost
    # the previous one may be used again for a 30-minute grace period.
    access_ttl=timedelta(minutes=30),
    refresh_idle_ttl=timedelta(days=60),
    rotate_after=timedelta(0),
    reuse_grace=timedelta(minutes=30),
)
MINUTE_LIMIT = 60
DAY_LIMIT = 5000
APP_MINUTE_LIMIT = 10_000
CONCURRENT_LIMIT = 5
REQUEST_MAX = 3_500_000
"""Bytes of one request body: 3.5 MB, read as decimal megabytes (the stricter reading)."""
TIMED_PROBLEMS = frozenset({"minute", "day"})
"""The limits whose 429 carries Retry-After."""

Work = Callable[[], Reply]


@dataclass(frozen=True, slots=True)
class ApiCall:
    """What the service needs to know about one incoming API request."""

    method: str
    target: str
    """Path and query string, part of what an idempotency key is bound to."""
    operation: str
    authorization: str | None
    tenant_id: str | None
    idempotency_key: str | None
    body: bytes


class XeroSandbox:
    """One organisation behind Xero's gatekeeping: OAuth, tenant, limits, faults, replay."""

    def __init__(
        self, organisation: XeroOrganisation, faults: FaultPlan, authority: TokenAuthority
    ) -> None:
        self.organisation = organisation
        self.faults = faults
        self.authority = authority
        now = organisation.now
        self.minute = FixedWindow(MINUTE_LIMIT, timedelta(minutes=1), now)
        self.day = FixedWindow(DAY_LIMIT, timedelta(days=1), now)
        self.app_minute = FixedWindow(APP_MINUTE_LIMIT, timedelta(minutes=1), now)
        self.gate = ConcurrencyGate(CONCURRENT_LIMIT)
        self.idempotency = IdempotencyStore(now)
        self._counting = threading.Lock()

    def render(self, reply: Reply, headers: dict[str, str] | None = None) -> Response:
        """The HTTP response for a reply, with a correlation id and ``headers``."""
        merged = {"Xero-Correlation-Id": str(uuid.uuid4()), **(headers or {}), **reply.headers}
        if isinstance(reply.body, str):
            return PlainTextResponse(reply.body, status_code=reply.status, headers=merged)
        return JSONResponse(reply.body, status_code=reply.status, headers=merged)

    def handle(self, call: ApiCall, work: Work) -> Response:
        """Run ``work`` behind every check Xero makes, in Xero's order; never raises."""
        status = 0
        replayed = False
        try:
            app = self._authorize(call)
            with self.gate.slot(self.organisation.tenant_id) as admitted:
                if not admitted:
                    raise self._throttled("concurrent", app, None)
                headers = self._count(app)
                fault = self.faults.take(call.operation)
                if fault is not None and fault.kind in BEFORE:
                    response = self.render(self._before_fault(fault), headers)
                else:
                    try:
                        reply, replayed = self._run(call, app, work)
                    except ApiError as error:
                        reply = error.reply
                    response = deliver(fault, self.render(reply, headers))
                status = response.status_code
                return response
        except ApiError as error:
            status = error.reply.status
            return self.render(error.reply)
        finally:
            self.organisation.record(
                RequestRecord(
                    self.organisation.now(),
                    call.method,
                    call.operation,
                    call.tenant_id,
                    call.idempotency_key,
                    replayed,
                    status,
                )
            )

    def bearer_subject(self, authorization: str | None) -> tuple[str, str]:
        """The (client id, tenant) of a valid bearer token; raises the gateway's 401."""
        header = authorization or ""
        if not header.lower().startswith("bearer "):
            raise errors.unauthenticated()
        check = self.authority.check_access(header[7:].strip())
        if check.status == "invalid":
            raise errors.unauthenticated()
        if check.status == "expired" and check.expires_at is not None:
            raise errors.token_expired(check.expires_at)
        return check.client_id, check.subject

    def remaining_headers(self, app: str) -> dict[str, str]:
        """What is left of each limit, as Xero reports it on every answer."""
        tenant = self.organisation.tenant_id
        return {
            "X-DayLimit-Remaining": str(self.day.remaining(tenant)),
            "X-MinLimit-Remaining": str(self.minute.remaining(tenant)),
            "X-AppMinLimit-Remaining": str(self.app_minute.remaining(app)),
        }

    def _authorize(self, call: ApiCall) -> str:
        app, subject = self.bearer_subject(call.authorization)
        org = self.organisation
        tenant = (call.tenant_id or "").strip()
        if tenant != org.tenant_id or subject != org.tenant_id or not org.connected:
            raise errors.forbidden()
        return app

    def _count(self, app: str) -> dict[str, str]:
        """Count the call against every limit, or refuse it naming the first one exhausted."""
        tenant = self.organisation.tenant_id
        windows = (
            ("day", self.day, tenant),
            ("minute", self.minute, tenant),
            ("appminute", self.app_minute, app),
        )
        with self._counting:
            for problem, window, key in windows:
                if window.remaining(key) == 0:
                    raise self._throttled(problem, app, window.acquire(key).retry_after)
            for _, window, key in windows:
                window.acquire(key)
        return self.remaining_headers(app)

    def _throttled(self, problem: str, app: str, wait: timedelta | None) -> ApiError:
        headers = {**self.remaining_headers(app), "X-Rate-Limit-Problem": problem}
        if problem in TIMED_PROBLEMS and wait is not None:
            headers["Retry-After"] = str(max(math.ceil(wait.total_seconds()), 1))
        return errors.problem(429, f"The {problem} rate limit has been exceeded", headers)

    def _run(self, call: ApiCall, app: str, work: Work) -> tuple[Reply, bool]:
        if len(call.body) > REQUEST_MAX:
            return errors.too_large().reply, False
        key = call.idempotency_key if call.method in METHODS else None
        if key is None:
            return self._attempt(work), False
        check_key(key)
        request_print = fingerprint(call.method, call.target, call.body)
        with self.organisation.lock:
            remembered = self.idempotency.recall(app, key, request_print)
            if remembered is not None:
                return remembered, True
            reply = self._attempt(work)
            self.idempotency.remember(app, key, request_print, reply)
            return reply, False

    def _attempt(self, work: Work) -> Reply:
        with self.organisation.lock:
            try:
                return work()
            except ApiError as error:
                return error.reply

    def _before_fault(self, fault: Fault) -> Reply:
        if fault.kind is FaultKind.RATE_LIMITED:
            wait = str(max(math.ceil(fault.retry_after), 1))
            return errors.problem(
                429,
                "The minute rate limit has been exceeded",
                {"Retry-After": wait, "X-Rate-Limit-Problem": "minute"},
            ).reply
        if fault.kind is FaultKind.UNAUTHORIZED:
            return errors.token_expired(self.organisation.now()).reply
        return errors.problem(fault.status, "The Xero API is unavailable; try again soon").reply
