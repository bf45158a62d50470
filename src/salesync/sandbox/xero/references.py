"""What Xero documents point at: contacts, accounts, tax rates, items, tracking options.

Each resolver appends the messages Xero would give to ``problems`` and carries on, so an
element's answer lists every problem at once, as Xero's ``ValidationErrors`` do.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from salesync.sandbox.xero.organisation import XeroOrganisation
from salesync.sandbox.xero.values import decimal_of

MAX_TRACKING_PER_LINE = 2
"""https://developer.xero.com/documentation/api/accounting/invoices"""


def account_by_code(org: XeroOrganisation, code: str) -> dict[str, Any] | None:
    """The account with ``code``, whatever its status."""
    for account in org.all("Accounts"):
        if account["Code"] == code:
            return account
    return None


def account_by_id(org: XeroOrganisation, account_id: str) -> dict[str, Any] | None:
    """The account with ``account_id``, whatever its status."""
    return org.get("Accounts", account_id)


def resolve_account(org: XeroOrganisation, code: Any, problems: list[str]) -> dict[str, Any] | None:
    """The active account with ``code``; an unknown or archived code is refused."""
    account = account_by_code(org, str(code))
    if account is None or account["Status"] != "ACTIVE":
        problems.append(f"Account code '{code}' is not a valid code for this document.")
        return None
    return account


def resolve_tax_rate(org: XeroOrganisation, tax_type: Any, problems: list[str]) -> Decimal:
    """The percentage of an active tax rate; zero (with a problem) when it is not one."""
    rate = org.get("TaxRates", str(tax_type))
    if rate is None or rate["Status"] != "ACTIVE":
        problems.append(f"The TaxType code '{tax_type}' is not valid")
        return Decimal(0)
    return decimal_of(rate["EffectiveRate"]) or Decimal(0)


def resolve_item(org: XeroOrganisation, code: Any, problems: list[str]) -> dict[str, Any] | None:
    """The item with ``code``; an unknown code is a problem."""
    for item in org.all("Items"):
        if item["Code"] == str(code):
            return item
    problems.append(f"Item code '{code}' is not valid")
    return None


def find_contact(org: XeroOrganisation, ref: dict[str, Any]) -> dict[str, Any] | None:
    """The contact a reference names by ContactID, ContactNumber or Name."""
    if ref.get("ContactID"):
        return org.get("Contacts", str(ref["ContactID"]))
    for contact in org.all("Contacts"):
        if ref.get("ContactNumber") and contact.get("ContactNumber") == ref["ContactNumber"]:
            return contact
        if ref.get("Name") and str(contact["Name"]).casefold() == str(ref["Name"]).casefold():
            return contact
    return None


def resolve_contact(
    org: XeroOrganisation, ref: Any, problems: list[str]
) -> tuple[dict[str, Any] | None, bool]:
    """The document's contact and whether it is new.

    A Name that matches no contact creates one when the document is saved, as Xero does;
    an unknown ContactID is refused.
    """
    if not isinstance(ref, dict) or not any(ref.get(k) for k in ("ContactID", "Name")):
        problems.append("A Contact must be specified for this type of transaction")
        return None, False
    found = find_contact(org, ref)
    if found is not None:
        if found["ContactStatus"] == "ARCHIVED":
            problems.append(
                "The contact with the specified contact details has been archived. The "
                "contact must be un-archived before creating new invoices or credit notes."
            )
        return found, False
    if ref.get("ContactID"):
        problems.append(f"Contact with ContactID {ref['ContactID']} could not be found")
        return None, False
    return {"Name": str(ref["Name"]).strip(), "ContactStatus": "ACTIVE"}, True


def resolve_tracking(org: XeroOrganisation, raw: Any, problems: list[str]) -> list[dict[str, Any]]:
    """Tracking on one line, each naming a category and one of its active options."""
    if not raw:
        return []
    if not isinstance(raw, list):
        problems.append("Tracking must be a list of tracking categories")
        return []
    if len(raw) > MAX_TRACKING_PER_LINE:
        problems.append("A line item can have at most 2 tracking categories")
    resolved = []
    categories = org.all("TrackingCategories")
    for entry in raw:
        name = str(entry.get("Name", "")) if isinstance(entry, dict) else ""
        option = str(entry.get("Option", "")) if isinstance(entry, dict) else ""
        category = next((c for c in categories if c["Name"].casefold() == name.casefold()), None)
        if category is None or category["Status"] != "ACTIVE":
            problems.append(f"Tracking category '{name}' is not valid")
            continue
        chosen = next(
            (
                o
                for o in category["Options"]
                if o["Name"].casefold() == option.casefold() and o["Status"] == "ACTIVE"
            ),
            None,
        )
        if chosen is None:
            problems.append(f"Tracking option '{option}' is not valid for '{category['Name']}'")
            continue
        resolved.append(
            {
                "TrackingCategoryID": category["TrackingCategoryID"],
                "TrackingOptionID": chosen["TrackingOptionID"],
                "Name": category["Name"],
                "Option": chosen["Name"],
            }
        )
    return resolved
