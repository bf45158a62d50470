"""Checks every QBO object shares: references to name-list objects, amounts, strings."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from salesync.sandbox.qbo import errors
from salesync.sandbox.qbo.company import QboCompany

REFERENCE_TARGETS: dict[str, str] = {
    "CustomerRef": "Customer",
    "ItemRef": "Item",
    "AccountRef": "Account",
    "DepositToAccountRef": "Account",
    "IncomeAccountRef": "Account",
    "AssetAccountRef": "Account",
    "ExpenseAccountRef": "Account",
    "DiscountAccountRef": "Account",
    "ARAccountRef": "Account",
    "ClassRef": "Class",
    "DepartmentRef": "Department",
    "PaymentMethodRef": "PaymentMethod",
    "TaxCodeRef": "TaxCode",
}

CENT = Decimal("0.01")


def resolve_ref(
    company: QboCompany, holder: dict[str, Any], field: str, *, required: bool = False
) -> dict[str, str] | None:
    """Check ``holder[field]`` names an existing, active object; return the filled-in ref.

    A missing object is 2500 Invalid Reference Id; an inactive one is 610 Object Not Found,
    as https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/handling-common-errors
    describes.
    """
    ref = holder.get(field)
    if ref is None:
        if required:
            raise errors.required(field)
        return None
    if not isinstance(ref, dict) or not str(ref.get("value", "")).strip():
        raise errors.required(f"{field}.value")
    ref_id = str(ref["value"])
    target = company.get(REFERENCE_TARGETS[field], ref_id)
    if target is None:
        raise errors.invalid_reference(field, ref_id)
    if not target.get("Active", True):
        raise errors.object_not_found(field, ref_id)
    name = target.get("DisplayName") or target.get("Name") or ""
    resolved = {"value": ref_id, "name": str(name)}
    holder[field] = resolved
    return resolved


def require_ref(company: QboCompany, holder: dict[str, Any], field: str) -> dict[str, str]:
    """Like ``resolve_ref`` for a reference the object cannot do without."""
    resolved = resolve_ref(company, holder, field, required=True)
    if resolved is None:
        raise errors.required(field)
    return resolved


def amount(value: Any, element: str, *, required: bool = True) -> Decimal:
    """A money amount from JSON, to the cent; 2020 when required and absent."""
    if value is None:
        if required:
            raise errors.required(element)
        return Decimal(0)
    if isinstance(value, bool):
        raise _invalid_property(element)
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        raise _invalid_property(element) from None
    if not parsed.is_finite():
        raise _invalid_property(element)
    return parsed


def as_json_number(value: Decimal) -> float:
    """QBO answers amounts as JSON numbers rounded to the cent."""
    return float(value.quantize(CENT))


def check_length(obj: dict[str, Any], element: str, maximum: int) -> None:
    value = obj.get(element)
    if value is not None and len(str(value)) > maximum:
        raise errors.too_long(element, maximum, len(str(value)))


def _invalid_property(element: str) -> errors.QboError:
    return errors.QboError(
        "2010",
        "Request has invalid or unsupported property",
        f"Property Name:{element} specified is unsupported or invalid",
        element=element,
    )
