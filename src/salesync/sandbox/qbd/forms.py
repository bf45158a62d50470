"""The simulated company file's sales forms and payments, applied as QuickBooks posts them:

- a sales receipt debits its deposit account (Undeposited Funds when none is named) and
  credits each item's income account;
- an invoice debits Accounts Receivable; a credit memo credits it back;
- a received payment moves money from Accounts Receivable to its deposit account (again
  Undeposited Funds by default), applied to the invoices it names;
- a deposit moves received payments out of Undeposited Funds into the bank, and amounts
  from other accounts (a negative line for fees) alongside.

Every reference must name something the file has (3140), a customer changed with a
stale EditSequence is refused (3200).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from lxml import etree

from salesync.sandbox.qbd.lists import Failure, ListEntry, list_ret

if TYPE_CHECKING:
    from salesync.sandbox.qbd.company import QbdCompanyFile

UNDEPOSITED = "Undeposited Funds"
RECEIVABLE = "Accounts Receivable"
REF_NUMBER_LIMIT = 11


@dataclass(slots=True)
class Transaction:
    kind: str
    txn_id: str
    day: date
    ref_number: str
    memo: str
    moves: list[tuple[str, Decimal]] = field(default_factory=list)
    """(account, amount): debits positive."""
    open_balance: Decimal = Decimal(0)


def apply(company: QbdCompanyFile, name: str, add: etree._Element) -> etree._Element:
    """Apply the add or mod ``name`` (``SalesReceiptAdd``…) and return its ``…Ret``."""
    if name == "CustomerMod":
        return _customer_mod(company, add)
    if name == "ItemOtherChargeAdd":
        return _item_add(company, add)
    ref_number = add.findtext("RefNumber") or ""
    if len(ref_number) > REF_NUMBER_LIMIT:
        raise Failure(3070, f'The string "{ref_number}" in the field "RefNumber" is too long.')
    day = _day(add)
    kind = name.removesuffix("Add")
    moves: list[tuple[str, Decimal]]
    if kind in ("SalesReceipt", "Invoice", "CreditMemo"):
        if kind != "SalesReceipt" or add.find("CustomerRef") is not None:
            _customer(company, add)
        sold = [_item_line(company, line) for line in add if str(line.tag).endswith("LineAdd")]
        total = sum((amount for _, amount in sold), Decimal(0))
        sign = -1 if kind == "CreditMemo" else 1
        debit = RECEIVABLE if kind != "SalesReceipt" else _account(company, add, UNDEPOSITED)
        moves = [(debit, sign * total)] + [(acct, -sign * amount) for acct, amount in sold]
    elif kind == "ReceivePayment":
        _customer(company, add)
        total = _amount(add.findtext("TotalAmount"))
        for applied in add.iterfind("AppliedToTxnAdd"):
            _settle(
                company, applied.findtext("TxnID") or "", _amount(applied.findtext("PaymentAmount"))
            )
        moves = [(_account(company, add, UNDEPOSITED), total), (RECEIVABLE, -total)]
    else:
        moves = _deposit(company, add)
    txn = Transaction(
        kind, company.new_txn_id(), day, ref_number, add.findtext("Memo") or "", moves
    )
    txn.open_balance = moves[0][1] if kind == "Invoice" else Decimal(0)
    company.transactions.append(txn)
    return ret(txn)


def ret(txn: Transaction) -> etree._Element:
    element = etree.Element(f"{txn.kind}Ret")
    for tag, text in (
        ("TxnID", txn.txn_id),
        ("TxnDate", txn.day.isoformat()),
        ("RefNumber", txn.ref_number),
        ("Memo", txn.memo),
    ):
        if text:
            etree.SubElement(element, tag).text = text
    return element


def item_query(company: QbdCompanyFile, rq: etree._Element) -> list[etree._Element]:
    names = {e.text for e in rq.iterfind("FullName")}
    return [
        list_ret("ItemNonInventoryRet", item)
        for name, item in sorted(company.items.items())
        if not names or name in names
    ]


def transaction_query(
    company: QbdCompanyFile, kind: str, rq: etree._Element
) -> list[etree._Element]:
    """Sales receipts by RefNumber, deposits by date (a deposit has no RefNumber)."""
    refs = {e.text for e in rq.iterfind("RefNumber")}
    start = rq.findtext("TxnDateRangeFilter/FromTxnDate")
    end = rq.findtext("TxnDateRangeFilter/ToTxnDate")
    found = []
    for txn in company.transactions:
        if txn.kind != kind or (refs and txn.ref_number not in refs):
            continue
        if (start and txn.day.isoformat() < start) or (end and txn.day.isoformat() > end):
            continue
        found.append(ret(txn))
    return found


def _item_add(company: QbdCompanyFile, add: etree._Element) -> etree._Element:
    name = add.findtext("Name") or ""
    if not name or len(name) > 31:
        raise Failure(3070, f'The string "{name}" in the field "Name" is too long or empty.')
    if name in company.items:
        raise Failure(3100, f'The name "{name}" of the list element is already in use.')
    account = _known(
        company.accounts, add.findtext("SalesOrPurchase/AccountRef/FullName"), "Account"
    )
    entry = ListEntry(company.new_list_id(), name, True, income_account=account.full_name)
    company.items[name] = entry
    return list_ret("ItemOtherChargeRet", entry)


def _customer_mod(company: QbdCompanyFile, mod: etree._Element) -> etree._Element:
    list_id = mod.findtext("ListID") or ""
    found = next((c for c in company.customers.values() if c.list_id == list_id), None)
    if found is None:
        raise Failure(3120, f'Object "{list_id}" specified in the request cannot be found.')
    sequence = mod.findtext("EditSequence") or ""
    if sequence != found.edit_sequence:
        raise Failure(3200, f'The provided edit sequence "{sequence}" is out-of-date.')
    name = mod.findtext("Name")
    if name and name != found.full_name:
        if name in company.customers:
            raise Failure(3100, f'The name "{name}" of the list element is already in use.')
        del company.customers[found.full_name]
        found.full_name = name
        company.customers[name] = found
    found.email = mod.findtext("Email") or found.email
    found.edit_sequence = str(int(found.edit_sequence) + 1)
    return list_ret("CustomerRet", found)


def _deposit(company: QbdCompanyFile, add: etree._Element) -> list[tuple[str, Decimal]]:
    bank = _account(company, add, None)
    moves: list[tuple[str, Decimal]] = []
    for line in add.iterfind("DepositLineAdd"):
        payment = line.findtext("PaymentTxnID")
        if payment is not None:
            paid = _payment(company, payment)
            moves += [(bank, paid), (UNDEPOSITED, -paid)]
        else:
            account = _known(company.accounts, line.findtext("AccountRef/FullName"), "Account")
            value = _amount(line.findtext("Amount"), signed=True)
            moves += [(bank, value), (account.full_name, -value)]
    return moves


def _payment(company: QbdCompanyFile, txn_id: str) -> Decimal:
    for txn in company.transactions:
        if txn.txn_id == txn_id and txn.kind in ("ReceivePayment", "SalesReceipt"):
            return next(amount for account, amount in txn.moves if account == UNDEPOSITED)
    raise Failure(3120, f'Object "{txn_id}" specified in the request cannot be found.')


def _settle(company: QbdCompanyFile, txn_id: str, paid: Decimal) -> None:
    for txn in company.transactions:
        if txn.txn_id == txn_id and txn.kind == "Invoice":
            txn.open_balance -= paid
            return
    raise Failure(3120, f'Object "{txn_id}" specified in the request cannot be found.')


def _item_line(company: QbdCompanyFile, line: etree._Element) -> tuple[str, Decimal]:
    item = _known(company.items, line.findtext("ItemRef/FullName"), "Item")
    return item.income_account, _amount(line.findtext("Amount"), signed=True)


def _customer(company: QbdCompanyFile, add: etree._Element) -> ListEntry:
    return _known(company.customers, add.findtext("CustomerRef/FullName"), "Customer")


def _account(company: QbdCompanyFile, add: etree._Element, default: str | None) -> str:
    name = add.findtext("DepositToAccountRef/FullName") or default
    return _known(company.accounts, name, "Account").full_name


def _known(entries: dict[str, ListEntry], name: str | None, kind: str) -> ListEntry:
    entry = entries.get(name or "")
    if entry is None or not entry.active:
        raise Failure(
            3140,
            f'There is an invalid reference to QuickBooks {kind} "{name}" in the request. '
            "QuickBooks error message: Invalid argument. The specified record does not "
            "exist in the list.",
        )
    return entry


def _amount(text: str | None, *, signed: bool = False) -> Decimal:
    try:
        value = Decimal(text or "")
    except InvalidOperation:
        raise Failure(3040, f'There was an error when converting the amount "{text}".') from None
    if value < 0 and not signed:
        raise Failure(3040, f'The amount "{text}" cannot be negative here.')
    return value


def _day(add: etree._Element) -> date:
    try:
        return date.fromisoformat(add.findtext("TxnDate") or "")
    except ValueError:
        raise Failure(3020, 'There was an error when converting the date in "TxnDate".') from None
