"""QuickBooks Online faults: the error raised inside the sandbox and the body QBO sends.

Shape and codes follow
https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/error-codes
and .../handling-common-errors: ``{"Fault": {"Error": [...], "type": ...}, "time": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

FaultType = Literal["ValidationFault", "SystemFault", "AuthenticationFault", "AuthorizationFault"]


@dataclass(frozen=True, slots=True)
class QboErrorDetail:
    """One ``Error`` element of a Fault."""

    code: str
    message: str
    detail: str
    element: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "Message": self.message,
            "Detail": self.detail,
            "code": self.code,
            "element": self.element,
        }


class QboError(Exception):
    """A request QBO refuses; becomes a Fault body with ``status`` (or inside a batch item)."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        *,
        element: str = "",
        fault_type: FaultType = "ValidationFault",
        status: int = 400,
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.error = QboErrorDetail(code, message, detail, element)
        self.fault_type = fault_type
        self.status = status

    def fault(self) -> dict[str, Any]:
        """The ``Fault`` object, as it appears alone or inside a ``BatchItemResponse``."""
        return {"Error": [self.error.as_json()], "type": self.fault_type}


def fault_body(error: QboError, now: datetime) -> dict[str, Any]:
    return {"Fault": error.fault(), "time": qbo_time(now)}


def qbo_time(now: datetime) -> str:
    """QBO's response timestamp: ISO 8601 with milliseconds and an offset."""
    return now.isoformat(timespec="milliseconds")


def required(element: str) -> QboError:
    return QboError(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element=element,
    )


def invalid_reference(element: str, ref_id: str) -> QboError:
    return QboError(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {element} assigned is not found: {ref_id}",
        element=element,
    )


def object_not_found(element: str, ref_id: str) -> QboError:
    # https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/handling-common-errors
    # 610 is what a transaction gets when it points at an inactive name-list object.
    return QboError(
        "610",
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive. "
        f"Check the fields with accounts, customers, items, vendors or employees. "
        f"({element} {ref_id})",
        element=element,
    )


def too_long(element: str, maximum: int, supplied: int) -> QboError:
    # https://www.chargebee.com/docs/billing/2.0/kb/accounting/qbo-error-code2050
    return QboError(
        "2050",
        "String length is either shorter or longer than supported by specification",
        f"String length specified does not match the supported length. "
        f"Min:0 Max:{maximum} supplied length:{supplied}",
        element=element,
    )


def business_rule(detail: str, element: str = "") -> QboError:
    return QboError(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element=element,
    )


def system_error() -> QboError:
    return QboError(
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: An unexpected error occurred while accessing or saving your data.",
        fault_type="SystemFault",
        status=500,
    )


def throttled() -> QboError:
    # https://blogs.intuit.com/2016/08/08/idg-concurrent-api-use-changes-coming-soon/
    return QboError(
        "3001",
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit for this company has been exceeded. Wait 60 seconds and retry.",
        fault_type="SystemFault",
        status=429,
    )


def authentication_failed(detail: str) -> QboError:
    return QboError(
        "3200",
        "message=AuthenticationFailed; errorCode=003200; statusCode=401",
        detail,
        fault_type="AuthenticationFault",
        status=401,
    )


def invalid_company_status() -> QboError:
    return QboError(
        "6190",
        "Invalid Company Status",
        "Subscription period has ended or canceled or there was a billing problem : "
        "You can't add data to QuickBooks Online because your trial or subscription "
        "period ended, you canceled your subscription, or there was a billing problem.",
        fault_type="AuthorizationFault",
        status=403,
    )


def not_found(entity: str, entity_id: str) -> QboError:
    return QboError(
        "610",
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive or "
        f"does not exist. ({entity} Id {entity_id})",
    )
