"""QuickBooks Online passes the destination and token contracts, and writes each form,
fault and batch the way QuickBooks expects."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

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
)
from qbo_harness import RETIRED, RETIRED_TOO, QboHarness, named
from sqlalchemy.orm import Session, sessionmaker

import salesync.sandbox.qbo as sandbox_package
from salesync.clock import ManualClock
from salesync.connectors.destination import DestinationConnection, Posting, reference
from salesync.connectors.qbo import QboDestination
from salesync.connectors.qbo.errors import fault_error, faults_in
from salesync.domain.documents import (
    Discount,
    DocumentKind,
    Payment,
    Payout,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
    document_id,
)
from salesync.domain.errors import AuthError, ErrorKind, TransientError, ValidationError
from salesync.domain.money import Money
from salesync.domain.planning import plan_daily_summary, plan_per_order
from salesync.sandbox.faults import Fault, FaultKind
from salesync.sandbox.qbo import errors as qbo_errors
from salesync.sandbox.qbo.entities import save
from salesync.sandbox.qbo.errors import QboError
from salesync.sandbox.server import serving
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Locations, Tenants


class TestQboContract(DestinationContract, TokenContract):
    name = "qbo"

    @pytest.fixture
    def harness(self, sender_db: sessionmaker[Session], clock: ManualClock) -> Iterator[QboHarness]:
        harness = QboHarness.start(sender_db, clock, MERCHANT.tenant.id)
        yield harness
        harness.close()


# --- documents ----------------------------------------------------------------------------

TENANT = MERCHANT.tenant.id
SOLD_AT = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
NY_TAX = Decimal("0.08875")


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def sale(
    external_id: str,
    *lines: tuple[str, str, str],
    paid: tuple[tuple[str, str], ...] = (),
    customer: str | None = None,
    discount: str | None = None,
    tip: str | None = None,
) -> Sale:
    """A Brooklyn sale of ``lines`` (category, price, tax), paid by card unless ``paid``."""
    draft = Sale(
        id=document_id(TENANT, "pos", DocumentKind.SALE, external_id),
        tenant_id=TENANT,
        location_id=BROOKLYN.id,
        source="pos",
        external_id=external_id,
        occurred_at=SOLD_AT,
        currency="USD",
        tax_mode=TaxMode.EXCLUSIVE,
        lines=tuple(
            SaleLine(
                f"SKU-{n}",
                category,
                category,
                Decimal(1),
                usd(price),
                taxes=(TaxLine("NY sales tax", NY_TAX, usd(tax)),),
            )
            for n, (category, price, tax) in enumerate(lines or (("Apparel", "28.00", "2.49"),))
        ),
        payments=(),
        order_discounts=(Discount("promo", usd(discount)),) if discount else (),
        tip=usd(tip) if tip else None,
        customer_id=customer,
    )
    payments = tuple(Payment(t, usd(a)) for t, a in paid) or (
        Payment("card", draft.computed_total),
    )
    return replace(draft, payments=payments)


def refund_of(original: Sale, amount: str, tax: str) -> Refund:
    return Refund(
        id=document_id(TENANT, "pos", DocumentKind.REFUND, f"R-{original.external_id}"),
        tenant_id=TENANT,
        location_id=BROOKLYN.id,
        source="pos",
        external_id=f"R-{original.external_id}",
        sale_id=original.id,
        occurred_at=SOLD_AT + timedelta(hours=1),
        currency="USD",
        tax_mode=TaxMode.EXCLUSIVE,
        lines=(
            RefundLine(
                "SKU-0",
                Decimal(1),
                usd(amount),
                "Apparel",
                (TaxLine("NY sales tax", NY_TAX, usd(tax)),),
            ),
        ),
        payments=(Payment("card", usd(amount) + usd(tax)),),
    )


def payout(external_id: str, gross: str, fees: str) -> Payout:
    return Payout(
        id=document_id(TENANT, "pos", DocumentKind.PAYOUT, external_id),
        tenant_id=TENANT,
        location_id=BROOKLYN.id,
        source="pos",
        external_id=external_id,
        occurred_at=SOLD_AT + timedelta(days=1),
        currency="USD",
        gross=usd(gross),
        fees=usd(fees),
        net=usd(gross) - usd(fees),
    )


def per_order(document: Sale | Refund | Payout) -> Posting:
    planned = plan_per_order(document, BROOKLYN)
    return Posting(planned.key, planned.mode, planned.entry, (document,))


def cards(count: int, start: int = 0) -> list[Posting]:
    """``count`` one-line card sales without a customer."""
    return [per_order(sale(f"S-{n}")) for n in range(start, start + count)]


def customers_buying(count: int, start: int = 1) -> list[Posting]:
    """``count`` one-line card sales, each naming its own customer ``c-<n>``."""
    return [per_order(sale(f"S-{n}", customer=f"c-{n}")) for n in range(start, start + count)]


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the merchant, copied for each test."""
    path = tmp_path_factory.mktemp("qbo") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with session_factory(engine)() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        Locations(session, TENANT).add(BROOKLYN)
    engine.dispose()
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    path = tmp_path / "salesync.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def qbo(db: sessionmaker[Session]) -> Iterator[QboHarness]:
    harness = QboHarness.start(db, ManualClock(START), TENANT)
    yield harness
    harness.close()


