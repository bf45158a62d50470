"""qbXML for QuickBooks Desktop: builders in the specification's element order, escaping,
responses read, and QuickBooks' statuses and HRESULTs as salesync error kinds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from salesync.connectors.qbd import qbxml
from salesync.connectors.qbd.errors import hresult_error, status_error
from salesync.connectors.qbd.qbxml import EntryLine
from salesync.connectors.qbd.responses import MalformedResponseError, Status, parse_replies
from salesync.domain.errors import ErrorKind

# The sequences below are transcribed from the qbXML 13.0 onscreen reference (OSR), one per
# aggregate; the builders must emit children as an ordered subsequence of them.
JOURNAL_ENTRY_ADD = [
    "TxnDate", "RefNumber", "IsAdjustment", "IsHomeCurrencyAdjustment",
    "IsAmountsEnteredInHomeCurrency", "CurrencyRef", "ExchangeRate", "ExternalGUID",
    "JournalDebitLine", "JournalCreditLine",
]  # fmt: skip
JOURNAL_LINE = [
    "TxnLineID", "AccountRef", "Amount", "Memo", "EntityRef", "ClassRef", "ItemSalesTaxRef",
    "BillableStatus",
]  # fmt: skip
CUSTOMER_ADD = [
    "Name", "IsActive", "ClassRef", "ParentRef", "CompanyName", "Salutation", "FirstName",
    "MiddleName", "LastName", "JobTitle", "BillAddress", "ShipAddress", "ShipToAddress",
    "PrintAs", "Phone", "AltPhone", "Fax", "Email",
]  # fmt: skip
CUSTOMER_QUERY = [
    "ListID", "FullName", "MaxReturned", "ActiveStatus", "FromModifiedDate", "ToModifiedDate",
    "NameFilter", "NameRangeFilter", "TotalBalanceFilter", "CurrencyFilter", "ClassFilter",
    "IncludeRetElement", "OwnerID",
]  # fmt: skip
JOURNAL_ENTRY_QUERY = [
    "TxnID", "RefNumber", "RefNumberCaseSensitive", "MaxReturned", "ModifiedDateRangeFilter",
    "TxnDateRangeFilter", "EntityFilter", "AccountFilter", "RefNumberFilter",
    "RefNumberRangeFilter", "CurrencyFilter", "IncludeLineItems", "IncludeRetElement", "OwnerID",
]  # fmt: skip

LINES = [
    EntryLine("credit", "Income:Sales:Apparel", Decimal("64.00")),
    EntryLine("debit", "Assets:Clearing:Card", Decimal("71.45"), "order:1 card"),
    EntryLine("credit", "Liabilities:Sales-Tax", Decimal("7.45")),
]


def in_spec_order(element: etree._Element, spec: list[str]) -> bool:
    positions = [spec.index(str(child.tag)) for child in element]
    return positions == sorted(positions)


def test_journal_entry_add_follows_the_specification_order() -> None:
    """Header fields, then debit lines, then credit lines, each line in its own order."""
    rq = qbxml.journal_entry_add("7", date(2026, 3, 2), "SS12345", LINES)
    add = rq[0]
    assert rq.get("requestID") == "7"
    assert [str(c.tag) for c in add] == [
        "TxnDate", "RefNumber", "JournalDebitLine", "JournalCreditLine", "JournalCreditLine",
    ]  # fmt: skip
    assert in_spec_order(add, JOURNAL_ENTRY_ADD)
    for line in add.iterfind("JournalDebitLine"):
        assert [str(c.tag) for c in line] == ["AccountRef", "Amount", "Memo"]
    for line in add[2:]:
        assert in_spec_order(line, JOURNAL_LINE)
    assert add.findtext("JournalDebitLine/Amount") == "71.45"


def test_queries_and_customer_add_follow_the_specification_order() -> None:
    """Query filters and a customer's fields come in the order QuickBooks reads them."""
    customer = qbxml.customer_add("1", "Ana", email="ana@example.com")[0]
    assert in_spec_order(customer, CUSTOMER_ADD)
    query = qbxml.customer_query("2", max_returned=5, active="ActiveOnly")
    assert [str(c.tag) for c in query] == ["MaxReturned", "ActiveStatus"]
    assert in_spec_order(query, CUSTOMER_QUERY)
    lookup = qbxml.journal_entry_query("3", ["SS1", "SS2"])
    assert [str(c.tag) for c in lookup] == ["RefNumber", "RefNumber", "IncludeLineItems"]
    assert in_spec_order(lookup, JOURNAL_ENTRY_QUERY)


def test_an_element_the_aggregate_does_not_take_is_refused() -> None:
    """A field outside the aggregate's sequence is a programming error caught on build."""
    with pytest.raises(ValueError, match="CustomerAdd has no element Memo"):
        qbxml.aggregate("CustomerAdd", [("Name", "Ana"), ("Memo", "x")])


def test_text_is_escaped_and_non_ascii_written_as_numeric_references() -> None:
    """Ampersands and angle brackets are escaped; é travels as &#233; in ASCII."""
    text = qbxml.message_set([qbxml.customer_add("1", "Décor & <Co>")])
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>')
    assert "<Name>D&#233;cor &amp; &lt;Co&gt;</Name>" in text
    text.encode("ascii")


