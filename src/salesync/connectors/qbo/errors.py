"""QuickBooks Online's faults as salesync's error kinds, in words a merchant can act on.

QBO refuses a request with ``{"Fault": {"Error": [{"Message", "Detail", "code",
"element"}], "type": ...}, "time": ...}``; "HTTP 200 can still contain a Fault", and a
batch answers each item with its own (https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/error-codes).
What each code means and what fixes it:
https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/handling-common-errors
and https://developer.intuit.com/hub/blog/2017/06/08/top-quickbooks-online-api-errors-and-how-to-handle-them.

The status and the fault type decide first (401: reconnect; 429, 5xx and SystemFault:
try again), then the code; a code this table does not know is a bug (DESIGN.md §4).
httpx's own exceptions never pass this module: no answer is transient, and the write may
have happened, which is why the engine reads back before it retries.
"""

from __future__ import annotations

import contextlib
import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from salesync.domain.errors import (
    AuthError,
    BugError,
    ConflictError,
    ErrorKind,
    MappingError,
    SyncError,
    TransientError,
    ValidationError,
)

PROVIDER = "qbo"
ERROR_CODES = (
    "https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/error-codes"
)
COMMON_ERRORS = (
    "https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/"
    "handling-common-errors"
)
LIMITS = "https://developer.intuit.com/app/developer/qbo/docs/learn/limits-and-throttles"
THROTTLE_WAIT = 60.0
"""Intuit: after a 429, wait 60 seconds before the next request (LIMITS)."""


@dataclass(frozen=True, slots=True)
class QboFault:
    """One ``Error`` of a Fault, with the fault's type and the HTTP status it came with."""

    code: str
    message: str
    detail: str
    element: str = ""
    type: str = ""
    status: int = 200

    def as_json(self) -> dict[str, str]:
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "detail": self.detail,
            "element": self.element,
        }


@dataclass(frozen=True, slots=True)
class FaultRule:
    """What one kind of fault means: its error kind, a label, and what the merchant does."""

    kind: ErrorKind
    label: str
    user_message: str
    """May name ``{detail}`` and ``{element}`` from the fault."""
    help_url: str = COMMON_ERRORS


RECONNECT = FaultRule(
    ErrorKind.AUTH,
    "authentication_failed",
    "QuickBooks no longer accepts salesync's sign-in to your company: the access expired or "
    "was revoked. Reconnect QuickBooks in salesync; your sales wait and are posted once you do.",
    ERROR_CODES,
)
NO_ACCESS = FaultRule(
    ErrorKind.AUTH,
    "authorization_failed",
    "The QuickBooks user who connected salesync can no longer use this company (removed, or "
    "no longer an admin). Ask an admin of the company to reconnect QuickBooks in salesync.",
)
SUBSCRIPTION_ENDED = FaultRule(
    ErrorKind.AUTH,
    "subscription_ended",
    "Your QuickBooks Online subscription has ended or has a billing problem, so QuickBooks "
    "accepts no new transactions. Renew it in QuickBooks; salesync keeps your sales and posts "
    "them once the subscription is active again.",
)
THROTTLED = FaultRule(
    ErrorKind.TRANSIENT,
    "throttled",
    "QuickBooks asked salesync to slow down for a minute; it carries on by itself.",
    LIMITS,
)
SERVER_ERROR = FaultRule(
    ErrorKind.TRANSIENT,
    "server_error",
    "QuickBooks had a problem on its side; salesync checks what was saved and tries again "
    "shortly by itself.",
    ERROR_CODES,
)
INACTIVE = FaultRule(
    ErrorKind.MAPPING,
    "inactive_reference",
    "Something this posting uses in QuickBooks (an account, product, customer, class or "
    "location) was made inactive or no longer exists. Reactivate it in QuickBooks, or map the "
    "salesync value to another one, then retry.",
)
DUPLICATE_NUMBER = FaultRule(
    ErrorKind.CONFLICT,
    "duplicate_doc_number",
    "QuickBooks already has a transaction with the number salesync gives this posting, and "
    "salesync did not write it, so it will not post over it. Look that transaction up in "
    "QuickBooks: renumber or delete it if it is a mistake, then retry. QuickBooks said: {detail}",
)
PERIOD_CLOSED = FaultRule(
    ErrorKind.VALIDATION,
    "period_closed",
    "The books are closed for this date in QuickBooks. Move the closing date (Account and "
    "settings, Advanced, Close the books) or ask your accountant, then retry.",
)
BUG = FaultRule(
    ErrorKind.BUG,
    "request_refused",
    "salesync sent QuickBooks a request it could not accept; a developer has been told and "
    "the posting is kept to be sent again once it is fixed.",
    ERROR_CODES,
)