def post(qbo: QboHarness, postings: list[Posting]) -> list[str]:
    """Post and return the references, failing on any refusal."""
    books = qbo.open()
    written = books.post(postings)
    assert all(w.ref for w in written), [w.error for w in written]
    return [str(w.ref) for w in written]


def balanced(qbo: QboHarness, postings: list[Posting]) -> None:
    assert nonzero(qbo.balances()) == expected_balances(qbo, postings)


# --- forms --------------------------------------------------------------------------------


def test_a_one_tender_sale_is_a_sales_receipt_with_products_discount_and_customer(
    qbo: QboHarness,
) -> None:
    """Lines become products selling into their accounts, the discount a discount line,
    the card clearing account "Deposit to", and the customer is named."""
    qbo.configure(customers="each")
    posting = per_order(
        sale(
            "S-1",
            ("Apparel", "56.00", "4.97"),
            ("Homeware", "16.00", "1.42"),
            customer="c-7",
            discount="5.00",
            tip="3.00",
        )
    )
    [ref] = post(qbo, [posting])
    [receipt] = qbo.stored("SalesReceipt")
    assert ref == f"SalesReceipt:{receipt['Id']}"
    assert receipt["DocNumber"] == reference(posting.key, 21)
    assert receipt["PrivateNote"].endswith(f"salesync key: {posting.key}")
    assert receipt["DepositToAccountRef"]["name"] == "Clearing - Card"
    assert receipt["CustomerRef"]["name"] == "Pos customer c-7"
    assert receipt["TxnTaxDetail"]["TotalTax"] == 0
    products = {
        ln["SalesItemLineDetail"]["ItemRef"]["name"]: ln["Amount"]
        for ln in receipt["Line"]
        if ln["DetailType"] == "SalesItemLineDetail"
    }
    assert products == {
        "Sales - Apparel (salesync)": 56.0,
        "Sales - Homeware (salesync)": 16.0,
        "Tips Payable (salesync)": 3.0,
        "Sales-Tax - NY-Sales-Tax (salesync)": 6.39,
    }
    discount = named(lambda ln: ln["DetailType"] == "DiscountLineDetail", receipt["Line"])
    assert discount["Amount"] == 5.0
    assert discount["DiscountLineDetail"]["DiscountAccountRef"]["name"] == "Discounts"
    assert receipt["TotalAmt"] == float(posting.documents[0].paid.amount)
    balanced(qbo, [posting])


def test_a_one_tender_refund_is_a_refund_receipt(qbo: QboHarness) -> None:
    """A refund's returns and tax are debited through products; the card account is credited."""
    original = sale("S-2", ("Apparel", "28.00", "2.49"))
    postings = [per_order(original), per_order(refund_of(original, "28.00", "2.49"))]
    refs = post(qbo, postings)
    [receipt] = qbo.stored("RefundReceipt")
    assert refs[1] == f"RefundReceipt:{receipt['Id']}"
    assert receipt["DepositToAccountRef"]["name"] == "Clearing - Card"
    lines = {
        ln["SalesItemLineDetail"]["ItemRef"]["name"]: ln["Amount"] for ln in receipt["Line"][:-1]
    }
    assert lines == {"Returns (salesync)": 28.0, "Sales-Tax - NY-Sales-Tax (salesync)": 2.49}
    balanced(qbo, postings)


def test_a_payout_is_a_deposit_whose_fee_is_a_negative_line(qbo: QboHarness) -> None:
    """The bank is "Deposit to" for the net; clearing is credited the gross, fees debited."""
    posting = per_order(payout("PO-1", "459.38", "15.12"))
    [ref] = post(qbo, [posting])
    [deposit] = qbo.stored("Deposit")
    assert ref == f"Deposit:{deposit['Id']}"
    assert deposit["DepositToAccountRef"]["name"] == "Checking"
    assert deposit["TotalAmt"] == 444.26
    amounts = {
        ln["DepositLineDetail"]["AccountRef"]["name"]: ln["Amount"] for ln in deposit["Line"]
    }
    assert amounts == {"Clearing - Card": 459.38, "Merchant Fees": -15.12}
    balanced(qbo, [posting])


