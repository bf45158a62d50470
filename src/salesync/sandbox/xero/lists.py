"""Contacts, items and accounts: the named lists documents point at.

A contact's Name is unique among active contacts and its ContactNumber among all; a PUT
that repeats either is refused while a POST updates the contact it matches
(https://developer.xero.com/documentation/api/accounting/contacts). Item codes are unique,
at most 30 characters, names at most 50
(https://developer.xero.com/documentation/api/accounting/items). Accounts are created one
per PUT and updated by POST to their id; codes (at most 10 characters) and names (at most
150) are unique, and only a non-bank account can be enabled for payments
(https://developer.xero.com/documentation/api/accounting/accounts).
"""

from __future__ import annotations

import uuid
from typing import Any

from salesync.sandbox.xero.errors import ElementInvalid
from salesync.sandbox.xero.organisation import XeroOrganisation
from salesync.sandbox.xero.references import find_contact, resolve_account, resolve_tax_rate
from salesync.sandbox.xero.seed import CLASSES
from salesync.sandbox.xero.values import decimal_of, number

CONTACT_NAME_MAX = 255
CONTACT_NUMBER_MAX = 50
ITEM_CODE_MAX = 30
ITEM_NAME_MAX = 50
ACCOUNT_CODE_MAX = 10
ACCOUNT_NAME_MAX = 150


def match_contact(org: XeroOrganisation, element: dict[str, Any]) -> dict[str, Any] | None:
    """The contact a POST without ContactID updates: same ContactNumber, else same Name."""
    return find_contact(
        org, {"ContactNumber": element.get("ContactNumber"), "Name": element.get("Name")}
    )


def build_contact(
    org: XeroOrganisation, element: dict[str, Any], existing: dict[str, Any] | None
) -> dict[str, Any]:
    """Create or update a contact, keeping names and numbers unique."""
    problems: list[str] = []
    merged = {**existing, **element} if existing else dict(element)
    name = " ".join(str(merged.get("Name") or "").split())
    if not name:
        problems.append("The contact name must be specified.")
    elif len(name) > CONTACT_NAME_MAX:
        problems.append("The contact name must not be more than 255 characters long.")
    number_value = str(merged.get("ContactNumber") or "")
    if len(number_value) > CONTACT_NUMBER_MAX:
        problems.append("The contact number must not be more than 50 characters long.")
    status = str(merged.get("ContactStatus") or "ACTIVE")
    own_id = existing["ContactID"] if existing else None
    for other in org.all("Contacts"):
        if other["ContactID"] == own_id:
            continue
        same_name = str(other["Name"]).casefold() == name.casefold()
        if same_name and other["ContactStatus"] == "ACTIVE" and status == "ACTIVE":
            problems.append(
                f"The contact name {name} is already assigned to another contact. The "
                "contact name must be unique across all active contacts."
            )
        if number_value and other.get("ContactNumber") == number_value:
            problems.append(
                f"The contact number {number_value} is already assigned to another contact."
            )
    if problems:
        raise ElementInvalid(problems)
    contact = {
        **merged,
        "ContactID": own_id or str(uuid.uuid4()),
        "Name": name,
        "ContactStatus": status,
        "IsCustomer": bool(merged.get("IsCustomer", True)),
        "IsSupplier": bool(merged.get("IsSupplier", False)),
        "UpdatedDateUTC": org.stamp(),
    }
    if not number_value:
        contact.pop("ContactNumber", None)
    org.put("Contacts", contact["ContactID"], contact)
    return contact


def match_item(org: XeroOrganisation, element: dict[str, Any]) -> dict[str, Any] | None:
    """The item a POST without ItemID updates: the one with the same Code."""
    code = element.get("Code")
    return next((i for i in org.all("Items") if code and i["Code"] == code), None)


