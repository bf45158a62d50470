"""The children each qbXML aggregate salesync writes may hold, in the order of the qbXML
13.0 onscreen reference (OSR): QuickBooks refuses a request whose elements stray from it.
A slot written ``A|B`` is a choice; its members share the position."""

from __future__ import annotations

from collections.abc import Mapping

_SALES_LINE = (
    "ItemRef",
    "Desc",
    "Quantity",
    "UnitOfMeasure",
    "Rate|RatePercent|PriceLevelRef",
    "ClassRef",
    "Amount",
    "OptionForPriceRuleConflict",
    "InventorySiteRef",
    "InventorySiteLocationRef",
    "SerialNumber|LotNumber",
    "ServiceDate",
    "SalesTaxCodeRef",
    "IsTaxable",
    "OverrideItemAccountRef",
    "Other1",
    "Other2",
)
_SALES_HEADER = (
    "CustomerRef",
    "ClassRef",
    "ARAccountRef",
    "TemplateRef",
    "TxnDate",
    "RefNumber",
    "BillAddress",
    "ShipAddress",
    "IsPending",
    "PONumber",
    "TermsRef",
    "DueDate",
    "SalesRepRef",
    "FOB",
    "ShipDate",
    "ShipMethodRef",
    "ItemSalesTaxRef",
    "Memo",
    "CustomerMsgRef",
    "IsToBePrinted",
    "IsToBeEmailed",
    "IsTaxIncluded",
    "CustomerSalesTaxCodeRef",
    "Other",
    "ExchangeRate",
    "ExternalGUID",
)
_LIST_FILTERS = (
    "ListID",
    "FullName",
    "MaxReturned",
    "ActiveStatus",
    "FromModifiedDate",
    "ToModifiedDate",
    "NameFilter|NameRangeFilter",
)
_CUSTOMER_FIELDS = (
    "Name",
    "IsActive",
    "ClassRef",
    "ParentRef",
    "CompanyName",
    "Salutation",
    "FirstName",
    "MiddleName",
    "LastName",
    "JobTitle",
    "BillAddress",
    "ShipAddress",
    "ShipToAddress",
    "PrintAs",
    "Phone",
    "AltPhone",
    "Fax",
    "Email",
)

SEQUENCES: Mapping[str, tuple[str, ...]] = {
    "JournalEntryAdd": (
        "TxnDate", "RefNumber", "IsAdjustment", "IsHomeCurrencyAdjustment",
        "IsAmountsEnteredInHomeCurrency", "CurrencyRef", "ExchangeRate", "ExternalGUID",
        "JournalDebitLine|JournalCreditLine",
    ),
    "JournalDebitLine": (
        "TxnLineID", "AccountRef", "Amount", "Memo", "EntityRef", "ClassRef",
        "ItemSalesTaxRef", "BillableStatus",
    ),
    "JournalEntryQueryRq": (
        "TxnID", "RefNumber", "RefNumberCaseSensitive", "MaxReturned",
        "ModifiedDateRangeFilter", "TxnDateRangeFilter", "EntityFilter", "AccountFilter",
        "RefNumberFilter", "RefNumberRangeFilter", "CurrencyFilter", "IncludeLineItems",
        "IncludeRetElement", "OwnerID",
    ),
    "CustomerAdd": _CUSTOMER_FIELDS,
    "CustomerMod": ("ListID", "EditSequence", *_CUSTOMER_FIELDS),
    "CustomerQueryRq": (
        *_LIST_FILTERS, "TotalBalanceFilter", "CurrencyFilter", "ClassFilter",
        "IncludeRetElement", "OwnerID",
    ),
    "ItemQueryRq": (*_LIST_FILTERS, "IncludeRetElement", "OwnerID"),
    "ItemOtherChargeAdd": (
        "Name", "BarCode", "IsActive", "ClassRef", "ParentRef", "IsTaxIncluded",
        "SalesTaxCodeRef", "SalesOrPurchase|SalesAndPurchase", "ExternalGUID",
    ),
    "SalesOrPurchase": ("Desc", "Price|PricePercent", "AccountRef"),
    "SalesReceiptQueryRq": (
        "TxnID", "RefNumber", "RefNumberCaseSensitive", "MaxReturned",
        "ModifiedDateRangeFilter|TxnDateRangeFilter", "EntityFilter", "AccountFilter",
        "RefNumberFilter|RefNumberRangeFilter", "CurrencyFilter", "IncludeLineItems",
        "IncludeRetElement", "OwnerID",
    ),
    "DepositQueryRq": (
        "TxnID", "MaxReturned", "ModifiedDateRangeFilter|TxnDateRangeFilter", "EntityFilter",
        "AccountFilter", "CurrencyFilter", "IncludeLineItems", "IncludeRetElement", "OwnerID",
    ),
    "TxnDateRangeFilter": ("FromTxnDate", "ToTxnDate"),
    "SalesReceiptAdd": (
        "CustomerRef", "ClassRef", "TemplateRef", "TxnDate", "RefNumber", "BillAddress",
        "ShipAddress", "IsPending", "CheckNumber", "PaymentMethodRef", "DueDate",
        "SalesRepRef", "ShipDate", "ShipMethodRef", "FOB", "ItemSalesTaxRef", "Memo",
        "CustomerMsgRef", "IsToBePrinted", "IsToBeEmailed", "IsTaxIncluded",
        "CustomerSalesTaxCodeRef", "DepositToAccountRef", "CreditCardTxnInfo", "Other",
        "ExchangeRate", "ExternalGUID", "SalesReceiptLineAdd|SalesReceiptLineGroupAdd",
    ),
    "SalesReceiptLineAdd": (*_SALES_LINE, "CreditCardTxnInfo"),
    "InvoiceAdd": (
        *_SALES_HEADER, "LinkToTxnID", "SetCredit", "InvoiceLineAdd|InvoiceLineGroupAdd",
    ),
    "InvoiceLineAdd": (*_SALES_LINE, "LinkToTxn"),
    "CreditMemoAdd": (*_SALES_HEADER, "CreditMemoLineAdd|CreditMemoLineGroupAdd"),
    "CreditMemoLineAdd": _SALES_LINE,
    "ReceivePaymentAdd": (
        "CustomerRef", "ARAccountRef", "TxnDate", "RefNumber", "TotalAmount",
        "ExchangeRate", "PaymentMethodRef", "Memo", "DepositToAccountRef",
        "CreditCardTxnInfo", "ExternalGUID", "IsAutoApply|AppliedToTxnAdd",
    ),
    "AppliedToTxnAdd": (
        "TxnID", "PaymentAmount", "SetCredit", "DiscountAmount", "DiscountAccountRef",
        "DiscountClassRef",
    ),
    "DepositAdd": (
        "TxnDate", "DepositToAccountRef", "Memo", "CashBackInfoAdd", "CurrencyRef",
        "ExchangeRate", "ExternalGUID", "DepositLineAdd",
    ),
    "DepositLineAdd": (
        "PaymentTxnID", "PaymentTxnLineID", "OverrideMemo", "OverrideCheckNumber",
        "OverrideClassRef", "EntityRef", "AccountRef", "Memo", "CheckNumber",
        "PaymentMethodRef", "ClassRef", "Amount",
    ),
}  # fmt: skip
SEQUENCES = {**SEQUENCES, "JournalCreditLine": SEQUENCES["JournalDebitLine"]}


def slot(tag: str, child: str) -> int | None:
    """Where ``child`` goes among ``tag``'s children (None: ``tag`` does not take it)."""
    for index, names in enumerate(SEQUENCES[tag]):
        if child in names.split("|"):
            return index
    return None