def test_a_daily_summary_is_a_journal_entry_tagged_with_location_and_class(
    qbo: QboHarness,
) -> None:
    """Every line keeps its account and side; the location and class are created and set."""
    qbo.configure(departments={BROOKLYN.id: "Brooklyn"}, **{"class": "Retail"})
    documents = [sale("S-3"), sale("S-4", paid=(("cash", "30.49"),))]
    day = SOLD_AT.astimezone(BROOKLYN.zone).date()
    [planned] = plan_daily_summary(documents, BROOKLYN, day)
    posting = Posting(planned.key, planned.mode, planned.entry, tuple(documents))
    [ref] = post(qbo, [posting])
    [entry] = qbo.stored("JournalEntry")
    assert ref == f"JournalEntry:{entry['Id']}"
    assert entry["TxnDate"] == day.isoformat()
    details = [ln["JournalEntryLineDetail"] for ln in entry["Line"]]
    assert {d["DepartmentRef"]["name"] for d in details} == {"Brooklyn"}
    assert {d["ClassRef"]["name"] for d in details} == {"Retail"}
    assert len(details) == len(posting.entry.lines)
    assert [d["Name"] for d in qbo.stored("Department")] == ["Brooklyn"]
    balanced(qbo, [posting])


def test_a_split_tender_sale_is_a_journal_entry_with_sales_receipts(qbo: QboHarness) -> None:
    """A sales receipt has one "Deposit to": two tenders make a journal entry instead."""
    posting = per_order(sale("S-5", paid=(("card", "20.00"), ("cash", "10.49"))))
    [ref] = post(qbo, [posting])
    assert ref.startswith("JournalEntry:")
    assert qbo.stored("SalesReceipt") == []
    balanced(qbo, [posting])


def test_with_invoices_a_split_tender_sale_is_an_invoice_paid_once_per_tender(
    qbo: QboHarness,
) -> None:
    """Invoice + one Payment per tender: the invoice is closed and receivables net to zero."""
    qbo.configure(customers="each", sales_form="invoice")
    postings = [
        per_order(sale("S-6", paid=(("card", "20.00"), ("cash", "10.49")), customer="c-1")),
        per_order(sale("S-7")),
    ]
    refs = post(qbo, postings)
    invoices = qbo.stored("Invoice")
    assert refs == [f"Invoice:{inv['Id']}" for inv in invoices]
    assert [inv["Balance"] for inv in invoices] == [0, 0]
    assert [inv["CustomerRef"]["name"] for inv in invoices] == [
        "Pos customer c-1",
        "Walk-in Customer",
    ]
    paid = [(p["DepositToAccountRef"]["name"], p["TotalAmt"]) for p in qbo.stored("Payment")]
    assert paid == [("Clearing - Card", 20.0), ("Cash-Drawer", 10.49), ("Clearing - Card", 30.49)]
    balanced(qbo, postings)
    assert qbo.open().find([p.key for p in postings]) == dict(
        zip([p.key for p in postings], refs, strict=True)
    )


def test_an_invoice_whose_payments_failed_is_paid_after_read_back_not_invoiced_again(
    qbo: QboHarness,
) -> None:
    """The payments' call fails after the invoice was written: find does not count it
    written, and the next post pays the same invoice."""
    qbo.configure(sales_form="invoice")
    posting = per_order(sale("S-8", paid=(("card", "20.00"), ("cash", "10.49"))))
    qbo.faults.arm("batch", Fault(FaultKind.SLOW, delay=0))  # the invoices go through
    qbo.faults.arm("batch", FaultKind.SERVER_ERROR)  # the payments do not
    [first] = qbo.open().post([posting])
    assert first.error is not None
    assert first.error.kind is ErrorKind.TRANSIENT
    books = qbo.open()
    assert books.find([posting.key]) == {}
    [again] = books.post([posting])
    [invoice] = qbo.stored("Invoice")
    assert again.ref == f"Invoice:{invoice['Id']}"
    assert invoice["Balance"] == 0
    assert len(qbo.stored("Payment")) == 2
    balanced(qbo, [posting])


@pytest.mark.parametrize("new_form", ["journal_entry", "sales_receipt"])
def test_an_open_invoice_is_held_not_written_again_when_the_sales_form_changed(
    qbo: QboHarness, new_form: str
) -> None:
    """The invoice went through, its payment did not, and the merchant then changed the
    sales form. The retry does not write the sale again in the new form (twice in the
    books) nor count the open invoice as done (its payment never deposited): it is held
    with what to do. Set back to invoices, the posting pays that invoice."""
    qbo.configure(sales_form="invoice")
    posting = per_order(sale("S-8"))
    qbo.faults.arm("batch", Fault(FaultKind.SLOW, delay=0))  # the invoice goes through
    qbo.faults.arm("batch", FaultKind.SERVER_ERROR)  # its payment does not
    [first] = qbo.open().post([posting])
    assert first.error is not None
    qbo.configure(sales_form=new_form)
    books = qbo.open()
    assert books.find([posting.key]) == {}
    [held] = books.post([posting])
    assert held.error is not None
    assert (held.error.kind, held.error.code) == (ErrorKind.VALIDATION, "form_changed")
    assert "back to 'invoice'" in held.error.user_message
    assert [len(qbo.stored(f)) for f in ("Invoice", "SalesReceipt", "JournalEntry")] == [1, 0, 0]
    qbo.configure(sales_form="invoice")
    books = qbo.open()
    assert books.find([posting.key]) == {}
    [paid] = books.post([posting])
    [invoice] = qbo.stored("Invoice")
    assert paid.ref == f"Invoice:{invoice['Id']}"
    assert invoice["Balance"] == 0


