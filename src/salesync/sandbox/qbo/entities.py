"""Create, read and update of QBO objects, with SyncToken concurrency and name lists."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from salesync.sandbox.qbo import errors
from salesync.sandbox.qbo.company import QboCompany
from salesync.sandbox.qbo.references import as_json_number, check_length, resolve_ref
from salesync.sandbox.qbo.seed import CLASSIFICATION
from salesync.sandbox.qbo.transactions import TRANSACTIONS, build_transaction

NAME_LISTS = frozenset({"Customer", "Item", "Account", "Class", "Department"})
READ_ONLY = frozenset({"PaymentMethod", "TaxCode"})
WRITABLE = TRANSACTIONS | NAME_LISTS
ENTITIES: dict[str, str] = {name.lower(): name for name in WRITABLE | READ_ONLY}
"""URL segment (QBO paths are lower case) to entity name."""

_NAME_OWNERS = {
    "Customer": "customer, vendor or employee",
    "Item": "product or service",
    "Account": "account",
    "Class": "class",
    "Department": "location",
}


def read(company: QboCompany, entity: str, entity_id: str) -> dict[str, Any]:
    found = company.get(entity, entity_id)
    if found is None:
        raise errors.not_found(entity, entity_id)
    return found


def save(
    company: QboCompany, entity: str, payload: dict[str, Any], *, allow_dup: bool = False
) -> dict[str, Any]:
    """Create ``payload``, or update it when it carries an Id; returns the stored object.

    An update needs the object's current SyncToken (5010 otherwise); ``sparse: true``
    changes only the fields sent, a full update replaces the object.
    """
    with company.lock:
        if payload.get("Id") is None:
            obj = copy.deepcopy(payload)
            obj.pop("sparse", None)
            own_id = None
            sync_token = "0"  # noqa: S105 - a version counter, not a secret
            created = company.timestamp()
        else:
            own_id = str(payload["Id"])
            current = read(company, entity, own_id)
            if payload.get("SyncToken") is None:
                raise errors.required("SyncToken")
            if str(payload["SyncToken"]) != current["SyncToken"]:
                raise errors.QboError(
                    "5010",
                    "Stale Object Error",
                    "Stale Object Error : You and another user were working on the same "
                    f"thing. The other user finished first, so your work on {entity} "
                    f"{own_id} was not saved. Read it again to get SyncToken "
                    f"{current['SyncToken']}.",
                    element="SyncToken",
                )
            obj = (
                {**current, **payload} if payload.get("sparse") is True else copy.deepcopy(payload)
            )
            obj.pop("sparse", None)
            sync_token = str(int(current["SyncToken"]) + 1)
            created = current["MetaData"]["CreateTime"]
        if entity in TRANSACTIONS:
            build_transaction(company, entity, obj, own_id, allow_dup)
        else:
            _build_name_list(company, entity, obj, own_id)
        obj["Id"] = own_id or company.new_id()
        obj["SyncToken"] = sync_token
        obj["domain"] = "QBO"
        obj["MetaData"] = {"CreateTime": created, "LastUpdatedTime": company.timestamp()}
        company.put(entity, obj)
        if entity == "Payment":
            _refresh_invoice_balances(company)
        return obj


def _refresh_invoice_balances(company: QboCompany) -> None:
    applied: dict[str, Decimal] = {}
    for payment in company.all("Payment"):
        for line in payment.get("Line", []):
            for linked in line.get("LinkedTxn", []):
                if linked.get("TxnType") == "Invoice":
                    key = str(linked["TxnId"])
                    applied[key] = applied.get(key, Decimal(0)) + Decimal(str(line["Amount"]))
    for invoice in company.all("Invoice"):
        open_amount = Decimal(str(invoice["TotalAmt"])) - applied.get(invoice["Id"], Decimal(0))
        invoice["Balance"] = as_json_number(open_amount)
        company.put("Invoice", invoice)


def _build_name_list(
    company: QboCompany, entity: str, obj: dict[str, Any], own_id: str | None
) -> None:
    obj.setdefault("Active", True)
    if entity == "Customer":
        _customer_name(obj)
    elif not str(obj.get("Name") or "").strip():
        raise errors.required("Name")
    name_field = "DisplayName" if entity == "Customer" else "Name"
    check_length(obj, name_field, 500 if entity == "Customer" else 100)
    name = str(obj[name_field]).strip()
    if ":" in name:
        raise errors.QboError(
            "6000",
            "A business validation error has occurred while processing your request",
            f"Business Validation Error: The name can't contain a colon (:). Supplied: {name}",
            element=name_field,
        )
    for other in company.all(entity):
        if other["Id"] != own_id and str(other.get(name_field, "")).casefold() == name.casefold():
            # https://developer.intuit.com/hub/blog/2017/06/08/top-quickbooks-online-api-errors-and-how-to-handle-them
            raise errors.QboError(
                "6240",
                "Duplicate Name Exists Error",
                f"The name supplied already exists. : Another {_NAME_OWNERS[entity]} is "
                f"already using this name. Please use a different name. Id={other['Id']}",
                element=name_field,
            )
    obj["FullyQualifiedName"] = name
    if entity == "Item":
        _item(company, obj)
    elif entity == "Account":
        _account(obj)


def _customer_name(obj: dict[str, Any]) -> None:
    if not str(obj.get("DisplayName") or "").strip():
        parts = [str(obj.get(k) or "").strip() for k in ("GivenName", "FamilyName")]
        composed = " ".join(p for p in parts if p) or str(obj.get("CompanyName") or "").strip()
        if not composed:
            raise errors.QboError(
                "6080",
                "No Name Provided",
                "Title, GivenName, MiddleName, FamilyName, DisplayName, Suffix - one of "
                "these must be non-empty",
                element="DisplayName",
            )
        obj["DisplayName"] = composed
    obj.setdefault("Balance", 0)


def _item(company: QboCompany, obj: dict[str, Any]) -> None:
    item_type = obj.setdefault("Type", "Service")
    if item_type not in ("Service", "NonInventory", "Inventory"):
        raise errors.QboError(
            "2170", "Invalid Enumeration", f"Invalid Enumeration : {item_type}", element="Type"
        )
    resolve_ref(company, obj, "IncomeAccountRef", required=True)
    if item_type == "Inventory":
        for field in ("AssetAccountRef", "ExpenseAccountRef"):
            resolve_ref(company, obj, field, required=True)
        if obj.get("QtyOnHand") is None or not obj.get("InvStartDate"):
            raise errors.required("QtyOnHand" if obj.get("QtyOnHand") is None else "InvStartDate")
    obj.setdefault("Taxable", item_type != "Service")


def _account(obj: dict[str, Any]) -> None:
    account_type = obj.get("AccountType")
    if account_type not in CLASSIFICATION:
        raise errors.QboError(
            "6010",
            "Invalid Account.AccountType && Account.SubType",
            "Either an Account.AccountType or an Account.AccountSubType must be specified",
            element="AccountType",
        )
    obj["Classification"] = CLASSIFICATION[account_type]
    obj.setdefault("CurrentBalance", 0)
    obj.setdefault("CurrencyRef", {"value": "USD", "name": "United States Dollar"})
