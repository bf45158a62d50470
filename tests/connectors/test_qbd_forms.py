"""Sales forms and payments in qbXML: element order per the specification, and the
simulated company file posting them as QuickBooks does."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from salesync.connectors.qbd import forms, qbxml
from salesync.connectors.qbd.errors import status_error
from salesync.connectors.qbd.forms import DepositLine, ItemLine
from salesync.connectors.qbd.responses import Reply, parse_replies
from salesync.connectors.qbd.settle import settle
from salesync.connectors.qbd.shapes import item_name
from salesync.domain.errors import ErrorKind
from salesync.sandbox.qbd.company import QbdCompanyFile
from salesync.store.tables import QbdWorkRow

# Transcribed from the qbXML 13.0 onscreen reference (OSR), only the elements salesync
# may write, in the order given there.
SALES_RECEIPT_ADD = [
    "CustomerRef", "ClassRef", "TemplateRef", "TxnDate", "RefNumber", "Memo",
    "DepositToAccountRef", "SalesReceiptLineAdd",
]  # fmt: skip
INVOICE_ADD = ["CustomerRef", "ClassRef", "ARAccountRef", "TxnDate", "RefNumber", "Memo",
               "InvoiceLineAdd"]  # fmt: skip
CREDIT_MEMO_ADD = ["CustomerRef", "ClassRef", "ARAccountRef", "TxnDate", "RefNumber", "Memo",
                   "CreditMemoLineAdd"]  # fmt: skip
SALES_LINE = ["ItemRef", "Desc", "Quantity", "Rate", "ClassRef", "Amount", "SalesTaxCodeRef"]
RECEIVE_PAYMENT_ADD = [
    "CustomerRef", "ARAccountRef", "TxnDate", "RefNumber", "TotalAmount", "PaymentMethodRef",
    "Memo", "DepositToAccountRef", "IsAutoApply", "AppliedToTxnAdd",
]  # fmt: skip
APPLIED = ["TxnID", "PaymentAmount"]
DEPOSIT_ADD = ["TxnDate", "DepositToAccountRef", "Memo", "DepositLineAdd"]
DEPOSIT_LINE = ["PaymentTxnID", "EntityRef", "AccountRef", "Memo", "Amount"]
CUSTOMER_MOD = ["ListID", "EditSequence", "Name", "Email"]
DAY = date(2026, 3, 2)
LINES = [
    ItemLine("Tee", Decimal("64.00"), "Black tee", Decimal(2), Decimal("32.00"), "Tax"),
    ItemLine("Notebook", Decimal("19.98")),
]


def tags(element: etree._Element) -> list[str]:
    return [str(child.tag) for child in element]


def in_order(element: etree._Element, spec: list[str]) -> None:
    seen = tags(element)
    assert [t for t in spec if t in seen] == list(dict.fromkeys(seen)), seen


def receipt(customer: str | None = "Walk-in", deposit_to: str | None = None) -> etree._Element:
    return forms.sales_receipt_add(
        "1",
        customer=customer,
        day=DAY,
        reference="SS1",
        memo="Sale 1 [k1]",
        deposit_to=deposit_to,
        lines=LINES,
    )


def test_sales_forms_follow_the_specification_order() -> None:
    """Sales receipt, invoice and credit memo headers and lines, each in OSR order."""
    sales = receipt(deposit_to="Checking")[0]
    in_order(sales, SALES_RECEIPT_ADD)
    for line in sales.iterfind("SalesReceiptLineAdd"):
        in_order(line, SALES_LINE)
    assert tags(sales.find("SalesReceiptLineAdd")) == [
        "ItemRef", "Desc", "Quantity", "Rate", "Amount", "SalesTaxCodeRef",
    ]  # fmt: skip
    invoice = forms.invoice_add("2", customer="Ana", day=DAY, reference="SS2", memo="", lines=LINES)
    in_order(invoice[0], INVOICE_ADD)
    memo = forms.credit_memo_add(
        "3", customer="Ana", day=DAY, reference="S3", memo="m", lines=LINES
    )
    in_order(memo[0], CREDIT_MEMO_ADD)


def test_payments_and_deposits_follow_the_specification_order() -> None:
    """A payment applied to invoices, a deposit of payments and a fee, a customer mod."""
    payment = forms.receive_payment_add(
        "4", customer="Ana", day=DAY, reference="P1", total=Decimal(10), memo="",
        deposit_to=None, applied=[("1A-1", Decimal(10))],
    )[0]  # fmt: skip
    in_order(payment, RECEIVE_PAYMENT_ADD)
    in_order(payment.find("AppliedToTxnAdd"), APPLIED)
    auto = forms.receive_payment_add(
        "5", customer="Ana", day=DAY, reference="P2", total=Decimal(10), memo="",
        deposit_to="Checking", applied=[],
    )[0]  # fmt: skip
    assert auto.findtext("IsAutoApply") == "true"
    deposit = forms.deposit_add(
        "6", day=DAY, deposit_to="Checking", memo="Payout",
        lines=[DepositLine("1A-1"), DepositLine(account="Fees", amount=Decimal("-1.20"))],
    )[0]  # fmt: skip
    in_order(deposit, DEPOSIT_ADD)
    for line in deposit.iterfind("DepositLineAdd"):
        in_order(line, DEPOSIT_LINE)
    in_order(forms.customer_mod("7", "80-1", "17", email="a@b.c")[0], CUSTOMER_MOD)


def test_a_deposit_line_is_a_payment_or_an_account_amount() -> None:
    """Neither or both is refused on build."""
    with pytest.raises(ValueError, match="deposit line"):
        DepositLine()
    with pytest.raises(ValueError, match="deposit line"):
        DepositLine("1A-1", "Fees", Decimal(1))


@pytest.fixture
def company() -> QbdCompanyFile:
    company = QbdCompanyFile.with_accounts(
        ["Checking", "Undeposited Funds", "Accounts Receivable", "Merchant Fees"]
    )
    company.add_item("Tee", "Income:Apparel")
    company.add_item("Notebook", "Income:Stationery")
    company.add_customer("Walk-in")
    company.add_customer("Ana")
    return company


def send(company: QbdCompanyFile, rq: etree._Element) -> Reply:
    (reply,) = parse_replies(company.process(qbxml.message_set([rq])))
    return reply


def test_a_sales_receipt_waits_in_undeposited_funds_until_deposited(
    company: QbdCompanyFile,
) -> None:
    """Income credited per item; money in Undeposited Funds, then the bank less the fee."""
    sale = send(company, receipt())
    assert sale.status.code == 0
    txn = sale.records[0].get("TxnID")
    assert txn
    assert company.balances() == {
        "Undeposited Funds": Decimal("83.98"),
        "Income:Apparel": Decimal("-64.00"),
        "Income:Stationery": Decimal("-19.98"),
    }
    fee = DepositLine(account="Merchant Fees", amount=Decimal("-2.40"))
    deposit = forms.deposit_add(
        "2", day=DAY, deposit_to="Checking", memo="", lines=[DepositLine(txn), fee]
    )
    assert send(company, deposit).status.code == 0
    balances = company.balances()
    assert balances["Undeposited Funds"] == 0
    assert balances["Checking"] == Decimal("81.58")
    assert balances["Merchant Fees"] == Decimal("2.40")


def test_an_invoice_paid_leaves_nothing_receivable(company: QbdCompanyFile) -> None:
    """Invoice debits A/R; a payment applied to it credits A/R back."""
    invoice = send(
        company,
        forms.invoice_add("1", customer="Ana", day=DAY, reference="I1", memo="", lines=LINES),
    )
    txn = invoice.records[0].get("TxnID") or ""
    paid = forms.receive_payment_add(
        "2", customer="Ana", day=DAY, reference="P1", total=Decimal("83.98"), memo="",
        deposit_to="Checking", applied=[(txn, Decimal("83.98"))],
    )  # fmt: skip
    assert send(company, paid).status.code == 0
    assert company.balances()["Accounts Receivable"] == 0
    assert company.balances()["Checking"] == Decimal("83.98")


def test_an_unknown_item_is_an_invalid_reference(company: QbdCompanyFile) -> None:
    """3140 names the item; salesync reads it as a mapping to fix."""
    rq = forms.sales_receipt_add(
        "1", customer=None, day=DAY, reference="S", memo="", deposit_to=None,
        lines=[ItemLine("Candle", Decimal(5))],
    )  # fmt: skip
    reply = send(company, rq)
    assert reply.status.code == 3140
    assert '"Candle"' in reply.status.message
    assert status_error(reply.status, reply.operation).kind is ErrorKind.MAPPING
    assert company.transactions == []


def test_a_stale_edit_sequence_is_a_conflict(company: QbdCompanyFile) -> None:
    """A mod carries the EditSequence it read; after another change it is refused (3200)."""
    ana = company.customers["Ana"]
    first = send(company, forms.customer_mod("1", ana.list_id, ana.edit_sequence, email="a@x.y"))
    assert first.status.code == 0
    stale = send(company, forms.customer_mod("2", ana.list_id, "1700000000", email="b@x.y"))
    assert stale.status.code == 3200
    assert status_error(stale.status, stale.operation).kind is ErrorKind.CONFLICT
    assert company.customers["Ana"].email == "a@x.y"


def test_the_item_list_is_read(company: QbdCompanyFile) -> None:
    """ItemQuery answers the items, all or by name."""
    every = send(company, forms.item_query("1", max_returned=10))
    assert [r.get("Name") for r in every.records] == ["Notebook", "Tee"]
    one = send(company, forms.item_query("2", names=["Tee"]))
    assert [r.get("FullName") for r in one.records] == ["Tee"]


ITEM_OTHER_CHARGE_ADD = [
    "Name", "BarCode", "IsActive", "ClassRef", "ParentRef", "IsTaxIncluded", "SalesTaxCodeRef",
    "SalesOrPurchase", "ExternalGUID",
]  # fmt: skip
SALES_OR_PURCHASE = ["Desc", "Price", "AccountRef"]
DEPOSIT_QUERY = [
    "TxnID", "MaxReturned", "TxnDateRangeFilter", "EntityFilter", "AccountFilter",
    "CurrencyFilter", "IncludeLineItems", "IncludeRetElement", "OwnerID",
]  # fmt: skip


def test_items_and_lookups_follow_the_specification_order() -> None:
    """An other-charge item selling into an account; receipts by RefNumber; deposits by
    date."""
    item = forms.item_other_charge_add("1", "Income.Sales.Apparel", "Income:Sales:Apparel")[0]
    in_order(item, ITEM_OTHER_CHARGE_ADD)
    in_order(item.find("SalesOrPurchase"), SALES_OR_PURCHASE)
    receipts = forms.sales_receipt_query("2", ["SS1"])
    assert tags(receipts) == ["RefNumber", "IncludeLineItems"]
    deposits = forms.deposit_query("3", DAY)
    in_order(deposits, DEPOSIT_QUERY)
    assert tags(deposits.find("TxnDateRangeFilter")) == ["FromTxnDate", "ToTxnDate"]


def test_item_names_fit_quickbooks_and_stay_apart() -> None:
    """Colons become dots (no sub-items); long paths are cut with a digest of the whole."""
    assert item_name("Income:Sales:Apparel") == "Income.Sales.Apparel"
    long_a = item_name("Liabilities:Sales-Tax:NY-Sales-Tax")
    long_b = item_name("Liabilities:Sales-Tax:NJ-Sales-Tax")
    assert len(long_a) <= 31
    assert long_a != long_b


def test_an_item_already_in_the_file_counts_as_added(company: QbdCompanyFile) -> None:
    """Adding an item whose name is in use (3100) settles the unit as done: the receipts
    that need it can go."""
    unit = QbdWorkRow(key="item:Tee", kind="add", state="sent", reference="Tee", result={})
    request = forms.item_other_charge_add("1", "Tee", "Income:Apparel")
    response = company.process(qbxml.message_set([request]))
    assert parse_replies(response)[0].status.code == 3100
    assert settle(unit, response) is None
    assert unit.state == "done"