def test_a_first_attempt_reads_nothing_back(qbo: QboHarness) -> None:
    """A first attempt has nothing earlier to look for: an invoiced split-tender sale of a
    new customer costs the customer's, the invoice's and the payments' batches, no query."""
    qbo.configure(customers="each", sales_form="invoice")
    split = (("card", "20.00"), ("cash", "10.49"))
    post(qbo, [per_order(sale("S-1", paid=split))])
    before = len(qbo.calls())
    post(qbo, [per_order(sale("S-2", paid=split, customer="c-2"))])
    assert qbo.calls()[before:] == ["batch", "batch", "batch"]
    assert [p["TotalAmt"] for p in qbo.stored("Payment")[2:]] == [20.0, 10.49]


# --- batches, idempotency and read-back ---------------------------------------------------


def test_thirty_postings_go_in_one_batch_call_once_the_lists_are_known(qbo: QboHarness) -> None:
    """After the first batch found its accounts and products, thirty one-tender sales
    cost one call: a batch of 30 with a requestid of 36 characters at most."""
    post(qbo, cards(30))
    before = len(qbo.calls())
    post(qbo, cards(30, start=30))
    assert qbo.calls()[before:] == ["batch"]
    batches = [r for r in qbo.company.requests if r.operation == "batch"]
    assert all(r.requestid and len(r.requestid) <= 36 for r in batches)
    assert len(qbo.stored("SalesReceipt")) == 60


def test_more_postings_than_a_batch_holds_are_split_into_calls_of_thirty(
    qbo: QboHarness,
) -> None:
    """QuickBooks takes 30 items a batch; 31 postings make two batch calls."""
    refs = post(qbo, cards(31))
    assert len(set(refs)) == 31
    assert len(qbo.calls("batch")) == 2


def test_thirty_sales_naming_new_customers_cost_two_calls(qbo: QboHarness) -> None:
    """Once accounts and products exist, thirty sales naming thirty new customers cost a
    batch creating the customers and a batch of thirty sales receipts, nothing more."""
    qbo.configure(customers="each")
    post(qbo, cards(1))
    before = len(qbo.calls())
    post(qbo, customers_buying(30))
    assert qbo.calls()[before:] == ["batch", "batch"]
    receipts = qbo.stored("SalesReceipt")[1:]
    assert {r["CustomerRef"]["name"] for r in receipts} == {
        f"Pos customer c-{n}" for n in range(1, 31)
    }
    assert len(qbo.stored("Customer")) == 31  # the seeded walk-in customer and these


def test_by_default_sales_name_no_customer_of_their_own(qbo: QboHarness) -> None:
    """Under the default ``single`` policy thirty sales naming thirty buyers are one batch
    of sales receipts with no customer; an invoice names the walk-in customer."""
    post(qbo, cards(1))
    before = len(qbo.calls())
    post(qbo, customers_buying(30))
    assert qbo.calls()[before:] == ["batch"]
    assert all("CustomerRef" not in r for r in qbo.stored("SalesReceipt"))
    assert len(qbo.stored("Customer")) == 1  # the seeded walk-in customer alone
    qbo.configure(sales_form="invoice")
    post(qbo, customers_buying(1, start=31))
    [invoice] = qbo.stored("Invoice")
    assert invoice["CustomerRef"]["name"] == "Walk-in Customer"


def test_a_lost_answer_to_the_customers_batch_creates_no_customer_twice(
    qbo: QboHarness,
) -> None:
    """The customers' batch commits but its answer is lost: the post fails as transient
    before any sale is sent, and the retry gets QuickBooks' first answer to the same
    batch, so every customer exists once and every sale is written once."""
    qbo.configure(customers="each")
    post(qbo, cards(1))
    postings = customers_buying(30)
    qbo.faults.arm("batch:Customer", FaultKind.LOST_RESPONSE)
    with pytest.raises(TransientError) as caught:
        qbo.open().post(postings)
    assert caught.value.code == "no_answer"
    assert len(qbo.stored("Customer")) == 31
    assert qbo.transactions() == 1
    before = len(qbo.calls())
    post(qbo, [replace(p, attempt=2) for p in postings])
    assert qbo.calls()[before:] == ["batch", "batch"]
    assert len(qbo.stored("Customer")) == 31
    assert qbo.transactions() == 31


def test_every_call_names_the_pinned_minor_version_and_every_write_a_requestid(
    qbo: QboHarness,
) -> None:
    """The connection's minorversion goes on every call; creates and batches of postings
    carry a requestid."""
    qbo.configure(minorversion=80)
    post(qbo, [per_order(sale("S-9", customer="c-9"))])
    requests = qbo.company.requests
    assert {r.minorversion for r in requests} == {80}
    writes = [r for r in requests if r.operation.startswith("create:") or r.operation == "batch"]
    assert writes
    assert all(r.requestid for r in writes)


