"""qbXML requests for sales forms and payments, in the specification's element order:
sales receipts, invoices, credit memos, received payments, deposits, the item list, and
a customer changed under its EditSequence.

Each add names its customer, items and accounts by full name, carries salesync's short
reference in RefNumber (RefNumber holds 11 characters on these forms) and the full key in
its Memo, so a lookup by reference can recognise it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lxml import etree

from salesync.connectors.qbd.qbxml import aggregate, amount, ref


@dataclass(frozen=True, slots=True)
class ItemLine:
    """One line of a sales form: an item, and either a quantity at a rate or an amount."""

    item: str
    amount: Decimal
    description: str = ""
    quantity: Decimal | None = None
    rate: Decimal | None = None
    tax_code: str | None = None


@dataclass(frozen=True, slots=True)
class DepositLine:
    """A deposit line: a payment already received (by its TxnID), or an amount from an
    account (a fee is a negative amount against the fee account)."""

    payment_txn_id: str | None = None
    account: str | None = None
    amount: Decimal | None = None
    memo: str = ""

    def __post_init__(self) -> None:
        if (self.payment_txn_id is None) == (self.account is None or self.amount is None):
            raise ValueError("a deposit line is a payment's TxnID, or an account and an amount")


def sales_receipt_add(
    request_id: str,
    *,
    customer: str | None,
    day: date,
    reference: str,
    memo: str,
    deposit_to: str | None,
    lines: Sequence[ItemLine],
) -> etree._Element:
    """A SalesReceiptAddRq; without ``deposit_to`` the money waits in Undeposited Funds."""
    add = aggregate(
        "SalesReceiptAdd",
        [
            ("CustomerRef", ref("CustomerRef", customer) if customer else None),
            ("TxnDate", day.isoformat()),
            ("RefNumber", reference),
            ("Memo", memo or None),
            ("DepositToAccountRef", ref("DepositToAccountRef", deposit_to) if deposit_to else None),
            ("SalesReceiptLineAdd", [_item_line("SalesReceiptLineAdd", ln) for ln in lines]),
        ],
    )
    return _request("SalesReceiptAddRq", request_id, add)


def invoice_add(
    request_id: str,
    *,
    customer: str,
    day: date,
    reference: str,
    memo: str,
    lines: Sequence[ItemLine],
) -> etree._Element:
    add = aggregate(
        "InvoiceAdd",
        [
            ("CustomerRef", ref("CustomerRef", customer)),
            ("TxnDate", day.isoformat()),
            ("RefNumber", reference),
            ("Memo", memo or None),
            ("InvoiceLineAdd", [_item_line("InvoiceLineAdd", ln) for ln in lines]),
        ],
    )
    return _request("InvoiceAddRq", request_id, add)


def credit_memo_add(
    request_id: str,
    *,
    customer: str,
    day: date,
    reference: str,
    memo: str,
    lines: Sequence[ItemLine],
) -> etree._Element:
    add = aggregate(
        "CreditMemoAdd",
        [
            ("CustomerRef", ref("CustomerRef", customer)),
            ("TxnDate", day.isoformat()),
            ("RefNumber", reference),
            ("Memo", memo or None),
            ("CreditMemoLineAdd", [_item_line("CreditMemoLineAdd", ln) for ln in lines]),
        ],
    )
    return _request("CreditMemoAddRq", request_id, add)


def receive_payment_add(
    request_id: str,
    *,
    customer: str,
    day: date,
    reference: str,
    total: Decimal,
    memo: str,
    deposit_to: str | None,
    applied: Sequence[tuple[str, Decimal]],
) -> etree._Element:
    """A ReceivePaymentAddRq applied to the invoices ``applied`` names (TxnID, amount); with
    none, QuickBooks applies it itself (IsAutoApply)."""
    to_txns = [
        aggregate("AppliedToTxnAdd", [("TxnID", txn), ("PaymentAmount", amount(paid))])
        for txn, paid in applied
    ]
    add = aggregate(
        "ReceivePaymentAdd",
        [
            ("CustomerRef", ref("CustomerRef", customer)),
            ("TxnDate", day.isoformat()),
            ("RefNumber", reference),
            ("TotalAmount", amount(total)),
            ("Memo", memo or None),
            ("DepositToAccountRef", ref("DepositToAccountRef", deposit_to) if deposit_to else None),
            ("IsAutoApply", None if to_txns else "true"),
            ("AppliedToTxnAdd", to_txns),
        ],
    )
    return _request("ReceivePaymentAddRq", request_id, add)


def deposit_add(
    request_id: str, *, day: date, deposit_to: str, memo: str, lines: Sequence[DepositLine]
) -> etree._Element:
    """A DepositAddRq moving received payments (and fees, as negative lines) to the bank."""
    built = []
    for line in lines:
        if line.payment_txn_id is not None:
            built.append(aggregate("DepositLineAdd", [("PaymentTxnID", line.payment_txn_id)]))
        elif line.account is not None and line.amount is not None:
            built.append(
                aggregate(
                    "DepositLineAdd",
                    [
                        ("AccountRef", ref("AccountRef", line.account)),
                        ("Memo", line.memo or None),
                        ("Amount", f"{line.amount.quantize(Decimal('0.01'))}"),
                    ],
                )
            )
    add = aggregate(
        "DepositAdd",
        [
            ("TxnDate", day.isoformat()),
            ("DepositToAccountRef", ref("DepositToAccountRef", deposit_to)),
            ("Memo", memo or None),
            ("DepositLineAdd", built),
        ],
    )
    return _request("DepositAddRq", request_id, add)


def item_query(
    request_id: str, *, names: Sequence[str] = (), max_returned: int | None = None
) -> etree._Element:
    """An ItemQueryRq for the items ``names`` (all items when empty, a page at a time)."""
    rq = aggregate(
        "ItemQueryRq",
        [
            ("FullName", list(names)),
            ("MaxReturned", str(max_returned) if max_returned and not names else None),
        ],
    )
    rq.set("requestID", request_id)
    return rq


def customer_mod(
    request_id: str,
    list_id: str,
    edit_sequence: str,
    *,
    name: str | None = None,
    email: str | None = None,
) -> etree._Element:
    """A CustomerModRq: QuickBooks applies it only if ``edit_sequence`` is still the
    customer's latest (3200 otherwise: read it again and redo the change)."""
    mod = aggregate(
        "CustomerMod",
        [("ListID", list_id), ("EditSequence", edit_sequence), ("Name", name), ("Email", email)],
    )
    return _request("CustomerModRq", request_id, mod)


