"""The starting data of a simulated US QuickBooks Online company.

Names and types follow a new QBO company's default chart of accounts, plus the accounts
a retailer syncing sales needs (merchant fees, gift cards, tips, clearing).
"""

from __future__ import annotations

from typing import Any

ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("35", "Checking", "Bank", "Checking"),
    ("4", "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("84", "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("81", "Inventory Asset", "Other Current Asset", "Inventory"),
    ("90", "Payments Clearing", "Other Current Asset", "OtherCurrentAssets"),
    ("33", "Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
    ("89", "Sales Tax Payable", "Other Current Liability", "SalesTaxPayable"),
    ("91", "Gift Card Liability", "Other Current Liability", "OtherCurrentLiabilities"),
    ("92", "Tips Payable", "Other Current Liability", "OtherCurrentLiabilities"),
    ("2", "Retained Earnings", "Equity", "RetainedEarnings"),
    ("79", "Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("1", "Services", "Income", "ServiceFeeIncome"),
    ("83", "Shipping Income", "Income", "OtherPrimaryIncome"),
    ("86", "Discounts given", "Income", "DiscountsRefundsGiven"),
    ("87", "Refunds given", "Income", "DiscountsRefundsGiven"),
    ("80", "Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    ("8", "Bank Charges", "Expense", "BankCharges"),
    ("93", "Merchant Fees", "Expense", "BankCharges"),
    ("94", "Cash Over and Short", "Expense", "OtherMiscellaneousServiceCost"),
)
"""Accounts as (Id, Name, AccountType, AccountSubType)."""

CLASSIFICATION = {
    "Bank": "Asset",
    "Other Current Asset": "Asset",
    "Accounts Receivable": "Asset",
    "Accounts Payable": "Liability",
    "Other Current Liability": "Liability",
    "Equity": "Equity",
    "Income": "Revenue",
    "Cost of Goods Sold": "Expense",
    "Expense": "Expense",
}

ITEMS: tuple[tuple[str, str, str, str], ...] = (
    ("1", "Sales", "Service", "79"),
    ("2", "Merchandise", "NonInventory", "79"),
    ("3", "Services", "Service", "1"),
    ("4", "Shipping", "Service", "83"),
    ("5", "Gift Card", "NonInventory", "91"),
    ("6", "Tips", "Service", "92"),
)
"""Products and services as (Id, Name, Type, income account Id)."""

PAYMENT_METHODS: tuple[tuple[str, str, str], ...] = (
    ("1", "Cash", "NON_CREDIT_CARD"),
    ("2", "Check", "NON_CREDIT_CARD"),
    ("3", "Visa", "CREDIT_CARD"),
    ("4", "MasterCard", "CREDIT_CARD"),
    ("5", "American Express", "CREDIT_CARD"),
    ("6", "Discover", "CREDIT_CARD"),
    ("7", "Gift Card", "NON_CREDIT_CARD"),
)

TAX_CODES: tuple[tuple[str, str, bool], ...] = (
    # US companies use the pseudo tax codes TAX and NON on lines.
    ("TAX", "TAX", True),
    ("NON", "NON", False),
)

CUSTOMERS: tuple[tuple[str, str], ...] = (("1", "Walk-in Customer"),)


def seed_entities(created: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Every seeded object by entity name then Id, stamped with ``created``."""

    def meta() -> dict[str, str]:
        return {"CreateTime": created, "LastUpdatedTime": created}

    entities: dict[str, dict[str, dict[str, Any]]] = {
        "Account": {},
        "Item": {},
        "PaymentMethod": {},
        "TaxCode": {},
        "Customer": {},
    }
    for acc_id, name, acc_type, sub_type in ACCOUNTS:
        entities["Account"][acc_id] = {
            "Id": acc_id,
            "Name": name,
            "FullyQualifiedName": name,
            "AccountType": acc_type,
            "AccountSubType": sub_type,
            "Classification": CLASSIFICATION[acc_type],
            "Active": True,
            "CurrentBalance": 0,
            "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
            "SyncToken": "0",
            "MetaData": meta(),
        }
    for item_id, name, item_type, income in ITEMS:
        entities["Item"][item_id] = {
            "Id": item_id,
            "Name": name,
            "FullyQualifiedName": name,
            "Type": item_type,
            "IncomeAccountRef": {"value": income, "name": entities["Account"][income]["Name"]},
            "Taxable": item_type != "Service",
            "Active": True,
            "SyncToken": "0",
            "MetaData": meta(),
        }
    for pm_id, name, pm_type in PAYMENT_METHODS:
        entities["PaymentMethod"][pm_id] = {
            "Id": pm_id,
            "Name": name,
            "Type": pm_type,
            "Active": True,
            "SyncToken": "0",
            "MetaData": meta(),
        }
    for code_id, name, taxable in TAX_CODES:
        entities["TaxCode"][code_id] = {
            "Id": code_id,
            "Name": name,
            "Taxable": taxable,
            "Active": True,
            "SyncToken": "0",
            "MetaData": meta(),
        }
    for cust_id, name in CUSTOMERS:
        entities["Customer"][cust_id] = {
            "Id": cust_id,
            "DisplayName": name,
            "FullyQualifiedName": name,
            "Active": True,
            "Balance": 0,
            "SyncToken": "0",
            "MetaData": meta(),
        }
    return entities
