"""What the simulated QuickBooks accepts of a qbXML request: the message set's shape and,
for every aggregate it understands, its children in the order the qbXML 13.0 schema
declares. QuickBooks refuses a message set that breaks either with HRESULT 0x80040400
("QuickBooks found an error when parsing the provided XML text stream"), before it runs
any request in it.
"""

from __future__ import annotations

from lxml import etree

ORDER: dict[str, tuple[str, ...]] = {
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
    "CustomerAdd": (
        "Name", "IsActive", "ClassRef", "ParentRef", "CompanyName", "Salutation",
        "FirstName", "MiddleName", "LastName", "JobTitle", "BillAddress", "ShipAddress",
        "ShipToAddress", "PrintAs", "Phone", "AltPhone", "Fax", "Email",
    ),
    "CustomerQueryRq": (
        "ListID", "FullName", "MaxReturned", "ActiveStatus", "FromModifiedDate",
        "ToModifiedDate", "NameFilter", "NameRangeFilter", "TotalBalanceFilter",
        "CurrencyFilter", "ClassFilter", "IncludeRetElement", "OwnerID",
    ),
    "AccountQueryRq": (
        "ListID", "FullName", "MaxReturned", "ActiveStatus", "FromModifiedDate",
        "ToModifiedDate", "NameFilter", "NameRangeFilter", "AccountType", "CurrencyFilter",
        "IncludeRetElement", "OwnerID",
    ),
}  # fmt: skip
ORDER["JournalCreditLine"] = ORDER["JournalDebitLine"]
REQUESTS = frozenset(
    {
        "JournalEntryAddRq",
        "JournalEntryQueryRq",
        "CustomerAddRq",
        "CustomerQueryRq",
        "AccountQueryRq",
    }
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


class ParseError(ValueError):
    """The request is not qbXML QuickBooks can read (HRESULT 0x80040400)."""

    hresult = "0x80040400"


def read_message_set(text: str) -> etree._Element:
    """The QBXMLMsgsRq of ``text``, every request in it checked against the schema."""
    if "<?qbxml" not in text:
        raise ParseError("the request has no <?qbxml version?> instruction")
    body = text[text.index("?>", text.index("<?qbxml")) + 2 :]
    try:
        root = etree.fromstring(body.strip().encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not well-formed: {exc}") from None
    msgs = root.find("QBXMLMsgsRq")
    if root.tag != "QBXML" or msgs is None:
        raise ParseError("expected QBXML/QBXMLMsgsRq")
    if msgs.get("onError") not in ("stopOnError", "continueOnError"):
        raise ParseError("QBXMLMsgsRq needs onError stopOnError or continueOnError")
    for rq in msgs:
        if rq.tag not in REQUESTS:
            raise ParseError(f"unknown request {rq.tag}")
        check_order(rq)
    return msgs


def check_order(element: etree._Element) -> None:
    """Refuse ``element`` (and the aggregates inside it) if a child is out of sequence."""
    order = ORDER.get(str(element.tag))
    if order is not None:
        position = 0
        for child in element:
            slot = _slot(order, str(child.tag))
            if slot is None:
                raise ParseError(f"{element.tag} does not take {child.tag}")
            if slot < position:
                raise ParseError(f"{child.tag} is out of order in {element.tag}")
            position = slot
    for child in element:
        check_order(child)


def _slot(order: tuple[str, ...], tag: str) -> int | None:
    for index, names in enumerate(order):
        if tag in names.split("|"):
            return index
    return None