def test_message_set_carries_on_error_and_the_recovery_id() -> None:
    """The message set says how to treat an error and may carry a newMessageSetID."""
    text = qbxml.message_set(
        [qbxml.customer_add("1", "Ana")], on_error="continueOnError", new_message_set_id="m-1"
    )
    assert '<QBXMLMsgsRq onError="continueOnError" newMessageSetID="m-1">' in text


def test_iterators_start_and_continue_with_the_id_quickbooks_gave() -> None:
    """Start opens an iterator; Continue needs the iteratorID and names it."""
    start = qbxml.message_set([qbxml.customer_query("1", max_returned=2)])
    assert 'iterator="Start"' in start
    more = qbxml.reiterate(start, "Continue", "{abc}")
    assert 'iterator="Continue" iteratorID="{abc}"' in more
    with pytest.raises(ValueError, match="iteratorID"):
        qbxml.reiterate(start, "Continue")


def test_a_non_positive_line_amount_is_refused() -> None:
    """Journal lines carry positive amounts; the side says debit or credit."""
    with pytest.raises(ValueError, match="positive"):
        qbxml.journal_entry_add("1", date(2026, 3, 2), "SS1", [EntryLine("debit", "A", Decimal(0))])


RESPONSE = """<?xml version="1.0" encoding="windows-1252" ?>
<QBXML><QBXMLMsgsRs>
<CustomerQueryRs requestID="4" statusCode="0" statusSeverity="Info" statusMessage="Status OK"
 iteratorRemainingCount="3" iteratorID="{eb05f701-e727-472f-8ade-6753c4f67a46}">
<CustomerRet><ListID>80000001-1</ListID><Name>Ana</Name><FullName>Ana</FullName></CustomerRet>
</CustomerQueryRs>
<JournalEntryAddRs requestID="5" statusCode="3140" statusSeverity="Error"
 statusMessage="There is an invalid reference to QuickBooks Account &quot;Nope&quot;" />
<JournalEntryQueryRs requestID="6" statusCode="0" statusSeverity="Info" statusMessage="OK">
<JournalEntryRet><TxnID>1A-17</TxnID><RefNumber>SS1</RefNumber>
<JournalDebitLine><TxnLineID>1</TxnLineID><AccountRef><FullName>Bank</FullName></AccountRef>
<Amount>5.00</Amount><Memo>key order:1</Memo></JournalDebitLine></JournalEntryRet>
</JournalEntryQueryRs>
</QBXMLMsgsRs></QBXML>"""


def test_replies_are_read_with_status_iterator_and_records() -> None:
    """Each reply's status, iterator attributes and records (line memos too) are read."""
    customers, refused, entries = parse_replies(RESPONSE)
    assert customers.status == Status(0, "Info", "Status OK")
    assert customers.remaining == 3
    assert customers.iterator_id == "{eb05f701-e727-472f-8ade-6753c4f67a46}"
    assert customers.records[0].get("Name") == "Ana"
    assert refused.operation == "JournalEntryAdd"
    assert not refused.status.ok
    assert refused.status.code == 3140
    assert entries.records[0].get("TxnID") == "1A-17"
    assert entries.records[0].memos == ("key order:1",)


@pytest.mark.parametrize("text", ["", "<QBXML>", "<html>gateway timeout</html>"])
def test_what_is_not_a_qbxml_response_is_refused(text: str) -> None:
    """An empty, truncated or foreign answer is reported, never read as success."""
    with pytest.raises(MalformedResponseError):
        parse_replies(text)


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        (3100, ErrorKind.MAPPING, "already has a list entry with this name"),
        (3140, ErrorKind.MAPPING, "does not have"),
        (3175, ErrorKind.CONFLICT, "in use"),
        (3200, ErrorKind.CONFLICT, "changed in QuickBooks"),
        (3260, ErrorKind.AUTH, "permission"),
        (3231, ErrorKind.TRANSIENT, "skipped"),
        (3045, ErrorKind.VALIDATION, "refused a value"),
        (2030, ErrorKind.BUG, "does not support"),
        (9999, ErrorKind.BUG, "does not know"),
    ],
)
def test_statuses_map_to_error_kinds_in_plain_words(code: int, kind: ErrorKind, words: str) -> None:
    """Each documented code (or its range) becomes a kind and a message a merchant reads."""
    error = status_error(Status(code, "Error", "QuickBooks' own words"), "JournalEntryAdd")
    assert error.kind is kind
    assert words in error.user_message
    assert "QuickBooks' own words" in error.user_message
    assert error.code == str(code)


@pytest.mark.parametrize(
    ("hresult", "kind"),
    [
        ("0x80040408", ErrorKind.TRANSIENT),
        ("0x80040410", ErrorKind.TRANSIENT),
        ("0x8004041A", ErrorKind.AUTH),
        ("0x80040409", ErrorKind.AUTH),
        ("0x80040400", ErrorKind.BUG),
        ("0x80049999", ErrorKind.TRANSIENT),
    ],
)
def test_hresults_map_to_error_kinds(hresult: str, kind: ErrorKind) -> None:
    """Transport-level failures between the Web Connector and QuickBooks are classified."""
    error = hresult_error(hresult, "message")
    assert error.kind is kind
    assert error.user_message
