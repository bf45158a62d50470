"""A simulated QuickBooks Desktop company file that applies qbXML as QuickBooks does.

It holds a chart of accounts, a customer list and journal entries; it answers each request
of a message set with its ``…Rs`` and status, refuses what QuickBooks refuses (an account
it does not have: 3140; a name already in use: 3100; an entry out of balance: 3180; a
RefNumber longer than the field: 3070), and pages queries through iterators that live
as long as the Web Connector's session with QuickBooks.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from salesync.sandbox.qbd.forms import Transaction, apply, item_query, transaction_query
from salesync.sandbox.qbd.lists import (
    Failure,
    ListEntry,
    account_query,
    customer_add,
    customer_query,
)
from salesync.sandbox.qbd.schema import read_message_set

FORMS = frozenset(
    {
        "SalesReceiptAdd", "InvoiceAdd", "CreditMemoAdd", "ReceivePaymentAdd", "DepositAdd",
        "CustomerMod", "ItemOtherChargeAdd",
    }
)  # fmt: skip
REF_NUMBER_LIMIT = 11
"""JournalEntryAdd's RefNumber holds 11 characters."""


@dataclass(slots=True)
class JournalEntry:
    txn_id: str
    number: int
    day: date
    ref_number: str
    lines: list[tuple[str, str, Decimal, str]]
    """(JournalDebitLine | JournalCreditLine, account full name, amount, memo)."""