def item_other_charge_add(request_id: str, name: str, account: str) -> etree._Element:
    """An ItemOtherChargeAddRq: an item whose sales go to ``account``, for sales forms to
    carry amounts that belong there."""
    sells = aggregate("SalesOrPurchase", [("AccountRef", ref("AccountRef", account))])
    add = aggregate("ItemOtherChargeAdd", [("Name", name), ("SalesOrPurchase", sells)])
    return _request("ItemOtherChargeAddRq", request_id, add)


def sales_receipt_query(request_id: str, references: Sequence[str]) -> etree._Element:
    """The sales receipts carrying ``references``, their lines included."""
    rq = aggregate(
        "SalesReceiptQueryRq", [("RefNumber", list(references)), ("IncludeLineItems", "true")]
    )
    rq.set("requestID", request_id)
    return rq


def deposit_query(request_id: str, day: date) -> etree._Element:
    """The deposits of ``day`` (a deposit has no RefNumber: its memo tells them apart)."""
    dates = aggregate(
        "TxnDateRangeFilter", [("FromTxnDate", day.isoformat()), ("ToTxnDate", day.isoformat())]
    )
    rq = aggregate("DepositQueryRq", [("TxnDateRangeFilter", dates), ("IncludeLineItems", "true")])
    rq.set("requestID", request_id)
    return rq


def _item_line(tag: str, line: ItemLine) -> etree._Element:
    return aggregate(
        tag,
        [
            ("ItemRef", ref("ItemRef", line.item)),
            ("Desc", line.description or None),
            ("Quantity", str(line.quantity) if line.quantity is not None else None),
            ("Rate", f"{line.rate.quantize(Decimal('0.01'))}" if line.rate is not None else None),
            ("Amount", f"{line.amount.quantize(Decimal('0.01'))}"),
            ("SalesTaxCodeRef", ref("SalesTaxCodeRef", line.tax_code) if line.tax_code else None),
        ],
    )


def _request(tag: str, request_id: str, body: etree._Element) -> etree._Element:
    rq = etree.Element(tag, requestID=request_id)
    rq.append(body)
    return rq
