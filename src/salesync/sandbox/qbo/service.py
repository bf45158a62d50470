"""The path every QBO API call takes: token, company status, limits, faults, replay, work.

Limits are Intuit's documented throttles
(https://developer.intuit.com/app/developer/qbo/docs/learn/limits-and-throttles and
https://blogs.intuit.com/2016/08/08/idg-concurrent-api-use-changes-coming-soon/):
500 requests a minute and 10 in flight per realm, and 40 batch requests a minute.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.responses import JSONResponse, Response

from salesync.sandbox.delivery import deliver
from salesync.sandbox.faults import BEFORE, Fault, FaultKind, FaultPlan
from salesync.sandbox.limits import CallWindow, ConcurrencyGate
from salesync.sandbox.oauth import TokenAuthority, TokenPolicy
from salesync.sandbox.qbo import errors
from salesync.sandbox.qbo.company import QboCompany, RequestRecord

INTUIT_TOKENS = TokenPolicy(
    # https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/faq
    access_ttl=timedelta(hours=1),
    # "valid for 100 days ... a rolling expiry date that is extended each time the token is
    # used": https://blogs.intuit.com/2024/06/03/oauth-token-management-done-the-right-way/
    refresh_idle_ttl=timedelta(days=100),
    # The value returned by a refresh changes about once a day, after which only the latest
    # value works (https://github.com/intuit/oauth-pythonclient/issues/26).
    rotate_after=timedelta(hours=24),
    reuse_grace=timedelta(0),
    # https://blogs.a.intuit.com/2025/11/12/important-changes-to-refresh-token-policy
    refresh_max_age=timedelta(days=5 * 365),
)
MINUTE_LIMIT = 500
BATCH_MINUTE_LIMIT = 40
CONCURRENT_LIMIT = 10
LATEST_MINOR_VERSION = 75
"""Since 1 August 2025 lower minor versions are ignored and answered as 75:
https://blogs.intuit.com/2025/01/21/changes-to-our-accounting-api-that-may-impact-your-application"""
REQUESTID_MAX = 50
BATCH_REQUESTID_MAX = 36
"""https://blogs.intuit.com/2015/04/06/15346/"""

Work = Callable[[], tuple[int, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class ApiCall:
    """What the service needs to know about one incoming API request."""

    method: str
    realm_id: str
    operation: str
    authorization: str | None
    requestid: str | None
    minorversion: str | None
    armed_as: str | None = None
    """The name its faults are armed under when not ``operation``: "batch:Customer" for
    a batch of Customer operations only, which still counts as a batch call."""


class QboSandbox:
    """One company behind Intuit's gatekeeping: OAuth, limits, faults and requestid replay."""

    def __init__(self, company: QboCompany, faults: FaultPlan, authority: TokenAuthority) -> None:
        self.company = company
        self.faults = faults
        self.authority = authority
        self.minute = CallWindow(MINUTE_LIMIT, timedelta(minutes=1), company.now)
        self.batch_minute = CallWindow(BATCH_MINUTE_LIMIT, timedelta(minutes=1), company.now)
        self.gate = ConcurrencyGate(CONCURRENT_LIMIT)

    def respond(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Response:
        return JSONResponse(
            body, status_code=status, headers={"intuit_tid": uuid.uuid4().hex, **(headers or {})}
        )

    def fault(self, error: errors.QboError, headers: dict[str, str] | None = None) -> Response:
        return self.respond(error.status, errors.fault_body(error, self.company.now()), headers)

    def handle(self, call: ApiCall, work: Work) -> Response:
        """Run ``work`` behind every check QBO makes, in QBO's order; never raises QboError."""
        minor = LATEST_MINOR_VERSION
        status = 0
        try:
            minor = self._minor_version(call.minorversion)
            self._authorize(call)
            with self.gate.slot(call.realm_id) as admitted:
                if not admitted:
                    raise errors.throttled()
                response = self._within_limits(call, work)
                status = response.status_code
                return response
        except errors.QboError as error:
            status = error.status
            return self.fault(error)
        finally:
            self.company.record(
                RequestRecord(
                    self.company.now(),
                    call.method,
                    call.operation,
                    call.requestid,
                    minor,
                    status,
                )
            )

    def _minor_version(self, raw: str | None) -> int:
        if raw is None or raw == "":
            return LATEST_MINOR_VERSION
        if not raw.isdigit():
            raise errors.QboError(
                "2010",
                "Request has invalid or unsupported property",
                f"Property Name:minorversion specified is unsupported or invalid: {raw}",
                element="minorversion",
            )
        return max(int(raw), LATEST_MINOR_VERSION)

    def _authorize(self, call: ApiCall) -> None:
        header = call.authorization or ""
        if not header.lower().startswith("bearer "):
            raise errors.authentication_failed(
                "Authorization header is missing or not a Bearer token"
            )
        check = self.authority.check_access(header[7:].strip())
        if check.status == "invalid":
            raise errors.authentication_failed("Token revoked or invalid")
        if check.status == "expired":
            raise errors.authentication_failed(f"Token expired: {check.expires_at}")
        if check.subject != call.realm_id or call.realm_id != self.company.realm_id:
            raise errors.QboError(
                "3100",
                "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                f"The token does not give access to company {call.realm_id}",
                fault_type="AuthorizationFault",
                status=403,
            )
        if not self.company.settings.subscription_active:
            raise errors.invalid_company_status()

    def _within_limits(self, call: ApiCall, work: Work) -> Response:
        if not self.minute.acquire(call.realm_id).allowed:
            raise errors.throttled()
        if call.operation == "batch" and not self.batch_minute.acquire(call.realm_id).allowed:
            raise errors.throttled()
        fault = self.faults.take(call.armed_as or call.operation)
        if fault is not None and fault.kind in BEFORE:
            return self._before_fault(fault)
        if call.requestid is not None:
            limit = BATCH_REQUESTID_MAX if call.operation == "batch" else REQUESTID_MAX
            if len(call.requestid) > limit:
                raise errors.too_long("requestid", limit, len(call.requestid))
        with self.company.lock:
            replay = self.company.replay(call.requestid) if call.requestid else None
            if replay is not None:
                status, body = replay.status, replay.body
            else:
                try:
                    status, body = work()
                except errors.QboError as error:
                    status, body = error.status, errors.fault_body(error, self.company.now())
                if call.requestid:
                    self.company.remember(call.requestid, status, body)
        return deliver(fault, self.respond(status, body))

    def _before_fault(self, fault: Fault) -> Response:
        if fault.kind is FaultKind.RATE_LIMITED:
            return self.fault(errors.throttled(), {"Retry-After": str(int(fault.retry_after))})
        if fault.kind is FaultKind.UNAUTHORIZED:
            return self.fault(errors.authentication_failed("Token expired"))
        error = errors.system_error()
        error.status = fault.status
        return self.fault(error)