def build_item(
    org: XeroOrganisation, element: dict[str, Any], existing: dict[str, Any] | None
) -> dict[str, Any]:
    """Create or update an item, keeping codes unique."""
    problems: list[str] = []
    merged = {**existing, **element} if existing else dict(element)
    code = str(merged.get("Code") or "").strip()
    name = str(merged.get("Name") or code).strip()
    if not code:
        problems.append("Item Code must be specified")
    elif len(code) > ITEM_CODE_MAX:
        problems.append("Price List Item Code must not be more than 30 characters long.")
    if len(name) > ITEM_NAME_MAX:
        problems.append("Item Name must not be more than 50 characters long.")
    own_id = existing["ItemID"] if existing else None
    if any(i["Code"] == code and i["ItemID"] != own_id for i in org.all("Items")):
        problems.append(f"Item code '{code}' already exists")
    sales = merged.get("SalesDetails") or {}
    if not isinstance(sales, dict):
        problems.append("SalesDetails must be an object")
        sales = {}
    if sales.get("AccountCode"):
        resolve_account(org, sales["AccountCode"], problems)
    if sales.get("TaxType"):
        resolve_tax_rate(org, sales["TaxType"], problems)
    price = decimal_of(sales.get("UnitPrice", 0))
    if price is None:
        problems.append("SalesDetails.UnitPrice must be a number")
    if problems or price is None:
        raise ElementInvalid(problems)
    item = {
        **merged,
        "ItemID": own_id or str(uuid.uuid4()),
        "Code": code,
        "Name": name,
        "IsSold": bool(merged.get("IsSold", True)),
        "IsPurchased": bool(merged.get("IsPurchased", False)),
        "SalesDetails": {**sales, "UnitPrice": number(price)},
        "UpdatedDateUTC": org.stamp(),
    }
    org.put("Items", item["ItemID"], item)
    return item


def build_account(
    org: XeroOrganisation, element: dict[str, Any], existing: dict[str, Any] | None
) -> dict[str, Any]:
    """Create or update an account in the chart, keeping codes and names unique."""
    merged = {**existing, **element} if existing else dict(element)
    own_id = existing["AccountID"] if existing else None
    problems = _account_problems(org, merged, own_id)
    tax_type = str(merged.get("TaxType") or "")
    if tax_type:
        resolve_tax_rate(org, tax_type, problems)
    else:
        tax_type = "BASEXCLUDED" if org.get("TaxRates", "BASEXCLUDED") else "NONE"
    if problems:
        raise ElementInvalid(problems)
    kind = str(merged["Type"])
    account = {
        **merged,
        "AccountID": own_id or str(uuid.uuid4()),
        "Code": str(merged["Code"]).strip(),
        "Name": str(merged["Name"]).strip(),
        "TaxType": tax_type,
        "Status": str(merged.get("Status") or "ACTIVE"),
        "Class": CLASSES[kind],
        "EnablePaymentsToAccount": bool(merged.get("EnablePaymentsToAccount", False)),
        "CurrencyCode": org.base_currency,
        "UpdatedDateUTC": org.stamp(),
    }
    org.put("Accounts", account["AccountID"], account)
    return account


def _account_problems(
    org: XeroOrganisation, merged: dict[str, Any], own_id: str | None
) -> list[str]:
    problems: list[str] = []
    code = str(merged.get("Code") or "").strip()
    name = str(merged.get("Name") or "").strip()
    kind = str(merged.get("Type") or "")
    if not code or len(code) > ACCOUNT_CODE_MAX:
        problems.append("Please enter a Code of at most 10 characters.")
    if not name or len(name) > ACCOUNT_NAME_MAX:
        problems.append("Please enter a Name of at most 150 characters.")
    if kind not in CLASSES:
        problems.append(f"Account Type '{kind}' is not valid")
    for other in org.all("Accounts"):
        if other["AccountID"] == own_id:
            continue
        if code and other["Code"].casefold() == code.casefold():
            problems.append("Please enter a unique Code.")
        if name and other["Name"].casefold() == name.casefold():
            problems.append("Please enter a unique Name.")
    if kind == "BANK" and merged.get("EnablePaymentsToAccount"):
        problems.append("Payments are always enabled for bank accounts")
    if kind == "BANK" and not merged.get("BankAccountNumber"):
        problems.append("Please enter a bank account number.")
    if str(merged.get("Status") or "ACTIVE") not in {"ACTIVE", "ARCHIVED"}:
        problems.append(f"Invalid status '{merged.get('Status')}'")
    return problems
