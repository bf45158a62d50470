"""The path every REST call takes: basic auth with an API token, burst limit, faults, work.

Scripts and integrations reach Jira Cloud with basic auth of the account's e-mail and an
API token (https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/).
Traffic authenticated that way is governed by burst limits whose numbers Atlassian does
not publish (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/), so the
sandbox has none until one is set; a refusal is 429 with ``Retry-After`` (seconds),
``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (a timestamp) and
``RateLimit-Reason``.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta

from starlette.responses import JSONResponse, Response

from salesync.sandbox.delivery import deliver
from salesync.sandbox.faults import BEFORE, Fault, FaultKind, FaultPlan
from salesync.sandbox.jira import errors
from salesync.sandbox.jira.site import Account, JiraSite
from salesync.sandbox.limits import CallWindow
from salesync.sandbox.replies import ApiError, Reply

Work = Callable[[Account], Reply]


@dataclass(frozen=True, slots=True)
class ApiCall:
    method: str
    operation: str
    """The fault plan's name for it: create_issue, get_issue, edit_issue, get_transitions,
    transition_issue, add_comment, get_comments, search or myself."""
    authorization: str | None


class JiraSandbox:
    """One site behind Jira Cloud's gatekeeping: API tokens, burst limit, faults."""

    def __init__(self, site: JiraSite, faults: FaultPlan) -> None:
        self.site = site
        self.faults = faults
        self.burst: CallWindow | None = None

    def limit(self, calls: int | None, seconds: float = 1.0) -> None:
        """Allow ``calls`` requests per account in any ``seconds``; None lifts the limit."""
        self.burst = (
            None if calls is None else CallWindow(calls, timedelta(seconds=seconds), self.site.now)
        )

    def handle(self, call: ApiCall, work: Work) -> Response:
        """Run ``work`` behind every check Jira makes; never raises."""
        account: Account | None = None
        status = 0
        try:
            account = self._authenticate(call.authorization)
            self._count(account)
            fault = self.faults.take(call.operation)
            if fault is not None and fault.kind in BEFORE:
                response = self.render(_before_fault(fault))
            else:
                try:
                    with self.site.lock:
                        reply = work(account)
                except ApiError as error:
                    reply = error.reply
                response = deliver(fault, self.render(reply))
            status = response.status_code
            return response
        except ApiError as error:
            status = error.reply.status
            return self.render(error.reply)
        finally:
            with self.site.lock:
                self.site.requests.append(
                    {
                        "at": self.site.now().isoformat(),
                        "method": call.method,
                        "operation": call.operation,
                        "account": account.account_id if account else None,
                        "status": status,
                    }
                )

    def render(self, reply: Reply) -> Response:
        headers = {"X-AREQUESTID": "sandbox", **reply.headers}
        if reply.body is None:
            return Response(status_code=reply.status, headers=headers)
        return JSONResponse(reply.body, status_code=reply.status, headers=headers)

    def _authenticate(self, authorization: str | None) -> Account:
        scheme, _, value = (authorization or "").strip().partition(" ")
        if scheme.lower() != "basic" or not value:
            raise errors.unauthenticated()
        try:
            email, _, token = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise errors.unauthenticated() from None
        account = self.site.authenticate(email, token)
        if account is None:
            raise errors.unauthenticated()
        return account

    def _count(self, account: Account) -> None:
        if self.burst is None:
            return
        decision = self.burst.acquire(account.account_id)
        if decision.allowed:
            return
        wait = max(math.ceil(decision.retry_after.total_seconds()), 1)
        reset = (self.site.now() + timedelta(seconds=wait)).astimezone(UTC)
        raise errors.rate_limited(
            {
                "Retry-After": str(wait),
                "X-RateLimit-Limit": str(self.burst.limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%MZ"),
                "RateLimit-Reason": "jira-burst-based",
            }
        )


def _before_fault(fault: Fault) -> Reply:
    if fault.kind is FaultKind.RATE_LIMITED:
        return errors.rate_limited(
            {
                "Retry-After": str(max(math.ceil(fault.retry_after), 1)),
                "RateLimit-Reason": "jira-quota-based",
            }
        ).reply
    if fault.kind is FaultKind.UNAUTHORIZED:
        return errors.unauthenticated().reply
    retry = max(math.ceil(fault.retry_after), 1) if fault.status == 503 else None
    return errors.server_error(fault.status, retry).reply