def test_after_a_lost_response_find_reads_back_and_posting_again_writes_nothing(
    qbo: QboHarness,
) -> None:
    """The batch was written but its answer lost: the error is transient, find returns
    every posting, and a retry under the same keys adds nothing."""
    postings = cards(3)
    qbo.arm("lost_response")
    with pytest.raises(TransientError):
        qbo.open().post(postings)
    assert qbo.transactions() == 3
    found = qbo.open().find([p.key for p in postings])
    assert set(found) == {p.key for p in postings}
    assert post(qbo, postings) == [found[p.key] for p in postings]
    assert qbo.transactions() == 3


def test_a_transaction_written_under_another_batch_counts_as_written(qbo: QboHarness) -> None:
    """QuickBooks refuses the number as a duplicate; the transaction holding it carries
    the posting's key, so the posting is written, once."""
    postings = cards(2)
    [first, _] = post(qbo, postings)
    assert post(qbo, [postings[0], *cards(1, start=5)])[0] == first
    assert qbo.transactions() == 3


def _typed_in(posting: Posting, note: str) -> dict[str, object]:
    """A receipt entered in QuickBooks under ``posting``'s number with ``note``."""
    return {
        "DocNumber": reference(posting.key, 21),
        "PrivateNote": note,
        "Line": [
            {
                "Amount": 5,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
            }
        ],
    }


def test_a_memo_edited_in_quickbooks_does_not_make_the_posting_twice(qbo: QboHarness) -> None:
    """The bookkeeper rewrote the memo; the number still says whose it is."""
    posting = cards(1)[0]
    [ref] = post(qbo, [posting])
    [receipt] = qbo.stored("SalesReceipt")
    qbo.company.put("SalesReceipt", {**receipt, "PrivateNote": "checked by Sam"})
    books = qbo.open()
    assert books.find([posting.key]) == {posting.key: ref}
    qbo.company.settings.duplicate_doc_number_check = False
    assert post(qbo, [posting]) == [ref]
    assert len(qbo.stored("SalesReceipt")) == 1


def test_a_number_held_for_another_key_is_a_conflict(qbo: QboHarness) -> None:
    """The transaction under the number names another salesync key: held for a person."""
    posting = cards(1)[0]
    save(qbo.company, "SalesReceipt", _typed_in(posting, "salesync key: order:pos:sale:other"))
    assert qbo.open().find([posting.key]) == {}
    [written] = qbo.open().post([posting])
    assert written.error is not None
    assert written.error.kind is ErrorKind.CONFLICT
    assert "did not write" in written.error.user_message
    assert len(qbo.stored("SalesReceipt")) == 1


def test_a_refusal_fixed_in_quickbooks_is_not_replayed_to_the_same_batch(
    qbo: QboHarness,
) -> None:
    """QBO answers a repeated requestid with its first answer, refusals included: once the
    bookkeeper removed the transaction holding the number, the same posting goes through."""
    posting = cards(1)[0]
    other = save(qbo.company, "SalesReceipt", _typed_in(posting, "salesync key: another"))
    [refused] = qbo.open().post([posting])
    assert refused.error is not None
    with qbo.company.lock:
        del qbo.company.entities["SalesReceipt"][other["Id"]]
    [written] = qbo.open().post([posting])
    assert written.ref is not None
    assert qbo.transactions() == 1


def test_over_real_http_a_lost_response_is_read_back(qbo: QboHarness) -> None:
    """Under uvicorn the dropped connection is transient, and find sees what was written."""
    postings = cards(2)
    with serving(qbo.app) as base:
        qbo.configure(base_url=base)
        qbo.arm("lost_response")
        books = qbo.open(direct=True)
        with pytest.raises(TransientError) as caught:
            books.post(postings)
        assert caught.value.code == "no_answer"
        found = books.find([p.key for p in postings])
    assert set(found) == {p.key for p in postings}
    assert qbo.transactions() == 2


# --- references ---------------------------------------------------------------------------


def test_a_customer_name_taken_in_another_case_is_read_not_created_again(
    qbo: QboHarness,
) -> None:
    """QuickBooks refuses the display name (6240) and says which customer holds it; that
    customer is read and named on the sale."""
    qbo.configure(customers="each")
    customer = save(qbo.company, "Customer", {"DisplayName": "POS CUSTOMER C-42"})
    post(qbo, [per_order(sale("S-10", customer="c-42"))])
    [receipt] = qbo.stored("SalesReceipt")
    assert receipt["CustomerRef"]["value"] == customer["Id"]
    assert len(qbo.stored("Customer")) == 2  # the seeded walk-in customer and this one


