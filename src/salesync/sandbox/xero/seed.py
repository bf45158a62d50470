"""The starting data of a simulated Australian Xero organisation.

Codes and tax types follow Xero's default Australian chart of accounts and GST rates
(https://developer.xero.com/documentation/api/accounting/types), plus the clearing and
liability accounts a retailer syncing sales needs. Ids are stable UUIDs derived from the
codes, so a demo or a test can rely on them across runs.
"""

from __future__ import annotations

import uuid
from typing import Any

_NAMESPACE = uuid.UUID("8c3d4c2e-4f0a-4d8e-9a51-6a0b8f0c7d21")

ACCOUNTS: tuple[tuple[str, str, str, str, str], ...] = (
    ("090", "Business Bank Account", "BANK", "BASEXCLUDED", ""),
    ("091", "Business Savings Account", "BANK", "BASEXCLUDED", ""),
    ("610", "Accounts Receivable", "CURRENT", "BASEXCLUDED", "DEBTORS"),
    ("615", "Payments Clearing", "CURRENT", "BASEXCLUDED", ""),
    ("630", "Inventory", "INVENTORY", "BASEXCLUDED", ""),
    ("800", "Accounts Payable", "CURRLIAB", "BASEXCLUDED", "CREDITORS"),
    ("820", "GST", "CURRLIAB", "BASEXCLUDED", "GST"),
    ("825", "Gift Card Liability", "CURRLIAB", "BASEXCLUDED", ""),
    ("826", "Tips Payable", "CURRLIAB", "BASEXCLUDED", ""),
    ("860", "Rounding", "CURRLIAB", "BASEXCLUDED", "ROUNDING"),
    ("960", "Retained Earnings", "EQUITY", "BASEXCLUDED", "RETAINEDEARNINGS"),
    ("200", "Sales", "REVENUE", "OUTPUT", ""),
    ("260", "Other Revenue", "REVENUE", "OUTPUT", ""),
    ("270", "Interest Income", "REVENUE", "EXEMPTOUTPUT", ""),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "INPUT", ""),
    ("404", "Bank Fees", "EXPENSE", "EXEMPTEXPENSES", ""),
    ("405", "Merchant Fees", "EXPENSE", "INPUT", ""),
    ("499", "Old Sales (archived)", "REVENUE", "OUTPUT", ""),
)
"""Accounts as (Code, Name, Type, default TaxType, SystemAccount)."""

ARCHIVED_CODES = frozenset({"499"})

CLASSES = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "INVENTORY": "ASSET",
    "CURRLIAB": "LIABILITY",
    "EQUITY": "EQUITY",
    "REVENUE": "REVENUE",
    "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE",
}

TAX_RATES: tuple[tuple[str, str, str], ...] = (
    ("OUTPUT", "GST on Income", "10"),
    ("INPUT", "GST on Expenses", "10"),
    ("EXEMPTOUTPUT", "GST Free Income", "0"),
    ("EXEMPTEXPENSES", "GST Free Expenses", "0"),
    ("BASEXCLUDED", "BAS Excluded", "0"),
    ("INPUTTAXED", "Input Taxed", "0"),
)
"""Tax rates as (TaxType, Name, percentage)."""

TRACKING: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Store", ("Downtown", "Airport", "Online")),
    ("Channel", ("In store", "Web")),
)
"""Tracking categories and their options; Xero allows two active categories."""

ITEMS: tuple[tuple[str, str, str, str, str], ...] = (
    ("MERCH", "Merchandise", "200", "OUTPUT", "0"),
    ("SHIP", "Shipping", "260", "OUTPUT", "0"),
    ("GIFT", "Gift Card", "825", "BASEXCLUDED", "0"),
)
"""Items as (Code, Name, sales AccountCode, sales TaxType, UnitPrice)."""

CONTACTS: tuple[tuple[str, str], ...] = (
    ("Walk-in Customer", "WALKIN"),
    ("Online Shopper", "ONLINE"),
)
"""Contacts as (Name, ContactNumber)."""


def stable_id(kind: str, key: str) -> str:
    """A UUID that is the same on every run for the same kind and key."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{key}"))


def seed_collections(updated: str, currency: str = "AUD") -> dict[str, dict[str, dict[str, Any]]]:
    """Every seeded object by collection and id, stamped with ``updated``; accounts are
    in the organisation's base ``currency``."""
    accounts = {}
    for code, name, kind, tax_type, system in ACCOUNTS:
        account: dict[str, Any] = {
            "AccountID": stable_id("account", code),
            "Code": code,
            "Name": name,
            "Type": kind,
            "TaxType": tax_type,
            "Status": "ARCHIVED" if code in ARCHIVED_CODES else "ACTIVE",
            "Class": CLASSES[kind],
            "EnablePaymentsToAccount": False,
            "CurrencyCode": currency,
            "UpdatedDateUTC": updated,
        }
        if system:
            account["SystemAccount"] = system
        if kind == "BANK":
            account["BankAccountNumber"] = f"062-000-{code}00123"
            account["BankAccountType"] = "BANK"
        accounts[account["AccountID"]] = account
    tax_rates = {}
    for tax_type, name, rate in TAX_RATES:
        tax_rates[tax_type] = {
            "Name": name,
            "TaxType": tax_type,
            "Status": "ACTIVE",
            "EffectiveRate": float(rate),
            "DisplayTaxRate": float(rate),
            "TaxComponents": [{"Name": "GST", "Rate": float(rate), "IsCompound": False}],
        }
    tracking = {}
    for name, options in TRACKING:
        category_id = stable_id("tracking", name)
        tracking[category_id] = {
            "TrackingCategoryID": category_id,
            "Name": name,
            "Status": "ACTIVE",
            "Options": [
                {
                    "TrackingOptionID": stable_id("option", f"{name}/{option}"),
                    "Name": option,
                    "Status": "ACTIVE",
                }
                for option in options
            ],
        }
    items = {}
    for code, name, account_code, tax_type, price in ITEMS:
        item_id = stable_id("item", code)
        items[item_id] = {
            "ItemID": item_id,
            "Code": code,
            "Name": name,
            "IsSold": True,
            "IsPurchased": False,
            "SalesDetails": {
                "UnitPrice": float(price),
                "AccountCode": account_code,
                "TaxType": tax_type,
            },
            "UpdatedDateUTC": updated,
        }
    contacts = {}
    for name, number in CONTACTS:
        contact_id = stable_id("contact", number)
        contacts[contact_id] = {
            "ContactID": contact_id,
            "ContactNumber": number,
            "ContactStatus": "ACTIVE",
            "Name": name,
            "IsCustomer": True,
            "IsSupplier": False,
            "UpdatedDateUTC": updated,
        }
    return {
        "Accounts": accounts,
        "TaxRates": tax_rates,
        "TrackingCategories": tracking,
        "Items": items,
        "Contacts": contacts,
    }
