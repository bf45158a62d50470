"""Xero as a destination: the destination and token contracts against the sandbox
organisation (under the default bank transaction sales form and the invoice form), then
each form's payload, the error table, element-by-element answers, reading back after
lost answers, contacts, the account policy, the chart remembered between books, the
request size limit and the rate limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from destination_contract import (
    BROOKLYN,
    MERCHANT,
    START,
    DestinationContract,
    TokenContract,
    expected_balances,
    nonzero,
    sample_postings,
)
from sqlalchemy.orm import Session, sessionmaker
from xero_harness import XeroHarness, in_currency

from salesync.clock import ManualClock
from salesync.connectors.destination import DestinationConnection, Posting, Written
from salesync.connectors.xero import XeroDestination, batches, errors
from salesync.connectors.xero.accounts import default_code
from salesync.connectors.xero.client import idempotency_key
from salesync.connectors.xero.forms import number_for
from salesync.connectors.xero.settings import XeroSettings
from salesync.domain.documents import Location, Payment, Sale, SaleLine
from salesync.domain.errors import ErrorKind, MappingError, SyncError
from salesync.domain.money import Money
from salesync.domain.planning import plan_per_order
from salesync.domain.simulate import SalesSimulator
from salesync.sandbox.faults import Fault, FaultKind
from salesync.sandbox.server import serving

SHOREDITCH = MERCHANT.locations[1]


class TestXeroContract(DestinationContract, TokenContract):
    """The contract with the default settings: one-tender sales and refunds are receive
    and spend money, split tenders invoices, payouts spend money from card clearing, and
    the summarized day an invoice paid into the cash drawer and card clearing."""

    name = "xero"

    @pytest.fixture
    def harness(
        self, sender_db: sessionmaker[Session], clock: ManualClock
    ) -> Iterator[XeroHarness]:
        harness = XeroHarness.start(sender_db, clock)
        yield harness
        harness.close()


class TestXeroInvoiceContract(DestinationContract, TokenContract):
    """The contract under the invoice sales form: sales are invoices with their payments,
    refunds credit notes, payouts and the summary manual journals."""

    name = "xero"

    @pytest.fixture
    def harness(
        self, sender_db: sessionmaker[Session], clock: ManualClock
    ) -> Iterator[XeroHarness]:
        harness = XeroHarness.start(sender_db, clock, sales_form="invoice")
        yield harness
        harness.close()


# --- fixtures and helpers ------------------------------------------------------------


@pytest.fixture(scope="module")
def postings() -> list[Posting]:
    return sample_postings()


def by_key(postings: list[Posting], part: str) -> Posting:
    return next(p for p in postings if part in p.key)


def per_order(document: Sale, location: Location = BROOKLYN) -> Posting:
    planned = plan_per_order(document, location)
    return Posting(planned.key, planned.mode, planned.entry, (document,))


def retried(postings: list[Posting]) -> list[Posting]:
    """The postings on their second attempt, as the sender sends them after a failure."""
    return [replace(p, attempt=2) for p in postings]


def summarized_sale(postings: list[Posting], test: Callable[[Sale], bool]) -> Sale:
    """A sale of the sample's summarized day, to post on its own."""
    summary = by_key(postings, "daily:")
    return next(d for d in summary.documents if isinstance(d, Sale) and test(d))


def invoice_of(xero: XeroHarness, posting: Posting) -> dict[str, Any]:
    number = number_for(posting.key)
    return next(i for i in xero.org.all("Invoices") if i["InvoiceNumber"] == number)


def exact(xero: XeroHarness, postings: list[Posting]) -> None:
    assert nonzero(xero.balances()) == expected_balances(xero, postings)


# --- the invoice and manual journal forms --------------------------------------------