def test_customers_quickbooks_has_but_salesync_does_not_know_are_read_in_one_query(
    qbo: QboHarness,
) -> None:
    """A worker that knows no customers yet names ten QuickBooks already has among twenty:
    the batch refuses those ten as taken (6240), one query reads them all, and only the
    ten new ones are created."""
    qbo.configure(customers="each")
    existing = [
        save(qbo.company, "Customer", {"DisplayName": f"Pos customer c-{n}"})["Id"]
        for n in range(1, 11)
    ]
    post(qbo, cards(1))
    before = len(qbo.calls())
    post(qbo, customers_buying(20))
    assert qbo.calls()[before:] == ["batch", "query", "batch"]
    assert len(qbo.stored("Customer")) == 21
    receipts = qbo.stored("SalesReceipt")[1:11]
    assert [r["CustomerRef"]["value"] for r in receipts] == existing


class RefusingCustomer(httpx.BaseTransport):
    """The sandbox, except that the batch item creating ``name`` answers ``fault``."""

    def __init__(self, inner: httpx.BaseTransport, name: str, fault: QboError) -> None:
        self.inner = inner
        self.name = name
        self.fault = fault

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not request.url.path.endswith("/batch"):
            return response
        sent = json.loads(request.content)["BatchItemRequest"]
        refused = {
            item["bId"] for item in sent if item.get("Customer", {}).get("DisplayName") == self.name
        }
        body = json.loads(response.read())
        body["BatchItemResponse"] = [
            {"bId": a["bId"], "Fault": self.fault.fault()} if a["bId"] in refused else a
            for a in body["BatchItemResponse"]
        ]
        return httpx.Response(response.status_code, json=body)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        pytest.param(qbo_errors.business_rule("no"), ErrorKind.VALIDATION, id="6000"),
        pytest.param(qbo_errors.system_error(), ErrorKind.TRANSIENT, id="10000"),
    ],
)
def test_a_customer_refused_in_its_batch_refuses_only_the_sales_naming_it(
    qbo: QboHarness, fault: QboError, kind: ErrorKind
) -> None:
    """QuickBooks refuses one item of the customers' batch: the two sales naming that
    customer get its error, each its own; the other sales are written."""
    qbo.configure(customers="each")
    post(qbo, cards(1))
    postings = [*customers_buying(3), per_order(sale("S-9", customer="c-2"))]
    transport = RefusingCustomer(qbo.transport, "Pos customer c-2", fault)
    written = qbo.open(transport=transport).post(postings)
    assert [w.ref is not None for w in written] == [True, False, True, False]
    errors = [w.error for w in written if w.error is not None]
    assert [(e.kind, e.operation, e.documents) for e in errors] == [
        (kind, "create:Customer", postings[1].document_ids),
        (kind, "create:Customer", postings[3].document_ids),
    ]
    assert errors[0] is not errors[1]
    assert qbo.transactions() == 3


def test_under_the_require_policy_a_missing_account_names_what_to_map(qbo: QboHarness) -> None:
    """Nothing is created; the refusal names the salesync account and where to map it."""
    qbo.configure(account_policy="require")
    [written] = qbo.open().post(cards(1))
    assert written.error is not None
    assert written.error.kind is ErrorKind.MAPPING
    assert "Income:Sales:Apparel" in written.error.user_message
    assert "account mapping" in written.error.user_message
    assert written.error.documents == cards(1)[0].document_ids
    assert qbo.transactions() == 0
    assert "create:Account" not in qbo.calls()


def test_under_the_require_policy_mapped_accounts_and_their_products_post(
    qbo: QboHarness,
) -> None:
    """With every account mapped and its product present, "require" posts as usual."""
    post(qbo, cards(1))  # accounts and products made under "create"
    accounts = {ln.account for ln in cards(1)[0].entry.lines}
    qbo.configure(account_policy="require", accounts={a: qbo.books_account(a) for a in accounts})
    assert post(qbo, cards(1, start=1))[0].startswith("SalesReceipt:")


def test_a_product_made_inactive_in_quickbooks_is_refused_alone_then_named(
    qbo: QboHarness,
) -> None:
    """QuickBooks answers 610 for that posting only; the lists are read again, and the
    next post names the inactive product before sending anything."""
    post(qbo, cards(1))
    [product] = [i for i in qbo.stored("Item") if i["Name"] == "Sales - Apparel (salesync)"]
    qbo.company.put("Item", {**product, "Active": False})
    deposit = per_order(payout("PO-2", "10.00", "1.00"))
    [refused, passed] = qbo.open().post([cards(1, start=1)[0], deposit])
    assert refused.error is not None
    assert (refused.error.kind, refused.error.code) == (ErrorKind.MAPPING, "inactive_reference")
    assert passed.ref is not None
    [again] = qbo.open().post(cards(1, start=1))
    assert again.error is not None
    assert again.error.code == "inactive_item"
    assert "'Sales - Apparel (salesync)'" in again.error.user_message


def test_an_account_mapped_to_an_inactive_one_is_refused_before_sending(qbo: QboHarness) -> None:
    """The chart is read with inactive accounts, so the mapping's mistake is named."""
    posting = qbo.refused(cards(1)[0])
    [written] = qbo.open().post([posting])
    assert written.error is not None
    assert written.error.code == "inactive_account"
    assert "'Retired Sales'" in written.error.user_message
    assert "batch" not in qbo.calls()


