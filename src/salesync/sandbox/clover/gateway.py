"""The path every Clover REST call takes: the bearer token for the merchant in the path,
the app's and the token's rate and concurrency limits, armed faults, then the work.

A refused token is ``401`` with Clover's ``{"message": ...}`` body. Over a limit the answer
is ``429`` naming the limit that was hit in an ``X-RateLimit-*`` header, with
``Retry-After`` in seconds (https://docs.clover.com/docs/api-usage-rate-limits): a sixth
request in flight on a token with five running is refused, never queued.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from starlette.responses import JSONResponse, Response

from salesync.sandbox.clover.platform import CloverPlatform
from salesync.sandbox.clover.query import QueryError
from salesync.sandbox.delivery import deliver
from salesync.sandbox.faults import BEFORE, Fault, FaultKind

Json = dict[str, Any]
Work = Callable[[], Json]


class NotFoundError(LookupError):
    """An object the merchant does not have: 404."""


def refusal(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Clover's error body."""
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def too_many(limit: str, value: int, retry_after: float) -> Response:
    return refusal(
        429,
        "429 Too Many Requests",
        {f"X-RateLimit-{limit}": str(value), "Retry-After": str(max(1, math.ceil(retry_after)))},
    )


def before(fault: Fault) -> Response:
    if fault.kind is FaultKind.RATE_LIMITED:
        return too_many("tokenLimit", 16, fault.retry_after)
    if fault.kind is FaultKind.UNAUTHORIZED:
        return refusal(401, "401 Unauthorized")
    return refusal(fault.status, f"{fault.status} Service Unavailable")


class CloverGateway:
    """Runs API work for the platform behind Clover's checks and the armed faults."""

    def __init__(self, platform: CloverPlatform) -> None:
        self.platform = platform

    def handle(
        self, operation: str, merchant_id: str, authorization: str | None, work: Work
    ) -> Response:
        platform = self.platform
        token = _bearer(authorization)
        if token is None:
            return refusal(401, "401 Unauthorized")
        check = platform.tokens.check_access(token)
        if check.status != "ok" or check.subject != merchant_id:
            return refusal(401, "401 Unauthorized")
        app = check.client_id
        for window, key, name, value in (
            (platform.token_window, token, "tokenLimit", platform.limits.token_per_second),
            (platform.app_window, app, "crossTokenLimit", platform.limits.app_per_second),
        ):
            decision = window.acquire(key)
            if not decision.allowed:
                platform.peak.refused.append(name)
                return too_many(name, value, decision.retry_after.total_seconds())
        return self._held(token, app, operation, work)

    def _held(self, token: str, app: str, operation: str, work: Work) -> Response:
        """Run ``work`` holding a slot of the token and of the app; the request is refused
        when either already has its limit in flight."""
        platform = self.platform
        response: Response | None = None
        with ExitStack() as stack:
            for gate, key, name in (
                (platform.token_gate, token, "tokenConcurrentLimit"),
                (platform.app_gate, app, "crossTokenConcurrentLimit"),
            ):
                if response is None and not stack.enter_context(gate.slot(key)):
                    platform.peak.refused.append(name)
                    response = too_many(name, gate.limit, 1)
            if response is None:
                with platform.lock:
                    peak = platform.peak.in_flight
                    for gate, key in ((platform.token_gate, token), (platform.app_gate, app)):
                        peak[key] = max(peak.get(key, 0), gate.in_flight(key))
                response = self._run(operation, work)
        return response

    def _run(self, operation: str, work: Work) -> Response:
        fault = self.platform.faults.take(operation)
        if fault is not None and fault.kind in BEFORE:
            return before(fault)
        try:
            body = work()
        except NotFoundError as exc:
            return refusal(404, f"404 Not Found: {exc}")
        except QueryError as exc:
            return refusal(400, f"400 Bad Request: {exc}")
        return deliver(fault, JSONResponse(body))


def _bearer(authorization: str | None) -> str | None:
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    return authorization[7:].strip() or None