RULES: dict[str, FaultRule] = {
    # One namespace for customers, vendors and employees; names may not hold a colon.
    "6240": FaultRule(
        ErrorKind.MAPPING,
        "duplicate_name",
        "QuickBooks already has a customer, vendor, employee or list entry with the name "
        "salesync needs, and it cannot be used here. Rename one of them in QuickBooks or map "
        "this value to the existing one, then retry. QuickBooks said: {detail}",
    ),
    # Intuit's blog lists "Duplicate Document Number" as 6210; the API answers 6140.
    "6140": DUPLICATE_NUMBER,
    "610": INACTIVE,
    "620": INACTIVE,  # named by our issue for inactive references; not in Intuit's tables
    "2500": INACTIVE,
    "6000": FaultRule(
        ErrorKind.VALIDATION,
        "business_rule",
        "QuickBooks refused this transaction: {detail}. Correct it in QuickBooks or in "
        "salesync's mapping for this connection, then retry.",
    ),
    "6190": SUBSCRIPTION_ENDED,
    "3200": RECONNECT,
    "120": NO_ACCESS,
    "3100": NO_ACCESS,
    "3001": THROTTLED,
    "003001": THROTTLED,
    "10000": SERVER_ERROR,
    # A stale SyncToken: the object changed in QuickBooks since salesync read it. The
    # books forget what they read of the company, so the retry reads it again first
    # (https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/change-data-capture
    # and the Stale Object Error, 5010, in the error code list).
    "5010": FaultRule(
        ErrorKind.TRANSIENT,
        "stale_object",
        "Someone changed a record in QuickBooks while salesync was saving; salesync reads "
        "it again and tries once more by itself.",
    ),
    "2050": FaultRule(
        ErrorKind.VALIDATION,
        "too_long",
        "A value is longer than QuickBooks allows ({element}): {detail}. Shorten it where the "
        "sale came from, then retry.",
    ),
    "6080": FaultRule(
        ErrorKind.VALIDATION,
        "no_name",
        "QuickBooks needs a name for the customer on this sale, and the sale gave none.",
    ),
    # salesync built a request QuickBooks cannot read: a developer's fix.
    "500": BUG,  # Unsupported Operation (non-UTF-8 body, wrong operation)
    "1040": BUG,  # batch larger than 30
    "2010": BUG,
    "2020": BUG,
    "2170": BUG,
    "4000": BUG,
    "4001": BUG,
    "6010": BUG,
    "6070": BUG,
}


def rule_for(fault: QboFault) -> FaultRule:
    """The rule of one fault: status and type first, then the code, else a bug."""
    if fault.status == 401 or fault.type == "AuthenticationFault" or fault.code == "3200":
        return RECONNECT
    if fault.status == 429 or fault.code in ("3001", "003001") or "Throttle" in fault.message:
        return THROTTLED
    if fault.code == "6190":
        return SUBSCRIPTION_ENDED
    if fault.status == 403 or fault.type == "AuthorizationFault":
        return NO_ACCESS
    if fault.status >= 500 or fault.type == "SystemFault":
        return SERVER_ERROR
    if fault.code == "6210":
        # One code, two meanings in Intuit's own table: a reused number or a closed period.
        return PERIOD_CLOSED if "period" in fault.message.lower() else DUPLICATE_NUMBER
    return RULES.get(fault.code, BUG)