def test_every_account_posting_to_one_inactive_account_is_one_root_cause(
    qbo: QboHarness,
) -> None:
    """The merchant is told which of salesync's accounts is affected; the internal message,
    which the ticket groups by, names the inactive QuickBooks account, so all of them
    make one ticket."""
    first, second = cards(2)
    [a, b] = qbo.open().post([qbo.refused(first), qbo.refused(second, RETIRED_TOO)])
    assert a.error is not None
    assert b.error is not None
    assert RETIRED in a.error.user_message
    assert RETIRED_TOO in b.error.user_message
    assert a.error.message == b.error.message
    assert "'Retired Sales' is inactive" in a.error.message


def test_bad_settings_are_refused_on_connect_listing_every_problem() -> None:
    """A missing realm, an unknown sales form and an old minor version are reported together."""
    connection = DestinationConnection(
        "c1", TENANT, {"access_token": "t"}, {"sales_form": "receipt", "minorversion": "40"}
    )
    with pytest.raises(ValidationError) as caught:
        QboDestination().connect(connection)
    assert {p.path for p in caught.value.problems} == {"realm_id", "sales_form", "minorversion"}


def test_batch_calls_are_paced_under_forty_a_minute(qbo: QboHarness) -> None:
    """Forty-five reads back to back: the realm's budget waits instead of meeting a 429."""
    books = qbo.open()
    for _ in range(45):
        books.find(["order:pos:sale:none"])
    statuses = [r.status for r in qbo.company.requests if r.operation == "batch"]
    assert statuses == [200] * 45


# --- faults -------------------------------------------------------------------------------


def _fault(code: str, message: str, kind: str = "ValidationFault", status: int = 400) -> QboError:
    """A fault the sandbox raises inline, as it raises it."""
    return QboError(code, message, "detail", fault_type=kind, status=status)  # type: ignore[arg-type]


FAULTS: list[tuple[str, QboError, ErrorKind, str]] = [
    ("2020-missing", qbo_errors.required("Line"), ErrorKind.BUG, "developer"),
    (
        "2500-reference",
        qbo_errors.invalid_reference("ItemRef", "9"),
        ErrorKind.MAPPING,
        "Reactivate",
    ),
    ("610-inactive", qbo_errors.object_not_found("ItemRef", "2"), ErrorKind.MAPPING, "Reactivate"),
    ("610-not-found", qbo_errors.not_found("Invoice", "9"), ErrorKind.MAPPING, "Reactivate"),
    ("2050-too-long", qbo_errors.too_long("DocNumber", 21, 22), ErrorKind.VALIDATION, "Shorten"),
    ("6000-rule", qbo_errors.business_rule("must balance"), ErrorKind.VALIDATION, "Correct"),
    ("10000-system", qbo_errors.system_error(), ErrorKind.TRANSIENT, "by itself"),
    ("3001-throttled", qbo_errors.throttled(), ErrorKind.TRANSIENT, "slow down"),
    ("3200-signed-out", qbo_errors.authentication_failed("expired"), ErrorKind.AUTH, "Reconnect"),
    ("6190-subscription", qbo_errors.invalid_company_status(), ErrorKind.AUTH, "Renew"),
    (
        "3100-forbidden",
        _fault("3100", "ApplicationAuthorizationFailed", "AuthorizationFault", 403),
        ErrorKind.AUTH,
        "admin",
    ),
    (
        "6140-number",
        _fault("6140", "Duplicate Document Number Error"),
        ErrorKind.CONFLICT,
        "renumber",
    ),
    ("5010-stale", _fault("5010", "Stale Object Error"), ErrorKind.TRANSIENT, "reads it again"),
    ("6240-name", _fault("6240", "Duplicate Name Exists Error"), ErrorKind.MAPPING, "Rename"),
    ("6080-no-name", _fault("6080", "No Name Provided"), ErrorKind.VALIDATION, "needs a name"),
    (
        "6010-account-type",
        _fault("6010", "Invalid Account.AccountType"),
        ErrorKind.BUG,
        "developer",
    ),
    ("6070-amount", _fault("6070", "Amount calculation incorrect"), ErrorKind.BUG, "developer"),
    ("2010-property", _fault("2010", "Request has invalid property"), ErrorKind.BUG, "developer"),
    ("2170-enumeration", _fault("2170", "Invalid Enumeration"), ErrorKind.BUG, "developer"),
    ("4000-query", _fault("4000", "Error parsing query"), ErrorKind.BUG, "developer"),
    ("4001-query", _fault("4001", "Invalid query"), ErrorKind.BUG, "developer"),
    ("1040-batch", _fault("1040", "Batch size exceeds allowed limit"), ErrorKind.BUG, "developer"),
    ("500-unsupported", _fault("500", "Unsupported Operation"), ErrorKind.BUG, "developer"),
    ("6210-closed", _fault("6210", "Account Period Closed"), ErrorKind.VALIDATION, "closing date"),
    ("unknown", _fault("7777", "Something new"), ErrorKind.BUG, "developer"),
]


