"""What the simulated QuickBooks accepts of a qbXML request: the message set's shape and,
for every aggregate it understands, its children in the order the qbXML 13.0 schema
declares (the sequences salesync writes by, ``connectors.qbd.sequences``; the builders'
tests check those against the specification on their own). QuickBooks refuses a message
set that breaks either with HRESULT 0x80040400 ("QuickBooks found an error when parsing
the provided XML text stream"), before it runs any request in it.
"""

from __future__ import annotations

from lxml import etree

from salesync.connectors.qbd.sequences import SEQUENCES, slot

REQUESTS = frozenset(
    {
        "JournalEntryAddRq", "JournalEntryQueryRq", "CustomerAddRq", "CustomerModRq",
        "CustomerQueryRq", "AccountQueryRq", "ItemQueryRq", "SalesReceiptAddRq",
        "InvoiceAddRq", "CreditMemoAddRq", "ReceivePaymentAddRq", "DepositAddRq",
        "ItemOtherChargeAddRq", "SalesReceiptQueryRq", "DepositQueryRq",
    }
)  # fmt: skip
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
    if str(element.tag) in SEQUENCES:
        position = 0
        for child in element:
            place = slot(str(element.tag), str(child.tag))
            if place is None:
                raise ParseError(f"{element.tag} does not take {child.tag}")
            if place < position:
                raise ParseError(f"{child.tag} is out of order in {element.tag}")
            position = place
    for child in element:
        check_order(child)