@dataclass(slots=True)
class QbdCompanyFile:
    """One company file; thread-safe, so the Web Connector and a test may share it."""

    path: str = "C:\\Users\\Public\\Documents\\Intuit\\QuickBooks\\Harbor Goods.QBW"
    accounts: dict[str, ListEntry] = field(default_factory=dict)
    customers: dict[str, ListEntry] = field(default_factory=dict)
    entries: list[JournalEntry] = field(default_factory=list)
    items: dict[str, ListEntry] = field(default_factory=dict)
    transactions: list[Transaction] = field(default_factory=list)
    """Sales receipts, invoices, credit memos, payments and deposits."""
    iterators: dict[str, list[etree._Element]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    """Every request applied, by name (``JournalEntryAddRq``), for tests to inspect."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def with_accounts(cls, names: Iterable[str], **kwargs: object) -> QbdCompanyFile:
        company = cls(**kwargs)  # type: ignore[arg-type]
        for name in names:
            company.add_account(name)
        return company

    def add_account(self, full_name: str, *, active: bool = True) -> ListEntry:
        """An account (and the parents its full name implies, as QuickBooks requires)."""
        with self._lock:
            parent = full_name.rpartition(":")[0]
            if parent and parent not in self.accounts:
                self.add_account(parent)
            entry = ListEntry(self._list_id(), full_name, active)
            self.accounts.setdefault(full_name, entry)
            return self.accounts[full_name]

    def add_item(self, name: str, income_account: str) -> ListEntry:
        """A non-inventory item selling into ``income_account`` (created if missing)."""
        with self._lock:
            self.add_account(income_account)
            entry = ListEntry(self._list_id(), name, True, income_account=income_account)
            self.items[name] = entry
            return entry

    def new_list_id(self) -> str:
        return self._list_id()

    def new_txn_id(self) -> str:
        return f"{next(self._ids):X}-1700000000"

    def add_customer(self, name: str) -> ListEntry:
        with self._lock:
            entry = ListEntry(self._list_id(), name, True)
            self.customers[name] = entry
            return entry

    def open_session(self) -> None:
        """QuickBooks opened the file for a Web Connector session: iterators start afresh."""
        with self._lock:
            self.iterators.clear()

    def host_response(self) -> str:
        """What the Web Connector passes on its first sendRequestXML: the HostQuery answer
        naming the QuickBooks edition and the qbXML versions it speaks."""
        return (
            '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><HostQueryRs statusCode="0" '
            'statusSeverity="Info" statusMessage="Status OK"><HostRet>'
            "<ProductName>QuickBooks Desktop Pro 2024</ProductName><MajorVersion>34"
            "</MajorVersion><SupportedQBXMLVersion>13.0</SupportedQBXMLVersion>"
            "<SupportedQBXMLVersion>16.0</SupportedQBXMLVersion></HostRet></HostQueryRs>"
            "</QBXMLMsgsRs></QBXML>"
        )

    def process(self, request: str) -> str:
        """The response QuickBooks gives to the message set ``request``; raises
        ``ParseError`` when QuickBooks cannot read it (nothing is applied then)."""
        with self._lock:
            msgs = read_message_set(request)
            stop = msgs.get("onError") == "stopOnError"
            root = etree.Element("QBXML")
            out = etree.SubElement(root, "QBXMLMsgsRs")
            for rq in msgs:
                self.log.append(str(rq.tag))
                rs = self._answer(rq)
                out.append(rs)
                if stop and rs.get("statusSeverity") == "Error":
                    break
            body = etree.tostring(root, encoding="us-ascii", xml_declaration=False)
            return '<?xml version="1.0" ?>\n' + body.decode("ascii")

    def balances(self) -> dict[str, Decimal]:
        """Each account's balance from the journal entries: debits positive."""
        sums: dict[str, Decimal] = {}
        with self._lock:
            for entry in self.entries:
                for side, account, amount, _memo in entry.lines:
                    sign = 1 if side == "JournalDebitLine" else -1
                    sums[account] = sums.get(account, Decimal(0)) + sign * amount
            for txn in self.transactions:
                for account, amount in txn.moves:
                    sums[account] = sums.get(account, Decimal(0)) + amount
        return sums

    def _answer(self, rq: etree._Element) -> etree._Element:
        name = str(rq.tag).removesuffix("Rq")
        rs = etree.Element(f"{name}Rs", requestID=rq.get("requestID", ""))
        try:
            if name == "JournalEntryAdd":
                rs.append(self._add_entry(rq[0]))
            elif name == "CustomerAdd":
                rs.append(customer_add(self, rq[0]))
            elif name in FORMS:
                rs.append(apply(self, name, rq[0]))
            else:
                rets, remaining, iterator_id = self._query(name, rq)
                if not rets and remaining is None:
                    return _status(rs, 1, "Info", "A query request did not find a matching "
                                   "object in QuickBooks")  # fmt: skip
                rs.extend(rets)
                if remaining is not None:
                    rs.set("iteratorRemainingCount", str(remaining))
                    rs.set("iteratorID", iterator_id or "")
        except Failure as failure:
            return _status(rs, failure.code, "Error", failure.message)
        return _status(rs, 0, "Info", "Status OK")

    def _query(
        self, name: str, rq: etree._Element
    ) -> tuple[list[etree._Element], int | None, str | None]:
        if name == "JournalEntryQuery":
            found = self._entries(rq)
        elif name == "CustomerQuery":
            found = customer_query(self, rq)
        elif name == "ItemQuery":
            found = item_query(self, rq)
        elif name in ("SalesReceiptQuery", "DepositQuery"):
            found = transaction_query(self, name.removesuffix("Query"), rq)
        else:
            found = account_query(self, rq)
        return self._page(rq, found)

    def _page(
        self, rq: etree._Element, found: list[etree._Element]
    ) -> tuple[list[etree._Element], int | None, str | None]:
        mode = rq.get("iterator")
        limit = int(rq.findtext("MaxReturned") or 0) or len(found) or 1
        if mode is None:
            return found[:limit], None, None
        if mode == "Start":
            iterator_id = "{" + f"{next(self._ids):08d}-ITER-{len(self.iterators):04d}" + "}"
            self.iterators[iterator_id] = found
        else:
            iterator_id = rq.get("iteratorID", "")
            if iterator_id not in self.iterators:
                raise Failure(3000, f'The given object ID "{iterator_id}" in the field '
                              '"iteratorID" is invalid.')  # fmt: skip
            found = self.iterators[iterator_id]
        page, self.iterators[iterator_id] = found[:limit], found[limit:]
        return page, len(self.iterators[iterator_id]), iterator_id

    def _add_entry(self, add: etree._Element) -> etree._Element:
        ref_number = add.findtext("RefNumber") or ""
        if len(ref_number) > REF_NUMBER_LIMIT:
            raise Failure(3070, f'The string "{ref_number}" in the field "RefNumber" is too long.')
        try:
            day = date.fromisoformat(add.findtext("TxnDate") or "")
        except ValueError:
            raise Failure(3020, "There was an error when converting the date value in the "
                          'field "TxnDate".') from None  # fmt: skip
        lines = [self._line(line) for line in add if str(line.tag).startswith("Journal")]
        debit = sum((a for s, _, a, _ in lines if s == "JournalDebitLine"), Decimal(0))
        credit = sum((a for s, _, a, _ in lines if s == "JournalCreditLine"), Decimal(0))
        if debit != credit or not lines:
            raise Failure(3180, "There was an error when saving a Journal Entry. QuickBooks "
                          "error message: Transaction is not in balance.")  # fmt: skip
        number = next(self._ids)
        entry = JournalEntry(f"{number:X}-1700000000", number, day, ref_number, lines)
        self.entries.append(entry)
        return self._entry_ret(entry)

    def _line(self, line: etree._Element) -> tuple[str, str, Decimal, str]:
        account = line.findtext("AccountRef/FullName") or ""
        known = self.accounts.get(account)
        if known is None or not known.active:
            raise Failure(3140, f'There is an invalid reference to QuickBooks Account "{account}" '
                          "in the Journal Entry. QuickBooks error message: Invalid argument. "
                          "The specified record does not exist in the list.")  # fmt: skip
        try:
            amount = Decimal(line.findtext("Amount") or "")
        except InvalidOperation:
            raise Failure(3040, "There was an error when converting the amount in the "
                          'field "Amount".') from None  # fmt: skip
        return str(line.tag), account, amount, line.findtext("Memo") or ""

    def _entries(self, rq: etree._Element) -> list[etree._Element]:
        refs = {e.text for e in rq.iterfind("RefNumber")}
        txn_ids = {e.text for e in rq.iterfind("TxnID")}
        return [
            self._entry_ret(e)
            for e in self.entries
            if (not refs or e.ref_number in refs) and (not txn_ids or e.txn_id in txn_ids)
        ]

    def _entry_ret(self, entry: JournalEntry) -> etree._Element:
        ret = etree.Element("JournalEntryRet")
        for tag, text in (
            ("TxnID", entry.txn_id),
            ("TxnNumber", str(entry.number)),
            ("TxnDate", entry.day.isoformat()),
            ("RefNumber", entry.ref_number),
        ):
            etree.SubElement(ret, tag).text = text
        for index, (side, account, amount, memo) in enumerate(entry.lines, 1):
            line = etree.SubElement(ret, side)
            etree.SubElement(line, "TxnLineID").text = f"{entry.number:X}-{index}"
            ref = etree.SubElement(line, "AccountRef")
            etree.SubElement(ref, "ListID").text = self.accounts[account].list_id
            etree.SubElement(ref, "FullName").text = account
            etree.SubElement(line, "Amount").text = f"{amount:.2f}"
            if memo:
                etree.SubElement(line, "Memo").text = memo
        return ret

    def _list_id(self) -> str:
        return f"{next(self._ids):X}0000-1700000000"


def _status(rs: etree._Element, code: int, severity: str, message: str) -> etree._Element:
    rs.set("statusCode", str(code))
    rs.set("statusSeverity", severity)
    rs.set("statusMessage", message)
    return rs