def test_a_sale_is_an_authorised_invoice_paid_into_its_tender_account(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """A card sale: ACCREC invoice numbered by its reference with the key as Reference,
    one line per product with its item, tax as a line to the tax account at a zero
    rate, tracked by store, and one payment into the card clearing account."""
    xero = start(sales_form="invoice")
    xero.configure(customers="each")
    sale = postings[0]
    books = xero.open()
    [written] = books.post([sale])
    invoice = invoice_of(xero, sale)
    assert written.ref == f"Invoice:{invoice['InvoiceID']}"
    assert (invoice["Type"], invoice["Status"], invoice["Reference"]) == (
        "ACCREC",
        "PAID",
        sale.key,
    )
    assert (invoice["LineAmountTypes"], invoice["Contact"]["Name"]) == (
        "Exclusive",
        "Customer cust-0325",
    )
    lines = [
        (ln["Description"], ln.get("ItemCode"), ln["AccountCode"], ln["Quantity"], ln["LineAmount"])
        for ln in invoice["LineItems"]
    ]
    assert lines == [
        ("Fleece hoodie", "HOOD-002", default_code("Income:Sales:Apparel"), 1.0, 64.0),
        ("Field notebook", "BOOK-009", default_code("Income:Sales:Stationery"), 2.0, 19.98),
        ("NY Sales Tax", None, default_code("Liabilities:Sales-Tax:NY-Sales-Tax"), 1.0, 7.45),
    ]
    assert {ln["TaxType"] for ln in invoice["LineItems"]} == {"BASEXCLUDED"}
    assert invoice["LineItems"][0]["Tracking"][0]["Option"] == "Downtown"
    [payment] = xero.live("Payments")
    assert payment["Account"]["Code"] == default_code("Assets:Clearing:Card")
    assert (payment["Amount"], payment["Reference"]) == (91.43, f"{number_for(sale.key)} 1/1 card")
    exact(xero, [sale])


def test_split_tenders_are_one_payment_each_and_a_gift_card_pays_from_its_liability(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """A sale paid part cash, part card, and one paid by gift card and card: one payment
    per tender, each into its own account, the gift card into its liability account."""
    xero = start(sales_form="invoice")
    split = per_order(summarized_sale(postings, lambda s: len(s.payments) == 2))
    card = postings[0].documents[0]
    assert isinstance(card, Sale)
    gift = Money(Decimal("25.00"), "USD")
    redeemed = replace(
        card,
        external_id="GIFT-1",
        payments=(Payment("gift_card", gift), Payment("card", card.payments[0].amount - gift)),
    )
    both = [split, per_order(redeemed)]
    written = xero.open().post(both)
    assert all(w.ref for w in written), [w.error for w in written]
    accounts = sorted(
        (p["Reference"].split(" ", 1)[1], p["Account"]["Code"]) for p in xero.live("Payments")
    )
    assert accounts == sorted(
        [
            ("1/2 cash", default_code("Assets:Cash-Drawer")),
            ("2/2 card", default_code("Assets:Clearing:Card")),
            ("1/2 gift_card", default_code("Liabilities:Gift-Cards")),
            ("2/2 card", default_code("Assets:Clearing:Card")),
        ]
    )
    exact(xero, both)


def test_tips_discounts_shipping_and_gift_cards_sold_go_to_their_own_accounts(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """Each part of a sale is a line in its account: the tip owed to staff, the discount
    as a negative line, shipping, and a gift card sold as a liability."""
    xero = start(sales_form="invoice")
    tipped = by_key(postings, "00007")
    discounted = by_key(postings, "00004")
    shipped = by_key(postings, "00002")
    gift_card = per_order(summarized_sale(postings, lambda s: s.external_id.endswith("00021")))
    chosen = [tipped, discounted, shipped, gift_card]
    written = xero.open().post(chosen)
    assert all(w.ref for w in written), [w.error for w in written]

    def line(posting: Posting, account: str) -> tuple[str, float]:
        code = default_code(account)
        found = next(
            ln for ln in invoice_of(xero, posting)["LineItems"] if ln["AccountCode"] == code
        )
        return found["Description"], found["LineAmount"]

    assert line(tipped, "Liabilities:Tips-Payable") == ("Tips Payable", 0.48)
    assert line(discounted, "Income:Discounts") == ("Discounts", -5.0)
    assert line(shipped, "Income:Shipping") == ("Shipping", 6.95)
    assert line(gift_card, "Liabilities:Gift-Cards") == ("gift card sold", 25.0)
    exact(xero, chosen)


def test_a_refund_is_a_credit_note_refunded_to_its_tender(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """A refund: ACCRECCREDIT credit note with the returned items in the returns account
    and the tax given back, refunded in full from the card clearing account."""
    xero = start(sales_form="invoice")
    refund = by_key(postings, ":refund:")
    [written] = xero.open().post([refund])
    [credit] = xero.org.all("CreditNotes")
    assert written.ref == f"CreditNote:{credit['CreditNoteID']}"
    assert (credit["Type"], credit["Status"], credit["RemainingCredit"]) == (
        "ACCRECCREDIT",
        "PAID",
        0.0,
    )
    assert credit["LineItems"][0]["AccountCode"] == default_code("Income:Returns")
    assert credit["LineItems"][0]["ItemCode"] == "CAP-003"
    [payment] = xero.live("Payments")
    assert (payment["PaymentType"], payment["Account"]["Code"]) == (
        "ARCREDITPAYMENT",
        default_code("Assets:Clearing:Card"),
    )
    exact(xero, [refund])


def test_a_vat_inclusive_sale_keeps_its_tax_mode(start: Callable[..., XeroHarness]) -> None:
    """A London sale priced with VAT included is an Inclusive invoice; its VAT still
    lands in the VAT account exactly, as do its service charges."""
    xero = start(currency="GBP", tracking={}, sales_form="invoice")
    documents = SalesSimulator(MERCHANT, seed=10).run(START.date() - timedelta(days=4), 3)
    sales = [
        per_order(d, SHOREDITCH)
        for d in documents
        if isinstance(d, Sale) and d.location_id == SHOREDITCH.id
    ][:6]
    written = xero.open().post(sales)
    assert all(w.ref for w in written), [w.error for w in written]
    assert {i["LineAmountTypes"] for i in xero.org.all("Invoices")} == {"Inclusive"}
    exact(xero, sales)


def test_payouts_and_summaries_are_manual_journals_found_by_their_narration(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """A payout, a daily summary and an adjustment are posted manual journals whose
    narration carries the reference and the key; every line in its account, tracked."""
    xero = start(sales_form="invoice")
    adjustment = replace(postings[0], key=f"{postings[0].key}:adjust:1", kind="adjustment")
    chosen = [by_key(postings, ":payout:"), by_key(postings, "daily:"), adjustment]
    books = xero.open()
    written = books.post(chosen)
    journals = xero.org.all("ManualJournals")
    assert [j["Status"] for j in journals] == ["POSTED"] * 3
    assert f"[salesync {number_for(chosen[1].key)}: {chosen[1].key}]" in journals[1]["Narration"]
    assert all(ln["Tracking"] for j in journals for ln in j["JournalLines"])
    assert books.find([p.key for p in chosen]) == {w.key: w.ref for w in written}
    exact(xero, chosen)


def test_the_manual_journal_sales_form_writes_every_sale_as_a_journal(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """With sales_form manual_journal, sales and refunds are journals too, no contacts,
    invoices or payments; the books hold the same balances."""
    xero = start(sales_form="manual_journal")
    written = xero.open().post(postings)
    assert all(w.ref and w.ref.startswith("ManualJournal:") for w in written)
    assert (xero.org.all("Invoices"), xero.live("Payments")) == ([], [])
    exact(xero, postings)


# --- the default form: receive and spend money -----------------------------------------


def bank_transaction_of(xero: XeroHarness, posting: Posting) -> dict[str, Any]:
    number = number_for(posting.key)
    found = xero.org.all("BankTransactions")
    return next(t for t in found if t["Reference"].startswith(f"{number} "))


def account_type_of(xero: XeroHarness, account: str) -> str:
    code = default_code(account)
    return str(next(a for a in xero.org.all("Accounts") if a["Code"] == code)["Type"])


def kinds_of(written: list[Written]) -> list[str | None]:
    """What each posting became in Xero (``Invoice``, ``BankTransaction``...)."""
    return [w.ref.split(":")[0] if w.ref else None for w in written]


def test_the_default_sales_form_is_bank_transaction_and_invoice_stays_selectable() -> None:
    """A connection that names no sales form writes receive and spend money; one that
    names invoice keeps it, and an unknown form is refused naming the choices."""
    assert XeroSettings.of({"tenant_id": "t-1"}, "c-1").sales_form == "bank_transaction"
    chosen = XeroSettings.of({"tenant_id": "t-1", "sales_form": "invoice"}, "c-1")
    assert chosen.sales_form == "invoice"
    with pytest.raises(MappingError, match=r"sales_form: .*'bank_transaction'"):
        XeroSettings.of({"tenant_id": "t-1", "sales_form": "receipt"}, "c-1")


def test_by_default_a_one_tender_sale_is_receive_money_and_a_split_tender_one_an_invoice(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """With the default settings a card sale, a cash sale and a card refund are each one
    bank transaction (no invoice, no payment); a sale paid part cash, part card is an
    invoice with a payment into each account."""
    split = per_order(summarized_sale(postings, lambda s: len(s.payments) == 2))
    chosen = [postings[0], by_key(postings, "00004"), by_key(postings, ":refund:"), split]
    written = xero.open().post(chosen)
    assert kinds_of(written) == ["BankTransaction"] * 3 + ["Invoice"]
    assert [t["Type"] for t in xero.org.all("BankTransactions")] == ["RECEIVE"] * 2 + ["SPEND"]
    assert [i["InvoiceNumber"] for i in xero.org.all("Invoices")] == [number_for(split.key)]
    assert sorted(p["Reference"][-8:] for p in xero.live("Payments")) == ["1/2 cash", "2/2 card"]
    exact(xero, chosen)


def test_a_connection_that_chose_invoices_still_gets_invoices_and_credit_notes(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """Under sales_form invoice the same one-tender sales are invoices paid by one
    payment, the refund a credit note refunded once: no bank transaction."""
    xero = start(sales_form="invoice")
    chosen = [postings[0], by_key(postings, "00004"), by_key(postings, ":refund:")]
    written = xero.open().post(chosen)
    assert kinds_of(written) == ["Invoice", "Invoice", "CreditNote"]
    assert (xero.org.all("BankTransactions"), len(xero.live("Payments"))) == ([], 3)
    assert account_type_of(xero, "Assets:Clearing:Card") == "CURRENT"
    exact(xero, chosen)


def test_a_sale_is_one_receive_money_transaction_in_its_tender_s_bank_account(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """A card sale is RECEIVE into the card clearing account, created as a BANK account:
    the invoice's lines (items, tax at a zero rate, tracking), its number then key as
    Reference, no invoice and no payment."""
    xero = start(customers="each")
    sale = postings[0]
    [written] = xero.open().post([sale])
    transaction = bank_transaction_of(xero, sale)
    assert written.ref == f"BankTransaction:{transaction['BankTransactionID']}"
    assert (transaction["Type"], transaction["Status"], transaction["Total"]) == (
        "RECEIVE",
        "AUTHORISED",
        91.43,
    )
    assert transaction["Reference"] == f"{number_for(sale.key)} {sale.key}"
    assert transaction["BankAccount"]["Code"] == default_code("Assets:Clearing:Card")
    assert account_type_of(xero, "Assets:Clearing:Card") == "BANK"
    assert (transaction["LineAmountTypes"], transaction["Contact"]["Name"]) == (
        "Exclusive",
        "Customer cust-0325",
    )
    lines = [
        (ln["Description"], ln.get("ItemCode"), ln["AccountCode"], ln["LineAmount"])
        for ln in transaction["LineItems"]
    ]
    assert lines == [
        ("Fleece hoodie", "HOOD-002", default_code("Income:Sales:Apparel"), 64.0),
        ("Field notebook", "BOOK-009", default_code("Income:Sales:Stationery"), 19.98),
        ("NY Sales Tax", None, default_code("Liabilities:Sales-Tax:NY-Sales-Tax"), 7.45),
    ]
    assert {ln["TaxType"] for ln in transaction["LineItems"]} == {"BASEXCLUDED"}
    assert transaction["LineItems"][0]["Tracking"][0]["Option"] == "Downtown"
    assert (xero.org.all("Invoices"), xero.org.all("Payments")) == ([], [])
    exact(xero, [sale])


def test_a_refund_is_spend_money_and_a_payout_spend_money_from_the_clearing_account(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """A card refund is SPEND from card clearing with the returned items on its lines,
    the mirror of the sale's RECEIVE there; a payout, a journal on one bank account, is
    SPEND from card clearing to the bank (a current account salesync made) and the fees:
    every account exact."""
    sale, refund, payout = postings[0], by_key(postings, ":refund:"), by_key(postings, ":payout:")
    written = xero.open().post([sale, refund, payout])
    assert kinds_of(written) == ["BankTransaction"] * 3
    returned = bank_transaction_of(xero, refund)
    assert (returned["Type"], returned["BankAccount"]["Code"]) == (
        "SPEND",
        bank_transaction_of(xero, sale)["BankAccount"]["Code"],
    )
    assert returned["LineItems"][0]["AccountCode"] == default_code("Income:Returns")
    assert returned["LineItems"][0]["ItemCode"] == "CAP-003"
    deposit = bank_transaction_of(xero, payout)
    assert (deposit["Type"], deposit["LineAmountTypes"], deposit["Contact"]["Name"]) == (
        "SPEND",
        "NoTax",
        "Simulator payouts",
    )
    assert {ln["AccountCode"] for ln in deposit["LineItems"]} == {
        default_code("Assets:Bank"),
        default_code("Expenses:Payment-Fees"),
    }
    assert account_type_of(xero, "Assets:Bank") == "CURRENT"
    assert xero.org.all("ManualJournals") == []
    exact(xero, [sale, refund, payout])


def test_split_tenders_and_gift_cards_stay_invoices_by_default(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """A sale paid cash and card is an invoice with a payment into each (bank) account;
    one paid by gift card alone is an invoice paid from the gift card liability."""
    split = per_order(summarized_sale(postings, lambda s: len(s.payments) == 2))
    card = postings[0].documents[0]
    assert isinstance(card, Sale)
    gifted = per_order(
        replace(card, external_id="GIFT-ONLY", payments=(Payment("gift_card", card.paid),))
    )
    written = xero.open().post([split, gifted])
    assert kinds_of(written) == ["Invoice"] * 2
    assert len(xero.live("Payments")) == 3
    assert xero.org.all("BankTransactions") == []
    exact(xero, [split, gifted])


def test_a_summary_taking_cash_and_card_is_an_invoice_paid_into_each(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """Card clearing and the cash drawer are banks once per-order sales went into them:
    a daily summary debiting both, which Xero takes neither as a journal nor as one bank
    transaction, is an invoice to the cash contact with one payment into each."""
    cash = by_key(postings, "00004")
    summary = by_key(postings, "daily:")
    books = xero.open()
    assert all(w.ref for w in books.post([postings[0], cash]))
    [written] = books.post([summary])
    invoice = invoice_of(xero, summary)
    assert written.ref == f"Invoice:{invoice['InvoiceID']}"
    assert (invoice["Status"], invoice["Contact"]["Name"], invoice["LineAmountTypes"]) == (
        "PAID",
        "Cash Sales",
        "NoTax",
    )
    paid = sorted((p["Reference"][-8:], p["Account"]["Code"]) for p in xero.live("Payments"))
    assert paid == [
        ("1/2 cash", default_code("Assets:Cash-Drawer")),
        ("2/2 card", default_code("Assets:Clearing:Card")),
    ]
    assert books.find([summary.key]) == {summary.key: written.ref}
    assert xero.org.all("ManualJournals") == []
    exact(xero, [postings[0], cash, summary])


def test_a_summary_invoice_whose_payments_failed_is_finished_on_the_next_attempt(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """The summary's invoice is written but its payments are refused with a 5xx: the
    retry reads the invoice back and adds only its two payments."""
    cash = by_key(postings, "00004")
    summary = by_key(postings, "daily:")
    books = xero.open()
    assert all(w.ref for w in books.post([postings[0], cash]))
    xero.faults.arm("put:Payments", FaultKind.SERVER_ERROR)
    with pytest.raises(SyncError):
        books.post([summary])
    assert xero.live("Payments") == []
    seen = calls_of(xero, lambda: books.post(retried([summary])))
    assert "put:Invoices" not in seen
    assert (xero.transactions(), len(xero.live("Payments"))) == (3, 2)
    exact(xero, [postings[0], cash, summary])


def test_a_payout_out_of_card_clearing_into_a_mapped_bank_account_is_refused_saying_why(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """With the payout's bank mapped to the merchant's bank account 090 and card clearing
    a bank, the payout moves money out of one bank account and into another, which no
    Xero form salesync writes carries: held as a mapping error naming the way out."""
    xero.configure(accounts={"Assets:Bank": "090"})
    books = xero.open()
    assert books.post([postings[0]])[0].ref
    [written] = books.post([by_key(postings, ":payout:")])
    error = written.error
    assert error is not None
    assert (error.kind, error.code) == (ErrorKind.MAPPING, "several_bank_accounts")
    assert "out of one bank account in Xero and into another" in error.user_message
    assert "bank transfer" in error.user_message
    assert xero.transactions() == 1


def test_a_tender_mapped_to_an_account_that_is_not_a_bank_is_paid_there_by_invoice(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """Card mapped to 615, a current account Xero will not receive money into: the sale
    is an invoice paid into 615 (held, with the fix, while 615 takes no payments, as
    under the invoice form); mapped to the bank account 090, it is a RECEIVE there."""
    mapping = {
        "Income:Sales:Apparel": "200",
        "Income:Sales:Stationery": "200",
        "Liabilities:Sales-Tax:NY-Sales-Tax": "820",
        "Assets:Clearing:Card": "615",
    }
    xero = start(account_policy="require", accounts=mapping)
    [written] = xero.open().post([postings[0]])
    error = written.error
    assert error is not None
    assert (error.kind, error.code) == (ErrorKind.MAPPING, "account_not_payable")
    assert "Enable payments to this account" in error.user_message
    clearing = next(a for a in xero.org.all("Accounts") if a["Code"] == "615")
    change = {"AccountID": clearing["AccountID"], "EnablePaymentsToAccount": True}
    books = xero.open()
    books.client.write_one(
        "POST", f"Accounts/{clearing['AccountID']}", "Accounts", change, step="t"
    )
    [invoiced] = books.post([postings[0]])
    assert kinds_of([invoiced]) == ["Invoice"]
    xero.configure(accounts={**mapping, "Assets:Clearing:Card": "090"})
    sale = postings[0].documents[0]
    assert isinstance(sale, Sale)
    again = per_order(replace(sale, external_id="BRO-AGAIN"))
    [received] = xero.open().post([again])
    assert kinds_of([received]) == ["BankTransaction"]
    assert bank_transaction_of(xero, again)["BankAccount"]["Code"] == "090"
    assert xero.balances()["615"] == Decimal("91.43")


def test_a_sale_in_another_currency_than_its_tender_s_bank_account_is_an_invoice(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """Xero keeps receive money in its bank account's currency: a euro card sale into the
    dollar card clearing account goes as an invoice instead, which this organisation
    refuses for want of euros (as under the invoice form); no bank transaction."""
    books = xero.open()
    assert books.post([postings[0]])[0].ref
    [written] = books.post([xero.refused(postings[1])])
    assert written.error is not None
    assert (written.error.code, written.error.operation) == (
        "currency_not_enabled",
        "put:Invoices",
    )
    assert xero.transactions() == 1


def test_a_tender_account_created_while_sales_were_invoices_keeps_them(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """Card clearing was created as a current account while the connection chose
    invoices; Xero does not turn an account into a bank, so once it takes the default
    form the card sales stay invoices paid into it, and cash sales become RECEIVE, with
    the chart remembered from the first books."""
    xero = start(sales_form="invoice")
    books = xero.open()
    assert books.post([postings[0]])[0].ref
    xero.configure(sales_form="bank_transaction")
    card, cash = postings[1], by_key(postings, "00004")
    written: list[Written] = []
    seen = calls_of(xero, lambda: written.extend(xero.open().post([card, cash])))
    assert kinds_of(written) == ["Invoice", "BankTransaction"]
    assert "get:Accounts" not in seen, "a current account never becomes a bank: no need to read"
    assert account_type_of(xero, "Assets:Clearing:Card") == "CURRENT"
    assert account_type_of(xero, "Assets:Cash-Drawer") == "BANK"
    exact(xero, [postings[0], card, cash])


# --- calls per batch -----------------------------------------------------------------


def single_tender_sales(count: int) -> list[Sale]:
    """``count`` Brooklyn sales paid by card or cash alone."""
    documents = SalesSimulator(MERCHANT, seed=10).run(START.date() - timedelta(days=30), 25)
    sales = [
        d
        for d in documents
        if isinstance(d, Sale) and d.location_id == BROOKLYN.id and len(d.payments) == 1
    ]
    assert len(sales) >= count
    return sales[:count]


def calls_of(xero: XeroHarness, post: Callable[[], object]) -> list[str]:
    """The operations Xero saw while ``post`` ran."""
    before = len(xero.org.requests)
    post()
    return [r.operation for r in xero.org.requests[before:]]


@pytest.mark.parametrize(
    ("sales_form", "calls"),
    [
        ("bank_transaction", ["put:BankTransactions"]),
        ("invoice", ["put:Invoices", "put:Payments"]),
    ],
)
def test_fifty_first_attempts_with_known_contacts_and_accounts_cost_one_call_per_object(
    start: Callable[..., XeroHarness], sales_form: str, calls: list[str]
) -> None:
    """Once the organisation's accounts, contacts and items are known, 50 per-order sales
    on their first attempt read nothing back: one PUT of 50 bank transactions, or one
    of 50 invoices and one of their payments."""
    xero = start(sales_form=sales_form)
    sales = single_tender_sales(50)
    warm = [per_order(replace(s, external_id=f"{s.external_id}-W")) for s in sales]
    batch = [per_order(s) for s in sales]
    books = xero.open()
    assert all(w.ref for w in books.post(warm))
    written: list[Any] = []
    assert calls_of(xero, lambda: written.extend(books.post(batch))) == calls
    assert all(w.ref for w in written), [w.error for w in written if w.error]
    exact(xero, warm + batch)


def test_contacts_are_remembered_per_organisation_and_only_new_ones_looked_up(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """Contacts found or created by one books are known to the next books opened on the
    organisation: a batch with one new customer looks up that one in one GET and
    creates it in one PUT."""
    xero.configure(customers="each")
    first = postings[0].documents[0]
    assert isinstance(first, Sale)
    assert xero.open().post(postings[:2])[0].ref
    newcomer = per_order(replace(first, external_id="BRO-NEW", customer_id="cust-0999"))
    again = per_order(replace(first, external_id="BRO-AGAIN"))
    books = xero.open()
    seen = calls_of(xero, lambda: books.post([again, newcomer]))
    assert [c for c in seen if c.endswith("Contacts")] == ["get:Contacts", "put:Contacts"]
    contacts = [r for r in xero.org.requests if r.operation == "get:Contacts"]
    assert len(contacts) == 2


def test_by_default_every_sale_names_the_cash_contact(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """Under the default ``single`` policy sales naming five buyers all name the cash
    contact, looked up and created once: no contact is created per buyer."""
    first = postings[0].documents[0]
    assert isinstance(first, Sale)
    buyers = [
        per_order(replace(first, external_id=f"BRO-{n}", customer_id=f"cust-{n}")) for n in range(5)
    ]
    seen = calls_of(xero, lambda: xero.open().post(buyers))
    assert [c for c in seen if c.endswith("Contacts")] == ["get:Contacts", "put:Contacts"]
    assert {bank_transaction_of(xero, p)["Contact"]["Name"] for p in buyers} == {"Cash Sales"}


def long_sales(count: int, lines: int) -> list[Posting]:
    """``count`` cash sales of ``lines`` products each, every product named at length."""
    template = single_tender_sales(1)[0]
    price = Money(Decimal("1.00"), "USD")
    products = tuple(
        SaleLine(f"SKU-{n}", f"Product {n} " + "described at length " * 190, "Apparel", 1, price)
        for n in range(lines)
    )
    paid = (Payment("cash", Money(Decimal(lines), "USD")),)
    return [
        per_order(
            replace(
                template,
                external_id=f"LONG-{n}",
                lines=products,
                payments=paid,
                order_discounts=(),
                shipping=None,
                shipping_taxes=(),
                service_charges=(),
                tip=None,
                declared_total=None,
            )
        )
        for n in range(count)
    ]


def test_a_batch_whose_body_would_pass_xero_s_size_limit_goes_in_two_requests(
    xero: XeroHarness,
) -> None:
    """50 sales of 30 long lines each are over 3.5 MB as one body: they are written in
    two PUTs, each within the limit (the sandbox refuses larger ones with a 413)."""
    postings = long_sales(50, 30)
    books = xero.open()
    elements = [{"Description": ln.description} for p in postings for ln in books.form(p).lines]
    assert batches.size("BankTransactions", elements) > batches.REQUEST_MAX
    written: list[Written] = []
    seen = calls_of(xero, lambda: written.extend(books.post(postings)))
    assert [c for c in seen if c.startswith("put:Bank")] == ["put:BankTransactions"] * 2
    assert all(r.status < 400 for r in xero.org.requests)
    assert all(w.ref for w in written), [w.error for w in written if w.error]
    assert xero.transactions() == 50


@pytest.mark.parametrize("limit", [200, 1_000, 5_000])
def test_runs_of_elements_stay_within_the_limit_in_order_and_miss_none(limit: int) -> None:
    """Each run's body is at most ``limit`` bytes (an element too large alone is a run of
    its own), and the runs cover every element once, in order."""
    elements = [{"Name": "x" * (n * 37 % 900), "N": n} for n in range(60)]
    found = batches.runs("Contacts", elements, limit)
    assert [i for run in found for i in range(len(elements))[run]] == list(range(60))
    for run in found:
        part = elements[run]
        assert len(part) == 1 or batches.size("Contacts", part) <= limit


# --- retries read back ----------------------------------------------------------------


def test_a_retry_reads_back_and_a_bank_transaction_whose_answer_was_lost_is_found(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """The bank transactions PUT commits but its answer is lost; the retry (attempt 2)
    reads back by reference, finds them, and writes nothing again."""
    sales = postings[:3]
    xero.faults.arm("put:BankTransactions", FaultKind.LOST_RESPONSE)
    books = xero.open()
    with pytest.raises(SyncError):
        books.post(sales)
    seen = calls_of(xero, lambda: books.post(retried(sales)))
    assert "get:BankTransactions" in seen
    assert "put:BankTransactions" not in seen
    assert xero.transactions() == 3
    assert books.find([p.key for p in sales]).keys() == {p.key for p in sales}
    exact(xero, sales)


def test_a_released_posting_whose_invoice_is_in_xero_is_finished_not_refused(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """An invoice was written but its payments never were; the posting, released, comes
    back on attempt 1 after Xero forgot the idempotency key: the invoice number is
    taken, so salesync reads it back and adds only the payment."""
    xero = start(sales_form="invoice")
    sale = postings[0]
    xero.faults.arm("put:Payments", FaultKind.SERVER_ERROR)
    books = xero.open()
    with pytest.raises(SyncError):
        books.post([sale])
    xero.org.advance(timedelta(minutes=10))
    [written] = xero.open().post([sale])
    assert written.ref == f"Invoice:{invoice_of(xero, sale)['InvoiceID']}"
    assert (xero.transactions(), len(xero.live("Payments"))) == (1, 1)
    exact(xero, [sale])


# --- element by element, and the two steps of a document ------------------------------


def test_one_element_refused_by_xero_holds_only_its_posting_with_xero_s_reason(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """In one PUT of invoices, the one in a currency the organisation lacks is refused
    as a mapping error saying what to enable; the others are written and paid."""
    xero = start(sales_form="invoice")
    euros = xero.refused(postings[3])
    batch = [postings[0], euros, postings[1]]
    written = xero.open().post(batch)
    assert [bool(w.ref) for w in written] == [True, False, True]
    error = written[1].error
    assert error is not None
    assert (error.kind, error.code) == (ErrorKind.MAPPING, "currency_not_enabled")
    assert "currency is not enabled" in error.user_message
    assert "'EUR'" in error.user_message
    assert error.documents == euros.document_ids
    assert error.help_url == errors.CURRENCIES_HELP
    assert len(xero.live("Payments")) == 2


def test_invoices_whose_answer_was_lost_are_paid_on_the_next_attempt_not_written_again(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """The invoices PUT commits but its answer is lost: the call fails as transient,
    find does not report unpaid invoices, and posting again only adds the payments."""
    xero = start(sales_form="invoice")
    sales = postings[:3]
    keys = [p.key for p in sales]
    xero.faults.arm("put:Invoices", FaultKind.LOST_RESPONSE)
    books = xero.open()
    with pytest.raises(SyncError) as caught:
        books.post(sales)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.TRANSIENT, "no_answer")
    assert (xero.transactions(), xero.live("Payments")) == (3, [])
    assert books.find(keys) == {}
    written = books.post(retried(sales))
    assert xero.transactions() == 3
    assert len(xero.live("Payments")) == 3
    assert books.find(keys) == {w.key: w.ref for w in written}
    exact(xero, sales)


def test_payments_whose_answer_was_lost_make_the_postings_found(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """The payments PUT commits but its answer is lost: find reports the paid invoices,
    and posting again writes nothing."""
    xero = start(sales_form="invoice")
    sales = postings[:2]
    xero.faults.arm("put:Payments", FaultKind.LOST_RESPONSE)
    books = xero.open()
    with pytest.raises(SyncError):
        books.post(sales)
    found = books.find([p.key for p in sales])
    assert len(found) == 2
    again = books.post(retried(sales))
    assert {w.key: w.ref for w in again} == found
    assert (xero.transactions(), len(xero.live("Payments"))) == (2, 2)


def test_an_invoice_paid_in_part_is_finished_with_only_the_missing_payment(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """A split-tender invoice left with its first payment only (the answer was lost
    between them) gets just the second one on the next post."""
    xero = start(sales_form="invoice")
    split = per_order(summarized_sale(postings, lambda s: len(s.payments) == 2))
    xero.faults.arm("put:Payments", FaultKind.SERVER_ERROR)
    books = xero.open()
    with pytest.raises(SyncError):
        books.post([split])
    invoice = invoice_of(xero, split)
    first = {
        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        "Account": {"Code": default_code("Assets:Cash-Drawer")},
        "Amount": 78.56,
        "Date": "2026-03-04",
        "Reference": f"{number_for(split.key)} 1/2 cash",
    }
    books.client.write("PUT", "Payments", "Payments", [first], step="test", keys=[])
    [written] = books.post(retried([split]))
    assert written.ref == f"Invoice:{invoice['InvoiceID']}"
    assert sorted(p["Reference"][-8:] for p in xero.live("Payments")) == ["1/2 cash", "2/2 card"]
    exact(xero, [split])


def test_every_write_carries_an_idempotency_key_and_a_repeat_is_replayed(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """Each write has its own Idempotency-Key of at most 128 characters; the same write
    sent again is answered from Xero's memory, creating nothing twice."""
    books = xero.open()
    books.post(postings[:4])
    writes = [r for r in xero.org.requests if r.method in ("PUT", "POST")]
    assert writes
    assert all(r.idempotency_key and len(r.idempotency_key) <= 128 for r in writes)
    assert len({r.idempotency_key for r in writes}) == len(writes)
    element = [{"Name": "Harbor Wholesale"}]
    first = books.client.write("PUT", "Contacts", "Contacts", element, step="t", keys=["k"])
    again = books.client.write("PUT", "Contacts", "Contacts", element, step="t", keys=["k"])
    assert first[0]["ContactID"] == again[0]["ContactID"]
    assert xero.org.requests[-1].replayed
    assert idempotency_key("a", ["k"], b"{}") != idempotency_key("b", ["k"], b"{}")


# --- contacts ------------------------------------------------------------------------


def test_contacts_are_one_per_customer_and_existing_ones_are_reused(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """Two sales of one customer share a contact; the merchant's own 'Cash Sales' is
    used for anonymous sales; a contact renamed in Xero is still found by its number."""
    xero = start(sales_form="invoice")
    xero.configure(customers="each")
    first = postings[0].documents[0]
    assert isinstance(first, Sale)
    again = per_order(replace(first, external_id="BRO-AGAIN"))
    renamed = postings[8]
    books = xero.open()
    books.client.write(
        "PUT",
        "Contacts",
        "Contacts",
        [{"Name": "Cash Sales"}, {"Name": "Jane Doe", "ContactNumber": "cust-0327"}],
        step="setup",
        keys=[],
    )
    before = len(xero.org.all("Contacts"))
    written = books.post([postings[0], again, postings[1], renamed])
    assert all(w.ref for w in written)
    assert len(xero.org.all("Contacts")) == before + 1
    names = [invoice_of(xero, p)["Contact"]["Name"] for p in (postings[0], again, postings[1])]
    assert names == ["Customer cust-0325", "Customer cust-0325", "Cash Sales"]
    assert invoice_of(xero, renamed)["Contact"]["Name"] == "Jane Doe"


# --- the account policy --------------------------------------------------------------


def test_the_require_policy_holds_unmapped_accounts_naming_each_and_where_to_map_it(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """With account_policy require nothing is created: the posting is a mapping error
    naming every unmapped account and salesync's Xero account mapping."""
    xero = start(account_policy="require")
    accounts = len(xero.org.all("Accounts"))
    [written] = xero.open().post([postings[0]])
    error = written.error
    assert error is not None
    assert (error.kind, error.code) == (ErrorKind.MAPPING, "account_unmapped")
    for name in (
        "Income:Sales:Apparel",
        "Assets:Clearing:Card",
        "Liabilities:Sales-Tax:NY-Sales-Tax",
    ):
        assert name in error.user_message
    assert "Xero settings (Accounts)" in error.user_message
    assert error.documents == postings[0].document_ids
    assert (xero.transactions(), len(xero.org.all("Accounts"))) == (0, accounts)


def test_mapped_accounts_must_take_payments_and_journals_as_xero_requires(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """Under the invoice form, mapped to the merchant's accounts: a tender into an account
    without payments enabled, or a payout journal onto a bank account, is held with the
    fix; mapped to a bank account, the sale posts and the balances land on the
    merchant's codes."""
    mapping = {
        "Income:Sales:Apparel": "200",
        "Income:Sales:Stationery": "200",
        "Liabilities:Sales-Tax:NY-Sales-Tax": "820",
        "Assets:Clearing:Card": "615",
        "Assets:Bank": "090",
        "Expenses:Payment-Fees": "405",
    }
    xero = start(account_policy="require", accounts=mapping, sales_form="invoice")
    sale, payout = postings[0], by_key(postings, ":payout:")
    written = xero.open().post([sale, payout])
    codes = [w.error.code if w.error else None for w in written]
    assert codes == ["account_not_payable", "account_not_journalable"]
    assert written[0].error is not None
    assert "Enable payments to this account" in written[0].error.user_message
    assert written[1].error is not None
    assert "bank" in written[1].error.user_message
    xero.configure(accounts={**mapping, "Assets:Clearing:Card": "090"})
    [posted] = xero.open().post([sale])
    assert posted.ref
    assert nonzero(xero.balances()) == {
        "200": Decimal("-83.98"),
        "820": Decimal("-7.45"),
        "090": Decimal("91.43"),
    }


def test_an_account_salesync_created_without_payments_is_enabled_for_them(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """The card clearing account exists under salesync's code but takes no payments:
    salesync enables payments on it (it made it) and the sale posts."""
    clearing = "Assets:Clearing:Card"
    account = {"Code": default_code(clearing), "Name": clearing, "Type": "CURRENT"}
    books = xero.open()
    assert not books.client.write_one("PUT", "Accounts", "Accounts", account, step="setup").get(
        "EnablePaymentsToAccount"
    )
    [written] = books.post([postings[0]])
    assert written.ref
    saved = next(a for a in xero.org.all("Accounts") if a["Code"] == default_code(clearing))
    assert saved["EnablePaymentsToAccount"] is True


def test_a_journal_in_another_currency_than_the_organisation_s_is_held(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """Xero keeps manual journals in the base currency only: a euro payout is held as a
    validation error before anything is written."""
    payout = by_key(postings, ":payout:")
    euros = replace(payout, entry=in_currency(payout.entry, "EUR"))
    [written] = xero.open().post([euros])
    assert written.error is not None
    assert (written.error.kind, written.error.code) == (ErrorKind.VALIDATION, "journal_currency")
    assert "USD" in written.error.user_message
    assert xero.transactions() == 0


def test_an_inactive_tracking_option_is_a_mapping_error_for_its_location(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """A location tracked to an option Xero does not have is held with the fix."""
    xero = start(tracking={"brooklyn": "Harbor Pier"})
    [written] = xero.open().post([postings[0]])
    assert written.error is not None
    assert (written.error.kind, written.error.code) == (ErrorKind.MAPPING, "tracking_invalid")
    assert "Harbor Pier" in written.error.user_message


# --- the chart remembered between books ----------------------------------------------

CHART_READS = frozenset({"get:Accounts", "get:TaxRates", "get:TrackingCategories"})


def chart_reads(seen: list[str]) -> list[str]:
    return sorted(c for c in seen if c in CHART_READS)


def test_books_opened_again_on_the_organisation_do_not_read_its_chart_again(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """The first books read the accounts, tax rates and tracking categories; books
    opened a minute later for the next send pass post without reading any of them."""
    first = calls_of(xero, lambda: xero.open().post(postings[:2]))
    assert chart_reads(first) == sorted(CHART_READS)
    xero.clock.advance(timedelta(minutes=1))
    again = calls_of(xero, lambda: xero.open().post(postings[2:4]))
    assert chart_reads(again) == []
    exact(xero, postings[:4])


def test_after_a_few_minutes_the_chart_is_read_again(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """What was read is trusted for five minutes only: books opened later read it again."""
    xero.open().post(postings[:2])
    xero.clock.advance(timedelta(minutes=5))
    later = calls_of(xero, lambda: xero.open().post(postings[2:4]))
    assert chart_reads(later) == sorted(CHART_READS)


def test_another_connection_to_the_organisation_reads_the_chart_itself(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """The chart is remembered per organisation and connection: books of a second
    connection to the same organisation read it for themselves."""
    xero = start()
    xero.open().post(postings[:2])
    settings = {**xero.settings(), "sales_form": "invoice"}
    other = DestinationConnection(
        "other", MERCHANT.tenant.id, {}, settings, xero.connection().token
    )
    books = xero.destination.connect(other, xero.transport)
    seen = calls_of(xero, lambda: books.post(postings[2:3]))
    assert chart_reads(seen) == sorted(CHART_READS)


def test_an_account_missing_from_the_remembered_chart_is_looked_for_in_a_fresh_read(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """The bookkeeper adds the account a mapping names after salesync read the chart:
    the next books, finding it missing from what was remembered, read the chart again
    and post rather than hold the sale."""
    mapping = {
        "Income:Sales:Apparel": "200",
        "Income:Sales:Stationery": "210",
        "Liabilities:Sales-Tax:NY-Sales-Tax": "820",
        "Assets:Clearing:Card": "090",
    }
    xero = start(account_policy="require", accounts=mapping)
    books = xero.open()
    [held] = books.post([postings[0]])
    assert held.error is not None
    assert held.error.code == "account_mapping_invalid"
    account = {"Code": "210", "Name": "Stationery Sales", "Type": "REVENUE"}
    assert books.client.write_one("PUT", "Accounts", "Accounts", account, step="t")["AccountID"]
    written: list[Written] = []
    seen = calls_of(xero, lambda: written.extend(xero.open().post([postings[0]])))
    assert chart_reads(seen).count("get:Accounts") == 1
    assert written[0].ref, written[0].error


def test_a_document_xero_refuses_over_an_archived_account_forgets_the_chart(
    xero: XeroHarness, postings: list[Posting]
) -> None:
    """The bookkeeper archives the apparel sales account after salesync read the chart:
    Xero refuses the next sale over it (a mapping error), and the books opened after
    that read the chart again and hold the sale saying the account is archived."""
    xero.open().post(postings[:1])
    sale = postings[0].documents[0]
    assert isinstance(sale, Sale)
    again = per_order(replace(sale, external_id="BRO-AGAIN"))
    code = default_code("Income:Sales:Apparel")
    account = next(a for a in xero.org.all("Accounts") if a["Code"] == code)
    change = {"AccountID": account["AccountID"], "Status": "ARCHIVED"}
    books = xero.open()
    books.client.write_one("POST", f"Accounts/{account['AccountID']}", "Accounts", change, step="t")
    [refused] = books.post([again])
    assert refused.error is not None
    assert (refused.error.kind, refused.error.code) == (ErrorKind.MAPPING, "account_invalid")
    retried: list[Written] = []
    seen = calls_of(xero, lambda: retried.extend(xero.open().post([again])))
    assert "get:Accounts" in seen
    assert retried[0].error is not None
    assert retried[0].error.code == "account_archived"


def test_invalid_settings_are_a_mapping_error_listing_each_problem() -> None:
    """Settings without a tenant id and with an unknown policy refuse to open, saying so."""
    connection = DestinationConnection(
        "c1", "t1", {"access_token": "x"}, {"account_policy": "maybe"}
    )
    with pytest.raises(SyncError) as caught:
        XeroDestination().connect(connection)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.MAPPING, "settings_invalid")
    assert "tenant_id" in caught.value.user_message
    assert "account_policy" in caught.value.user_message


# --- tokens and limits ---------------------------------------------------------------


def test_a_401_refreshes_the_token_once_and_retries(xero: XeroHarness) -> None:
    """Xero refuses the token once: salesync refreshes it (rotating the stored refresh
    token) and the call succeeds."""
    before = xero.stored_refresh_token()
    xero.faults.arm("get:Accounts", FaultKind.UNAUTHORIZED)
    books = xero.open()
    assert books.client.get("Accounts")["Accounts"]
    assert [r.status for r in xero.org.requests] == [401, 200]
    assert xero.stored_refresh_token() != before


def test_the_remaining_calls_xero_reports_are_adopted_so_salesync_waits_instead_of_429(
    xero: XeroHarness,
) -> None:
    """Another app used 50 of the minute's 60 calls: after one answer salesync counts
    them, and 20 more calls wait for the next minute rather than being refused."""
    other = _other_app(xero)
    for _ in range(50):
        other.get("/api.xro/2.0/Organisation")
    books = xero.open()
    books.client.get("Organisation")
    assert books.client.budget.used_this_minute >= 51
    started = xero.clock()
    for _ in range(20):
        books.client.get("Organisation")
    assert [r.status for r in xero.org.requests if r.status == 429] == []
    assert xero.clock() - started >= timedelta(seconds=1)
    assert books.client.budget.throttled == 0


def test_a_429_pauses_every_call_to_the_organisation_for_retry_after(xero: XeroHarness) -> None:
    """Xero's 429 with Retry-After 30 is a transient error carrying it, and the budget
    holds the next call back until then."""
    xero.faults.arm("get:Accounts", Fault(FaultKind.RATE_LIMITED, retry_after=30))
    books = xero.open()
    with pytest.raises(SyncError) as caught:
        books.client.get("Accounts")
    assert getattr(caught.value, "retry_after", None) == 30
    started = xero.clock()
    books.client.get("Accounts")
    assert xero.clock() - started >= timedelta(seconds=29)
    assert books.client.budget.throttled == 1


def test_once_xero_says_the_day_is_used_up_salesync_stops_calling_until_it_resets(
    xero: XeroHarness,
) -> None:
    """A 429 for the day limit pauses the organisation's budget for its Retry-After: the
    next call fails as transient at once, without reaching Xero."""
    _day_used_up(xero)
    books = xero.open()
    with pytest.raises(SyncError) as first:
        books.client.get("Accounts")
    assert first.value.code == "day_limit"
    seen = len(xero.org.requests)
    with pytest.raises(SyncError) as second:
        books.client.get("Accounts")
    assert (second.value.kind, second.value.code) == (ErrorKind.TRANSIENT, "rate_limit_budget")
    assert len(xero.org.requests) == seen


# --- the error table -----------------------------------------------------------------


def _disconnect(xero: XeroHarness) -> None:
    xero.org.disconnect()


def _other_app(xero: XeroHarness) -> httpx.Client:
    """A client calling the organisation with the same token, unseen by salesync's budget."""
    token = xero.connection().credentials["access_token"]
    headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": xero.org.tenant_id}
    return httpx.Client(transport=xero.transport, base_url="https://api.xero.com", headers=headers)


def _day_used_up(xero: XeroHarness) -> None:
    other = _other_app(xero)
    other.patch("/_sandbox/limits", json={"day_limit": 1})
    other.get("/api.xro/2.0/Organisation")


def _arm(fault: Fault, times: int = 1) -> Callable[[XeroHarness], None]:
    return lambda xero: xero.faults.arm("get:Accounts", fault, times)


SANDBOX_FAULTS: list[tuple[str, Callable[[XeroHarness], None], str, ErrorKind, str]] = [
    (
        "503",
        _arm(Fault(FaultKind.SERVER_ERROR)),
        "Accounts",
        ErrorKind.TRANSIENT,
        "xero_unavailable",
    ),
    (
        "500",
        _arm(Fault(FaultKind.SERVER_ERROR, status=500)),
        "Accounts",
        ErrorKind.TRANSIENT,
        "xero_error",
    ),
    (
        "502",
        _arm(Fault(FaultKind.SERVER_ERROR, status=502)),
        "Accounts",
        ErrorKind.TRANSIENT,
        "xero_error",
    ),
    (
        "429 minute",
        _arm(Fault(FaultKind.RATE_LIMITED)),
        "Accounts",
        ErrorKind.TRANSIENT,
        "rate_limited",
    ),
    ("429 day", _day_used_up, "Accounts", ErrorKind.TRANSIENT, "day_limit"),
    (
        "401 after refresh",
        _arm(Fault(FaultKind.UNAUTHORIZED), 2),
        "Accounts",
        ErrorKind.AUTH,
        "token_rejected",
    ),
    ("403 disconnected", _disconnect, "Accounts", ErrorKind.AUTH, "organisation_not_connected"),
    (
        "lost answer",
        _arm(Fault(FaultKind.LOST_RESPONSE)),
        "Accounts",
        ErrorKind.TRANSIENT,
        "no_answer",
    ),
    (
        "504 gateway",
        _arm(Fault(FaultKind.LOST_RESPONSE, status=504)),
        "Accounts",
        ErrorKind.TRANSIENT,
        "xero_error",
    ),
    (
        "malformed",
        _arm(Fault(FaultKind.MALFORMED)),
        "Accounts",
        ErrorKind.TRANSIENT,
        "malformed_answer",
    ),
    ("404", lambda xero: None, "Nothing", ErrorKind.BUG, "not_found"),
]


@pytest.mark.parametrize(
    ("fault", "arm", "path", "kind", "code"), SANDBOX_FAULTS, ids=[f[0] for f in SANDBOX_FAULTS]
)
def test_every_sandbox_fault_maps_to_its_kind_with_a_message_for_the_merchant(
    xero: XeroHarness,
    fault: str,
    arm: Callable[[XeroHarness], None],
    path: str,
    kind: ErrorKind,
    code: str,
) -> None:
    """Each failure the sandbox can produce becomes the right kind and a plain sentence
    for the merchant (no status codes or payloads), with a help page."""
    arm(xero)
    with pytest.raises(SyncError) as caught:
        xero.open().client.get(path)
    error = caught.value
    assert (error.kind, error.code, error.provider) == (kind, code, "xero")
    assert error.user_message.endswith((".", ")"))
    assert error.user_message != error.message
    assert not any(s in error.user_message for s in ("HTTP", "{", "Traceback", "Exception"))
    assert str(error.help_url).startswith("https://")


def test_a_where_xero_cannot_parse_is_a_bug(xero: XeroHarness) -> None:
    """A QueryParseException (ErrorNumber 16) means salesync built a bad filter."""
    with pytest.raises(SyncError) as caught:
        xero.open().client.get("Invoices", {"where": 'Reference=="a" AND'})
    assert (caught.value.kind, caught.value.code) == (ErrorKind.BUG, "query_invalid")


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "code"),
    [
        (503, "The Organisation is offline", {}, ErrorKind.TRANSIENT, "organisation_offline"),
        (429, "", {"X-Rate-Limit-Problem": "appminute"}, ErrorKind.TRANSIENT, "rate_limited"),
        (429, "", {"X-Rate-Limit-Problem": "concurrent"}, ErrorKind.TRANSIENT, "rate_limited"),
        (501, "Not implemented", {}, ErrorKind.BUG, "http_501"),
        (412, "TLS", {}, ErrorKind.BUG, "http_412"),
        (400, '{"ErrorNumber": 10, "Elements": []}', {}, ErrorKind.BUG, "request_invalid"),
    ],
)
def test_xero_answers_the_sandbox_does_not_send_are_in_the_table_too(
    status: int, body: str, headers: dict[str, str], kind: ErrorKind, code: str
) -> None:
    """Organisation offline, app-minute and concurrent 429s without Retry-After, and
    the codes Xero documents for requests salesync should never make."""
    error = errors.response_error(httpx.Response(status, text=body, headers=headers), "get:x")
    assert (error.kind, error.code) == (kind, code)
    if status == 429:
        assert (
            getattr(error, "retry_after", None)
            == errors.DEFAULT_WAITS[headers["X-Rate-Limit-Problem"]]
        )


@pytest.mark.parametrize(
    ("message", "kind", "code"),
    [
        (
            "Account code '499' is not a valid code for this document.",
            ErrorKind.MAPPING,
            "account_invalid",
        ),
        (
            "Payments can only be made to a bank account or one enabled for payments",
            ErrorKind.MAPPING,
            "account_not_payable",
        ),
        ("The TaxType code 'GST' is not valid", ErrorKind.MAPPING, "tax_type_invalid"),
        ("Tracking option 'Pier' is not valid for 'Store'", ErrorKind.MAPPING, "tracking_invalid"),
        (
            "The currency 'EUR' is not enabled for this organisation",
            ErrorKind.MAPPING,
            "currency_not_enabled",
        ),
        ("Invoice # must be unique.", ErrorKind.CONFLICT, "duplicate_number"),
        (
            "The document date cannot be before the end of year lock date",
            ErrorKind.CONFLICT,
            "period_locked",
        ),
        (
            "Payment amount exceeds the amount outstanding on this document.",
            ErrorKind.CONFLICT,
            "document_changed",
        ),
        (
            "The total debits (1.00) must equal total credits (2.00)",
            ErrorKind.BUG,
            "payload_invalid",
        ),
        ("Email address must be valid.", ErrorKind.VALIDATION, "rejected"),
    ],
)
def test_validation_errors_of_an_element_are_sorted_by_their_message(
    message: str, kind: ErrorKind, code: str
) -> None:
    """Xero's ValidationErrors messages decide the kind; any other is a validation error
    that passes Xero's own words on."""
    error = errors.element_error([message], subject="Sale 1", operation="put:Invoices")
    assert (error.kind, error.code) == (kind, code)
    assert message in error.user_message


# --- over real HTTP ------------------------------------------------------------------


def test_over_real_http_a_dropped_connection_is_read_back_and_finished(
    start: Callable[..., XeroHarness], postings: list[Posting]
) -> None:
    """Under uvicorn the invoices PUT commits and the connection drops: httpx's protocol
    error is a transient failure, and the next post pays the invoice once."""
    xero = start(sales_form="invoice")
    sale = postings[0]
    xero.faults.arm("put:Invoices", FaultKind.LOST_RESPONSE)
    with serving(xero.app) as base:
        books = xero.open_over(base)
        with pytest.raises(SyncError) as caught:
            books.post([sale])
        assert caught.value.code == "no_answer"
        [written] = books.post(retried([sale]))
        books.close()
    assert written.ref == f"Invoice:{invoice_of(xero, sale)['InvoiceID']}"
    assert (xero.transactions(), len(xero.live("Payments"))) == (1, 1)


def test_maps_given_as_json_text_are_read_and_bad_json_is_named() -> None:
    """``--setting accounts={...}`` arrives as text: it is read as the map it writes; text
    that is not JSON is refused naming the setting."""
    settings = XeroSettings.of(
        {"tenant_id": "t-1", "accounts": '{"Income:Sales:Apparel": "200"}', "tracking": ""},
        "c-1",
    )
    assert settings.accounts == {"Income:Sales:Apparel": "200"}
    assert settings.tracking == {}
    with pytest.raises(MappingError, match=r"accounts: .*is not a JSON object"):
        XeroSettings.of({"tenant_id": "t-1", "accounts": "{Income: 200"}, "c-1")