@pytest.mark.parametrize(
    ("error", "kind", "phrase"), [pytest.param(e, k, p, id=i) for i, e, k, p in FAULTS]
)
def test_each_fault_maps_to_its_kind_with_words_a_merchant_acts_on(
    error: QboError, kind: ErrorKind, phrase: str
) -> None:
    """Alone (with its status) or inside a batch item (HTTP 200), a fault gets its kind and
    a message that says what happens or what to do, without QuickBooks' codes."""
    alone = faults_in(qbo_errors.fault_body(error, START), error.status)
    in_batch = faults_in({"bId": "0", "Fault": error.fault()}, 200)
    for fault in (*alone, *in_batch):
        mapped = fault_error(fault, operation="create:SalesReceipt", connection="c1")
        assert mapped.kind is kind
        assert phrase in mapped.user_message
        assert not re.search(rf"\b{error.error.code}\b|Fault", mapped.user_message)
        assert mapped.provider == "qbo"
        assert mapped.details["fault"]["code"] == error.error.code
        if error.error.code == "3001":
            assert isinstance(mapped, TransientError)
            assert mapped.retry_after == 60


def test_the_table_covers_every_code_the_sandbox_raises() -> None:
    """Each QboError code in the sandbox's source has a row in the table above."""
    source = "".join(
        path.read_text() for path in Path(sandbox_package.__file__).parent.glob("*.py")
    )
    raised = set(re.findall(r'QboError\(\s*"(\d+)"', source))
    assert raised
    assert raised <= {error.error.code for _, error, _, _ in FAULTS}


@pytest.mark.parametrize(
    ("fault", "code", "written"),
    [
        pytest.param(Fault(FaultKind.SERVER_ERROR, status=503), "server_error", 0, id="503"),
        pytest.param(Fault(FaultKind.RATE_LIMITED, retry_after=7), "throttled", 0, id="429"),
        pytest.param(Fault(FaultKind.MALFORMED), "malformed_response", 2, id="malformed"),
        pytest.param(Fault(FaultKind.LOST_RESPONSE), "no_answer", 2, id="lost"),
        pytest.param(Fault(FaultKind.LOST_RESPONSE, status=504), "server_error", 2, id="504"),
    ],
)
def test_a_failed_batch_call_is_transient_whether_or_not_it_wrote(
    qbo: QboHarness, fault: Fault, code: str, written: int
) -> None:
    """5xx and 429 wrote nothing; a broken or lost answer may have: all are transient, so
    the engine reads back before it tries again."""
    qbo.faults.arm("batch", fault)
    with pytest.raises(TransientError) as caught:
        qbo.open().post(cards(2))
    assert caught.value.code == code
    assert qbo.transactions() == written
    if fault.kind is FaultKind.RATE_LIMITED:
        assert caught.value.retry_after == 7


def test_a_401_refreshes_the_token_once_and_sends_the_call_again(qbo: QboHarness) -> None:
    """QuickBooks refuses the token once: it is refreshed, stored, and the batch goes through."""
    before = qbo.stored_token()
    qbo.faults.arm("batch", FaultKind.UNAUTHORIZED)
    post(qbo, cards(2))
    assert qbo.transactions() == 2
    assert qbo.stored_token() != before


def test_a_token_refused_again_after_its_refresh_asks_for_a_reconnect(qbo: QboHarness) -> None:
    """One refresh only: a second 401 is an authentication error, nothing is written."""
    qbo.faults.arm("batch", FaultKind.UNAUTHORIZED, times=2)
    with pytest.raises(AuthError) as caught:
        qbo.open().post(cards(1))
    assert caught.value.code == "authentication_failed"
    assert "Reconnect QuickBooks" in caught.value.user_message
    assert qbo.transactions() == 0


def test_a_fault_in_an_answer_of_200_is_still_a_fault() -> None:
    """QuickBooks has answered 6190 with HTTP 200: the body decides, not the status."""
    body = qbo_errors.fault_body(qbo_errors.invalid_company_status(), START)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    connection = DestinationConnection(
        "c1", TENANT, {"access_token": "t"}, {"realm_id": "r-200", "base_url": "https://q.test"}
    )
    books = QboDestination().connect(connection, transport)
    with pytest.raises(AuthError) as caught:
        books.find(["order:pos:sale:1"])
    assert caught.value.code == "subscription_ended"


def test_an_ended_subscription_stops_the_whole_call_with_what_to_do(qbo: QboHarness) -> None:
    """QuickBooks refuses every call (6190): nothing is written, and the merchant reads
    that the subscription needs renewing."""
    qbo.company.settings.subscription_active = False
    with pytest.raises(AuthError) as caught:
        qbo.open().post(cards(1))
    assert caught.value.code == "subscription_ended"
    assert "Renew" in caught.value.user_message
