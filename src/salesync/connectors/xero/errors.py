"""Xero's answers sorted into salesync's error kinds, with what to tell the merchant.

Xero documents its codes at https://developer.xero.com/documentation/api/http-response-codes:
400 with an ``ApiException`` (``ErrorNumber`` 10 ``ValidationException`` listing the
failed ``Elements``; 16 ``QueryParseException``), 401 for a token that expired or was
revoked, 403 when the app may not reach the organisation, 404, 429 for the rate limits
(``X-Rate-Limit-Problem`` names minute, day, appminute or concurrent; ``Retry-After``
says how long, https://developer.xero.com/documentation/guides/oauth2/limits/), 500, 501
and 503 for an outage or an "Organisation offline". With ``summarizeErrors=false`` a batch
answers 200 and each element carries its own ``ValidationErrors``; those are sorted by
their message (``element_error``). Anything the table does not know is a ``bug``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

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

PROVIDER = "xero"
RESPONSE_CODES = "https://developer.xero.com/documentation/api/http-response-codes"
LIMITS = "https://developer.xero.com/documentation/guides/oauth2/limits/"
TROUBLESHOOTING = "https://developer.xero.com/documentation/guides/oauth2/troubleshooting"
STATUS_PAGE = "https://status.xero.com"
ACCOUNTS_HELP = "https://developer.xero.com/documentation/api/accounting/accounts"
CURRENCIES_HELP = "https://developer.xero.com/documentation/api/accounting/currencies"
TRACKING_HELP = "https://developer.xero.com/documentation/api/accounting/trackingcategories"
ITEMS_HELP = "https://developer.xero.com/documentation/api/accounting/items"
CONTACTS_HELP = "https://developer.xero.com/documentation/api/accounting/contacts"

DEFAULT_WAITS = {"minute": 60.0, "appminute": 60.0, "concurrent": 1.0, "day": 3600.0}
"""Seconds to wait when a 429 names its limit without Retry-After (Xero sends it for the
minute and day limits only)."""


def _body(response: httpx.Response) -> dict[str, object]:
    try:
        found = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return found if isinstance(found, dict) else {}


def _detail(response: httpx.Response) -> str:
    body = _body(response)
    for field in ("Detail", "Message", "Title"):
        if body.get(field):
            return str(body[field])
    return response.text[:200].strip()


def retry_after(response: httpx.Response) -> float:
    """How long a 429 asks us to wait, in seconds."""
    raw = response.headers.get("retry-after", "")
    if raw.strip().isdigit():
        return float(raw)
    problem = response.headers.get("x-rate-limit-problem", "minute").lower()
    return DEFAULT_WAITS.get(problem, 60.0)


def response_error(response: httpx.Response, operation: str) -> SyncError:
    """The error for a whole request Xero did not carry out (or may have carried out)."""
    status = response.status_code
    detail = _detail(response)
    internal = f"Xero answered {status} to {operation}: {detail}"
    details = {"status": status, "detail": detail}
    if status == 429:
        return _throttled(response, internal, operation)
    if status == 401:
        return AuthError(
            internal,
            user_message="Xero no longer accepts salesync's sign-in for this organisation. "
            "Reconnect Xero in salesync; nothing is lost and syncing resumes where it stopped.",
            code="token_rejected",
            help_url=TROUBLESHOOTING,
            details=details,
            provider=PROVIDER,
            operation=operation,
        )
    if status == 403:
        return AuthError(
            internal,
            user_message="Xero refused access to the organisation: salesync was disconnected "
            "from it in Xero, or the connection points at another organisation. Reconnect "
            "Xero in salesync and pick the organisation your sales belong in.",
            code="organisation_not_connected",
            help_url=TROUBLESHOOTING,
            details=details,
            provider=PROVIDER,
            operation=operation,
        )
    if status == 503 and "offline" in detail.lower():
        return TransientError(
            internal,
            user_message="Xero has taken this organisation offline for a moment (usually "
            "maintenance on its data); salesync tries again shortly.",
            code="organisation_offline",
            help_url=STATUS_PAGE,
            retry_after=60.0,
            details=details,
            provider=PROVIDER,
            operation=operation,
        )
    if status in (500, 502, 503, 504):
        return TransientError(
            internal,
            user_message="Xero is not answering properly right now; salesync tries again "
            "shortly and checks first whether anything was already recorded.",
            code="xero_unavailable" if status == 503 else "xero_error",
            help_url=STATUS_PAGE,
            details=details,
            provider=PROVIDER,
            operation=operation,
        )
    return _request_bug(response, internal, details, operation)


def _throttled(response: httpx.Response, internal: str, operation: str) -> TransientError:
    problem = response.headers.get("x-rate-limit-problem", "minute").lower()
    wait = retry_after(response)
    if problem == "day":
        message = (
            "Xero's daily limit of calls for this organisation is used up (it allows 5,000 a "
            "day for each connected app); syncing carries on automatically when it resets."
        )
    else:
        message = "Xero asked salesync to slow down; it carries on automatically in a moment."
    return TransientError(
        internal,
        user_message=message,
        code="day_limit" if problem == "day" else "rate_limited",
        help_url=LIMITS,
        retry_after=wait,
        provider=PROVIDER,
        operation=operation,
        details={"status": 429, "problem": problem, "retry_after": wait},
    )


def _request_bug(
    response: httpx.Response, internal: str, details: dict[str, object], operation: str
) -> BugError:
    body = _body(response)
    number = body.get("ErrorNumber")
    if number == 16:
        code = "query_invalid"
    elif number == 10:
        code = "request_invalid"
    elif "idempotency key" in str(details["detail"]).lower():
        code = "idempotency_key_reused"
    elif response.status_code == 404:
        code = "not_found"
    else:
        code = f"http_{response.status_code}"
    return BugError(
        internal,
        user_message="salesync sent Xero a request it could not accept; a developer has been "
        "told and the affected sales wait safely until it is fixed.",
        code=code,
        help_url=RESPONSE_CODES,
        provider=PROVIDER,
        operation=operation,
        details={**details, "error_number": number},
    )


def malformed(response: httpx.Response, operation: str) -> TransientError:
    """A success whose body cannot be read: the work may be done, so read back first."""
    return TransientError(
        f"Xero answered {response.status_code} to {operation} with a body that is not the "
        f"JSON it documents: {response.text[:120]!r}",
        user_message="Xero's answer arrived garbled; salesync checks what was recorded and "
        "tries again shortly.",
        code="malformed_answer",
        help_url=STATUS_PAGE,
        provider=PROVIDER,
        operation=operation,
    )


def transport_error(exc: httpx.TransportError, operation: str) -> TransientError:
    """No (complete) answer: a timeout, a refused or dropped connection."""
    return TransientError(
        f"no answer from Xero to {operation}: {type(exc).__name__}: {exc}",
        user_message="salesync could not hear back from Xero; it checks what was recorded "
        "and tries again shortly.",
        code="no_answer",
        help_url=STATUS_PAGE,
        provider=PROVIDER,
        operation=operation,
    )


@dataclass(frozen=True, slots=True)
class Rule:
    """A ``ValidationErrors`` message pattern and what it means for the merchant."""

    pattern: str
    kind: ErrorKind
    code: str
    advice: str
    help_url: str = RESPONSE_CODES


ELEMENT_RULES: tuple[Rule, ...] = (
    Rule(
        r"account code .* not a valid code|account could not be found",
        ErrorKind.MAPPING,
        "account_invalid",
        "an account it uses does not exist in Xero or is archived. Pick an active account "
        "for it in salesync's Xero account mapping",
        ACCOUNTS_HELP,
    ),
    Rule(
        r"payments can only be made to a bank account",
        ErrorKind.MAPPING,
        "account_not_payable",
        "the account its payment goes to does not accept payments. Map the tender to a bank "
        "account, or tick 'Enable payments to this account' on it in Xero",
        ACCOUNTS_HELP,
    ),
    Rule(
        r"not a bank account|account of type bank",
        ErrorKind.MAPPING,
        "account_not_bank",
        "the account its money goes into is not a bank account in Xero. Map the tender to a "
        "bank account in salesync's Xero settings, or choose the invoice sales form",
        ACCOUNTS_HELP,
    ),
    Rule(
        r"taxtype code|tax rate",
        ErrorKind.MAPPING,
        "tax_type_invalid",
        "a tax rate it uses is not active in Xero. Check salesync's Xero tax settings",
    ),
    Rule(
        r"tracking (category|option)",
        ErrorKind.MAPPING,
        "tracking_invalid",
        "its tracking category or option is not active in Xero. Add it in Xero or change "
        "the location's tracking in salesync",
        TRACKING_HELP,
    ),
    Rule(
        r"item code",
        ErrorKind.MAPPING,
        "item_invalid",
        "a product it sells has no item in Xero. Add the item in Xero or let salesync create items",
        ITEMS_HELP,
    ),
    Rule(
        r"currency .* not enabled|currency .* not valid",
        ErrorKind.MAPPING,
        "currency_not_enabled",
        "its currency is not enabled in this Xero organisation. Add the currency in Xero",
        CURRENCIES_HELP,
    ),
    Rule(
        r"contact .* archived",
        ErrorKind.MAPPING,
        "contact_archived",
        "its customer's contact is archived in Xero. Restore the contact in Xero",
        CONTACTS_HELP,
    ),
    Rule(
        r"must be unique|already assigned",
        ErrorKind.CONFLICT,
        "duplicate_number",
        "Xero already holds another document under the same number. Review it in Xero",
    ),
    Rule(
        r"lock date|locked period|period is locked|financial year end",
        ErrorKind.CONFLICT,
        "period_locked",
        "its date falls in a period locked in Xero. Ask your bookkeeper to move the lock "
        "date or approve posting it on a later date",
    ),
    Rule(
        r"exceeds the amount outstanding|only be made against authorised|cannot be edited",
        ErrorKind.CONFLICT,
        "document_changed",
        "the document was changed in Xero after salesync wrote it. Review it in Xero",
    ),
    Rule(
        r"does not match the expected line total|total debits|must be specified|needs a",
        ErrorKind.BUG,
        "payload_invalid",
        "salesync built it wrongly; a developer has been told",
    ),
)


def element_error(
    messages: Sequence[str],
    *,
    subject: str,
    operation: str,
    documents: tuple[str, ...] = (),
) -> SyncError:
    """The error for one element Xero refused, from its ``ValidationErrors`` messages."""
    joined = "; ".join(messages) or "no reason given"
    rule = next(
        (r for r in ELEMENT_RULES if any(re.search(r.pattern, m, re.IGNORECASE) for m in messages)),
        None,
    )
    if rule is None:
        return ValidationError(
            f"Xero refused {subject} in {operation}: {joined}",
            user_message=f"Xero refused {subject}: {joined}. Correct it at the source or in "
            "salesync's Xero settings; it is held until then.",
            code="rejected",
            help_url=RESPONSE_CODES,
            provider=PROVIDER,
            operation=operation,
            documents=documents,
            details={"messages": list(messages)},
        )
    kinds: dict[ErrorKind, type[SyncError]] = {
        ErrorKind.MAPPING: MappingError,
        ErrorKind.CONFLICT: ConflictError,
        ErrorKind.BUG: BugError,
    }
    return kinds[rule.kind](
        f"Xero refused {subject} in {operation}: {joined}",
        user_message=f"Xero refused {subject}: {rule.advice}. (Xero said: {joined})",
        code=rule.code,
        help_url=rule.help_url,
        provider=PROVIDER,
        operation=operation,
        documents=documents,
        details={"messages": list(messages)},
    )