def faults_in(body: Any, status: int) -> list[QboFault]:
    """The errors of a ``Fault`` object (top level of a body, or of one batch item)."""
    fault = body.get("Fault") if isinstance(body, dict) else None
    if not isinstance(fault, dict):
        return []
    errors = fault.get("Error")
    found = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    kind = str(fault.get("type") or "")
    return [
        QboFault(
            code=str(e.get("code") or ""),
            message=str(e.get("Message") or ""),
            detail=str(e.get("Detail") or ""),
            element=str(e.get("element") or ""),
            type=kind,
            status=status,
        )
        for e in found
    ] or [QboFault("", "Fault without errors", "", type=kind, status=status)]


_KINDS: dict[ErrorKind, type[SyncError]] = {
    ErrorKind.AUTH: AuthError,
    ErrorKind.MAPPING: MappingError,
    ErrorKind.VALIDATION: ValidationError,
    ErrorKind.CONFLICT: ConflictError,
    ErrorKind.BUG: BugError,
}


def fault_error(
    fault: QboFault,
    *,
    operation: str,
    retry_after: float | None = None,
    details: dict[str, Any] | None = None,
    **context: Any,
) -> SyncError:
    """The salesync error for one QBO fault; ``context`` names connection, documents..."""
    rule = rule_for(fault)
    message = (
        f"qbo {operation} refused ({fault.status} {fault.type} {fault.code} {fault.message}): "
        f"{fault.detail}"
    )
    user_message = rule.user_message.format(
        detail=fault.detail or fault.message, element=fault.element or "a field"
    )
    shared: dict[str, Any] = {
        "user_message": user_message,
        "code": rule.label,
        "help_url": rule.help_url,
        "provider": PROVIDER,
        "operation": operation,
        "details": {**(details or {}), "fault": fault.as_json()},
        **context,
    }
    if rule.kind is ErrorKind.TRANSIENT:
        wait = retry_after
        if wait is None and rule is THROTTLED:
            wait = THROTTLE_WAIT
        return TransientError(message, retry_after=wait, **shared)
    return _KINDS[rule.kind](message, **shared)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def response_details(response: httpx.Response) -> dict[str, Any]:
    """What a developer needs: never the Authorization header or the body sent."""
    request = response.request
    return {
        "method": request.method,
        "path": request.url.path,
        "status": response.status_code,
        "intuit_tid": response.headers.get("intuit_tid", ""),
    }


def status_fault(response: httpx.Response) -> QboFault:
    """A fault for an error answer without a Fault body (a gateway's HTML 504...)."""
    return QboFault(
        code="",
        message=f"HTTP {response.status_code} {response.reason_phrase}",
        detail=response.text[:300],
        status=response.status_code,
    )


def unanswered(exc: httpx.HTTPError, *, operation: str, **context: Any) -> SyncError:
    """No answer at all: the request may or may not have been carried out."""
    details: dict[str, Any] = {"error": type(exc).__name__}
    with contextlib.suppress(RuntimeError):  # raised before a request existed
        details |= {"method": exc.request.method, "path": exc.request.url.path}
    if isinstance(exc, httpx.TransportError):
        return TransientError(
            f"qbo {operation} got no answer: {type(exc).__name__}: {exc}",
            user_message="QuickBooks did not answer, so salesync cannot tell yet whether this "
            "was saved; it checks QuickBooks before trying again.",
            code="no_answer",
            help_url=ERROR_CODES,
            provider=PROVIDER,
            operation=operation,
            details=details,
            **context,
        )
    return BugError(
        f"qbo {operation} could not be sent: {type(exc).__name__}: {exc}",
        code="request_failed",
        provider=PROVIDER,
        operation=operation,
        details=details,
        **context,
    )


def malformed(response: httpx.Response, *, operation: str, **context: Any) -> TransientError:
    """A success whose body cannot be read: cut short on the way, so it may have written."""
    return TransientError(
        f"qbo {operation} answered {response.status_code} with a body that is not the "
        "documented JSON",
        user_message="QuickBooks' answer arrived broken, so salesync cannot tell whether this "
        "was saved; it checks QuickBooks before trying again.",
        code="malformed_response",
        help_url=ERROR_CODES,
        provider=PROVIDER,
        operation=operation,
        details={**response_details(response), "body": response.text[:300]},
        **context,
    )
