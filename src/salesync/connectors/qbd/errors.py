"""From QuickBooks Desktop's answers to salesync's error kinds, in words a merchant can act on.

Two layers fail: a request inside a message set (``statusCode`` / ``statusSeverity``,
ranges and codes from the SDK's status code table:
https://developer.intuit.com/app/developer/qbdesktop/docs/develop/exploring-the-quickbooks-
desktop-sdk/status-codes-in-response-messages), and the Web Connector's connection to
QuickBooks itself (an HRESULT handed to ``receiveResponseXML`` or ``connectionError``:
http://dev.developer.intuit.com/qbSDK-current/OSR/OnscreenRef/QBD-errorcodes.html).
"""

from __future__ import annotations

from typing import Any

from salesync.connectors.qbd.responses import Status
from salesync.domain.errors import (
    AuthError,
    BugError,
    ConflictError,
    MappingError,
    SyncError,
    TransientError,
    ValidationError,
)

PROVIDER = "qbd"

_STATUS: dict[int, tuple[type[SyncError], str]] = {
    1000: (TransientError, "QuickBooks had an internal error; salesync will send it again."),
    1010: (TransientError, "QuickBooks was not available; salesync will send it again."),
    3100: (
        MappingError,
        "QuickBooks already has a list entry with this name (names are unique across "
        "customers, vendors, employees and other names): rename one, or map to the "
        "existing entry.",
    ),
    3120: (MappingError, "QuickBooks cannot find the list entry or transaction it refers to."),
    3140: (
        MappingError,
        "The entry refers to an account, customer or item the company file does not have "
        "(or that is inactive): create it in QuickBooks or map to an existing one.",
    ),
    3170: (ConflictError, "QuickBooks could not change the record; someone may be editing it."),
    3175: (
        ConflictError,
        "The list entry is in use by another QuickBooks user; close it there and salesync "
        "will try again.",
    ),
    3176: (ConflictError, "Another QuickBooks user is editing this record right now."),
    3180: (ValidationError, "QuickBooks would not save the transaction as sent."),
    3200: (
        ConflictError,
        "The record changed in QuickBooks after salesync read it; salesync will re-read it.",
    ),
    3231: (TransientError, "QuickBooks skipped the request after an earlier one failed."),
    3250: (MappingError, "The feature this needs is turned off in the company file."),
    3260: (
        AuthError,
        "The QuickBooks user the Web Connector signs in as lacks permission for this; "
        "grant it in QuickBooks' Integrated Applications preferences.",
    ),
    3261: (AuthError, "The Web Connector was not allowed to read personal data."),
}

_HRESULT: dict[str, tuple[type[SyncError], str]] = {
    "0x80040400": (BugError, "QuickBooks could not read the request salesync sent."),
    "0x80040408": (
        TransientError,
        "The Web Connector could not start QuickBooks; leave QuickBooks open (or allow "
        "access while it is closed) and close any dialog it shows.",
    ),
    "0x80040409": (
        AuthError,
        "QuickBooks and the company file are different versions; open the file once in "
        "QuickBooks to update it.",
    ),
    "0x80040410": (
        TransientError,
        "The company file is open in another mode or by another user; salesync will try again.",
    ),
    "0x80040416": (
        TransientError,
        "QuickBooks is not running and no company file was named; open the company file.",
    ),
    "0x8004041a": (
        AuthError,
        "QuickBooks does not let salesync into this company file; allow it in "
        "Edit > Preferences > Integrated Applications.",
    ),
    "0x80040420": (
        AuthError,
        "The QuickBooks user declined salesync's access; allow it in Integrated "
        "Applications and reconnect.",
    ),
}


def status_error(status: Status, operation: str, **context: Any) -> SyncError:
    """The error a failed request's status means; codes not in the table by their range."""
    known = _STATUS.get(status.code)
    if known is not None:
        kind, words = known
    elif 3000 <= status.code < 3100:
        kind, words = ValidationError, "QuickBooks refused a value salesync sent."
    elif 2000 <= status.code < 3000:
        kind, words = BugError, "This QuickBooks edition does not support the request."
    else:
        kind, words = (
            BugError,
            "QuickBooks refused the request for a reason salesync does not know.",
        )
    return kind(
        f"{operation} failed with statusCode {status.code}: {status.message}",
        user_message=f"{words} (QuickBooks said: {status.message})",
        code=str(status.code),
        provider=PROVIDER,
        operation=operation,
        **context,
    )


def hresult_error(hresult: str, message: str, **context: Any) -> SyncError:
    """The error an HRESULT from the Web Connector means (unknown ones are transient: the
    connection between the Web Connector and QuickBooks failed, not the request)."""
    kind, words = _HRESULT.get(
        hresult.lower(), (TransientError, "The Web Connector lost its connection to QuickBooks.")
    )
    return kind(
        f"the Web Connector reported {hresult}: {message}",
        user_message=words,
        code=hresult.lower(),
        provider=PROVIDER,
        **context,
    )
