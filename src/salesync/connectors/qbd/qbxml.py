"""qbXML requests, built in the element order the qbXML specification requires.

QuickBooks rejects a request whose elements stray from the sequence its schema declares
(statusCode 3000-range parse errors, or an HRESULT 0x80040400 for the whole message set),
so every aggregate here is written through ``SEQUENCES``: the children it may hold, in the
order of the qbXML 13.0 onscreen reference (OSR). Text is escaped by the serializer and
every character outside ASCII is written as a numeric reference (``D&#233;cor``), which
QuickBooks reads whatever code page the company file uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from lxml import etree

from salesync.connectors.qbd.sequences import slot

VERSION = "13.0"
HEADER = f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{VERSION}"?>\n'

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
Child = str | etree._Element | None
Iterator = Literal["Start", "Continue"]


@dataclass(frozen=True, slots=True)
class EntryLine:
    """One side of a journal entry: the account by its full name (``Income:Sales``)."""

    side: Literal["debit", "credit"]
    account: str
    amount: Decimal
    memo: str = ""


def aggregate(tag: str, children: Iterable[tuple[str, Child | Sequence[Child]]]) -> etree._Element:
    """``tag`` with ``children`` placed in its specification order; empty ones left out."""
    placed: list[tuple[int, int, etree._Element]] = []
    for name, value in children:
        position = slot(tag, name)
        if position is None:
            raise ValueError(f"{tag} has no element {name}")
        for item in value if isinstance(value, list | tuple) else (value,):
            if item is None:
                continue
            element = item if _is_element(item) else _text(name, item)
            placed.append((position, len(placed), element))
    element = etree.Element(tag)
    element.extend(e for _, _, e in sorted(placed, key=lambda p: (p[0], p[1])))
    return element


def ref(tag: str, full_name: str) -> etree._Element:
    """A list reference by full name (``<AccountRef><FullName>…</FullName></AccountRef>``)."""
    element = etree.Element(tag)
    element.append(_text("FullName", full_name))
    return element


def amount(value: Decimal) -> str:
    """A qbXML AMTTYPE: two decimals, no sign for the positive amounts lines carry."""
    if value <= 0:
        raise ValueError(f"a journal line amount must be positive, not {value}")
    return f"{value.quantize(Decimal('0.01'))}"


def journal_entry_add(
    request_id: str, day: date, reference: str, lines: Sequence[EntryLine]
) -> etree._Element:
    """A JournalEntryAddRq: debit lines then credit lines, ``reference`` in RefNumber."""
    debits = [_line("JournalDebitLine", ln) for ln in lines if ln.side == "debit"]
    credits = [_line("JournalCreditLine", ln) for ln in lines if ln.side == "credit"]
    add = aggregate(
        "JournalEntryAdd",
        [
            ("TxnDate", day.isoformat()),
            ("RefNumber", reference),
            ("JournalDebitLine", debits),
            ("JournalCreditLine", credits),
        ],
    )
    rq = etree.Element("JournalEntryAddRq", requestID=request_id)
    rq.append(add)
    return rq


def journal_entry_query(request_id: str, references: Sequence[str]) -> etree._Element:
    """A JournalEntryQueryRq for the entries carrying any of ``references``, lines included
    (their memos hold the full key the reference was derived from)."""
    return _query(
        "JournalEntryQueryRq",
        request_id,
        [("RefNumber", list(references)), ("IncludeLineItems", "true")],
    )


def customer_add(request_id: str, name: str, *, email: str | None = None) -> etree._Element:
    """A CustomerAddRq for a customer named ``name``."""
    add = aggregate("CustomerAdd", [("Name", name), ("Email", email)])
    rq = etree.Element("CustomerAddRq", requestID=request_id)
    rq.append(add)
    return rq


def customer_query(
    request_id: str,
    *,
    max_returned: int,
    iterator: Iterator = "Start",
    iterator_id: str | None = None,
    active: Literal["ActiveOnly", "InactiveOnly", "All"] = "All",
) -> etree._Element:
    """A page of the customer list through an iterator: ``Start`` opens it, ``Continue``
    with the ``iteratorID`` QuickBooks returned reads the next page."""
    rq = _query(
        "CustomerQueryRq",
        request_id,
        [("MaxReturned", str(max_returned)), ("ActiveStatus", active)],
    )
    return with_iterator(rq, iterator, iterator_id)


def with_iterator(
    rq: etree._Element, iterator: Iterator, iterator_id: str | None = None
) -> etree._Element:
    """``rq`` opening (``Start``) or continuing an iterator; a query that continues must
    name the iterator it continues."""
    if iterator == "Continue" and not iterator_id:
        raise ValueError("continuing an iterator needs the iteratorID QuickBooks returned")
    rq.set("iterator", iterator)
    if iterator == "Continue" and iterator_id:
        rq.set("iteratorID", iterator_id)
    elif "iteratorID" in rq.attrib:
        del rq.attrib["iteratorID"]
    return rq


def message_set(
    requests: Sequence[etree._Element],
    *,
    on_error: Literal["stopOnError", "continueOnError"] = "stopOnError",
    new_message_set_id: str | None = None,
) -> str:
    """A complete qbXML document carrying ``requests`` in one QBXMLMsgsRq."""
    root = etree.Element("QBXML")
    msgs = etree.SubElement(root, "QBXMLMsgsRq", onError=on_error)
    if new_message_set_id:
        msgs.set("newMessageSetID", new_message_set_id)
    msgs.extend(requests)
    return document(root)


def reiterate(text: str, iterator: Iterator, iterator_id: str | None = None) -> str:
    """The message set ``text`` (salesync's own) with its query opening or continuing an
    iterator."""
    body = text[len(HEADER) :] if text.startswith(HEADER) else text
    root = etree.fromstring(body.encode("ascii"), _PARSER)
    msgs = root.find("QBXMLMsgsRq")
    if msgs is None or len(msgs) != 1:
        raise ValueError("an iterator query goes alone in its message set")
    with_iterator(msgs[0], iterator, iterator_id)
    return document(root)


def document(root: etree._Element) -> str:
    """``root`` as qbXML text: the headers, then ASCII with numeric references."""
    body = etree.tostring(root, encoding="us-ascii", xml_declaration=False).decode("ascii")
    return HEADER + body


def _query(
    tag: str, request_id: str, children: Iterable[tuple[str, Child | Sequence[Child]]]
) -> etree._Element:
    rq = aggregate(tag, children)
    rq.set("requestID", request_id)
    return rq


def _line(tag: str, line: EntryLine) -> etree._Element:
    return aggregate(
        tag,
        [
            ("AccountRef", ref("AccountRef", line.account)),
            ("Amount", amount(line.amount)),
            ("Memo", line.memo or None),
        ],
    )


def _text(tag: str, value: str) -> etree._Element:
    element = etree.Element(tag)
    element.text = value
    return element


def _is_element(value: object) -> bool:
    return isinstance(value, etree._Element)
