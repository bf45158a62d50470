"""One Xero organisation's books: post postings exactly once, find them by key.

A call reads back first: a posting whose document is already in Xero (a lost answer, a
retry after Xero's idempotency window) is reported, or finished if its payments are
missing; then accounts, tax rate, tracking, contacts and items are ensured, and the
documents written collection by collection (manual journals, invoices, credit notes,
then payments), each in one PUT answered element by element. A posting is written only
when its document and every payment are in; ``find`` says the same, so an invoice whose
payments were lost is finished on the next attempt rather than written twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from salesync.connectors.destination import DestinationCapabilities, Posting, Written
from salesync.connectors.xero import errors
from salesync.connectors.xero.accounts import Chart, Usage
from salesync.connectors.xero.client import XeroClient
from salesync.connectors.xero.forms import DocumentForm, Form, JournalForm, number_for, plan
from salesync.connectors.xero.lists import Lists, where
from salesync.connectors.xero.settings import XeroSettings
from salesync.connectors.xero.translate import (
    KINDS,
    Existing,
    document_json,
    errors_of,
    existing_document,
    journal_json,
    payment_json,
)
from salesync.domain.errors import SyncError, ValidationError

NAME = "xero"
BATCH = 50
"""Xero recommends batching elements in bundles of up to 50 per request
(https://developer.xero.com/documentation/guides/oauth2/limits/, request size limit)."""
CAPABILITIES = DestinationCapabilities(
    forms=frozenset({"invoice", "payment", "credit_note", "manual_journal"}),
    batch_size=BATCH,
    find_batch=BATCH,
    reference_limit=255,
    itemized=True,
    ensures=frozenset({"accounts", "contacts", "items", "tracking"}),
)


def _chunks(values: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _held(problems: Sequence[SyncError], form: Form) -> SyncError:
    """One error for a posting, from every problem found with it."""
    first = problems[0]
    if len(problems) == 1 and first.documents == form.documents:
        return first
    users = " ".join(dict.fromkeys(p.user_message for p in problems))
    return type(first)(
        f"{form.subject}: " + "; ".join(p.message for p in problems),
        user_message=users if first.documents else f"{form.subject}: {users}",
        code=first.code,
        help_url=first.help_url,
        provider=errors.PROVIDER,
        operation=first.operation,
        documents=form.documents,
        details={"problems": [p.code for p in problems]},
    )


class XeroBooks:
    """Posts into one organisation through one client."""

    def __init__(self, client: XeroClient, settings: XeroSettings) -> None:
        self.client = client
        self.settings = settings
        self.chart = Chart(client, settings)
        self.lists = Lists(client, create_items=settings.account_policy == "create")
        self._base_currency: str | None = None

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> DestinationCapabilities:
        return CAPABILITIES

    def close(self) -> None:
        self.client.close()

    def find(self, keys: Sequence[str]) -> dict[str, str]:
        return {key: found.ref for key, found in self.existing(keys).items() if found.complete}

    def existing(self, keys: Sequence[str]) -> dict[str, Existing]:
        """What Xero holds under each key, by number (documents) or narration (journals)."""
        numbers = {number_for(key): key for key in keys}
        found: dict[str, Existing] = {}
        for chunk in _chunks(sorted(numbers), BATCH):
            params = {"InvoiceNumbers": ",".join(chunk)}
            for invoice in self.client.get("Invoices", params).get("Invoices") or []:
                key = numbers.get(str(invoice.get("InvoiceNumber")))
                if key and invoice.get("Type") == "ACCREC":
                    found[key] = existing_document(invoice, "invoice")
            params = {"where": where("CreditNoteNumber", chunk)}
            for credit in self.client.get("CreditNotes", params).get("CreditNotes") or []:
                key = numbers.get(str(credit.get("CreditNoteNumber")))
                if key and credit.get("Type") == "ACCRECCREDIT":
                    found[key] = existing_document(credit, "credit_note")
            tags = " OR ".join(f'Narration.Contains("{n}")' for n in chunk)
            for journal in (
                self.client.get("ManualJournals", {"where": tags}).get("ManualJournals") or []
            ):
                narration = str(journal.get("Narration", ""))
                for number, key in numbers.items():
                    if f"[salesync {number}:" in narration:
                        found[key] = Existing(
                            "ManualJournal", str(journal["ManualJournalID"]), True
                        )
        return found

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        return _Call(self, list(postings)).run()

    def base_currency(self) -> str:
        if self._base_currency is None:
            found = self.client.get("Organisation").get("Organisations") or [{}]
            self._base_currency = str(found[0].get("BaseCurrency", ""))
        return self._base_currency


@dataclass
class _Call:
    """One ``post``: what each posting needs, and how far each got."""

    books: XeroBooks
    postings: list[Posting]
    forms: dict[str, Form] = field(default_factory=dict)
    results: dict[str, Written] = field(default_factory=dict)
    problems: dict[str, list[SyncError]] = field(default_factory=dict)
    document_ids: dict[str, str] = field(default_factory=dict)
    """Invoice or credit note id of each document posting written or found unfinished."""
    codes: dict[str, str] = field(default_factory=dict)

    def run(self) -> list[Written]:
        settings = self.books.settings
        for posting in self.postings:
            self.forms[posting.key] = plan(
                posting, sales_form=settings.sales_form, cash_contact=settings.cash_contact
            )
        unfinished = self._read_back()
        try:
            self._ensure(unfinished)
            self._write_journals()
            self._write_documents("invoice", unfinished)
            self._write_documents("credit_note", unfinished)
            self._pay(unfinished)
        except SyncError as exc:
            # What this call found or wrote stands; the rest may or may not be written.
            self.books.chart.forget()
            if not self.results:
                raise
            for key in self.forms:
                self.results.setdefault(key, Written(key, error=exc))
        return [self.results[p.key] for p in self.postings]

    def _open(self) -> list[str]:
        """Postings not answered yet (those with problems too, so each is checked whole)."""
        return [k for k in self.forms if k not in self.results]

    def _pending(self) -> list[str]:
        """Postings still to write."""
        return [k for k in self._open() if k not in self.problems]

    def _fail(self, key: str, error: SyncError) -> None:
        self.problems.setdefault(key, []).append(error)

    def _settle_problems(self) -> None:
        for key, found in self.problems.items():
            self.results.setdefault(key, Written(key, error=_held(found, self.forms[key])))
        self.problems.clear()

    def _read_back(self) -> set[str]:
        """Report what is complete; the keys of documents still missing payments."""
        unfinished: set[str] = set()
        for key, found in self.books.existing(list(self.forms)).items():
            form = self.forms[key]
            if found.complete:
                self.results[key] = Written(key, ref=found.ref)
            elif isinstance(form, DocumentForm) and found.prefix == KINDS[form.kind].prefix:
                self.document_ids[key] = found.id
                unfinished.add(key)
            else:
                self._fail(key, _changed_form(form))
        return unfinished

    def _ensure(self, unfinished: set[str]) -> None:
        """Accounts, tracking, tax rate, contacts and items; postings that cannot have
        theirs are answered with why."""
        self._ensure_accounts()
        chart = self.books.chart
        documents: list[DocumentForm] = []
        for key in self._open():
            form = self.forms[key]
            try:
                chart.tracking(form.location_id)
            except SyncError as exc:
                self._fail(key, exc)
            if isinstance(form, DocumentForm):
                documents.append(form)
            elif form.currency != self.books.base_currency():
                self._fail(key, _foreign_journal(form, self.books.base_currency()))
        if documents:
            try:
                chart.no_tax_type()
            except SyncError as exc:
                for form in documents:
                    self._fail(form.key, exc)
        new = [f for f in documents if f.key not in unfinished and f.key not in self.problems]
        refused = self.books.lists.contacts({f.contact for f in new})
        for form in new:
            problem = refused.get(form.contact.name.casefold())
            if problem is not None:
                self._fail(form.key, problem)
        self.books.lists.items({ln.item for f in new for ln in f.lines if ln.item is not None})
        self._settle_problems()

    def _ensure_accounts(self) -> None:
        needs: dict[str, Usage] = {}
        for key in self._open():
            form = self.forms[key]
            for line in form.lines:
                needs.setdefault(line.account, Usage()).journal |= isinstance(form, JournalForm)
            if isinstance(form, DocumentForm):
                for tender in form.tenders:
                    needs.setdefault(tender.account, Usage()).payments = True
        self.codes, refused = self.books.chart.resolve(needs)
        for key in self._open():
            form = self.forms[key]
            accounts = {line.account for line in form.lines}
            if isinstance(form, DocumentForm):
                accounts |= {t.account for t in form.tenders}
            for account in sorted(accounts & refused.keys()):
                self._fail(key, refused[account])

    def _write_journals(self) -> None:
        forms = [f for k in self._pending() if isinstance(f := self.forms[k], JournalForm)]
        if not forms:
            return
        chart = self.books.chart
        elements = [
            journal_json(f, codes=self.codes, tracking=chart.tracking(f.location_id)) for f in forms
        ]
        answers = self.books.client.write(
            "PUT",
            "ManualJournals",
            "ManualJournals",
            elements,
            step="journals",
            keys=[f.key for f in forms],
        )
        for form, answer in zip(forms, answers, strict=True):
            messages = errors_of(answer)
            if messages or not answer.get("ManualJournalID"):
                self._refused(form, messages, "put:ManualJournals")
            else:
                ref = Existing("ManualJournal", str(answer["ManualJournalID"]), True).ref
                self.results[form.key] = Written(form.key, ref=ref)

    def _refused(self, form: Form, messages: list[str], operation: str) -> None:
        error = errors.element_error(
            messages, subject=form.subject, operation=operation, documents=form.documents
        )
        self.results[form.key] = Written(form.key, error=error)

    def _write_documents(self, kind: str, unfinished: set[str]) -> None:
        forms = [
            f
            for k in self._pending()
            if isinstance(f := self.forms[k], DocumentForm)
            and f.kind == kind
            and k not in unfinished
        ]
        if not forms:
            return
        collection, id_field = KINDS[kind].collection, KINDS[kind].id_field
        books = self.books
        elements = []
        for form in forms:
            contact_id = books.lists.contact_id(form.contact)
            elements.append(
                document_json(
                    form,
                    codes=self.codes,
                    tax_type=books.chart.no_tax_type(),
                    tracking=books.chart.tracking(form.location_id),
                    contact_id=contact_id or "",
                    items=books.lists.item_codes,
                )
            )
        answers = books.client.write(
            "PUT", collection, collection, elements, step=kind, keys=[f.key for f in forms]
        )
        for form, answer in zip(forms, answers, strict=True):
            messages = errors_of(answer)
            if messages or not answer.get(id_field):
                self._refused(form, messages, f"put:{collection}")
            else:
                self.document_ids[form.key] = str(answer[id_field])

    def _pay(self, unfinished: set[str]) -> None:
        """Pay (or refund) every tender not yet paid of the documents written or found."""
        forms = [
            f
            for k in self._pending()
            if isinstance(f := self.forms[k], DocumentForm) and k in self.document_ids
        ]
        paid = self._paid_references([f.key for f in forms if f.key in unfinished])
        elements: list[dict[str, object]] = []
        owners: list[DocumentForm] = []
        for form in forms:
            for index in range(len(form.tenders)):
                if form.payment_reference(index) not in paid:
                    ids = self.document_ids[form.key]
                    elements.append(payment_json(form, index, ids, self.codes))
                    owners.append(form)
        answers = (
            self.books.client.write(
                "PUT",
                "Payments",
                "Payments",
                elements,
                step="payments",
                keys=[f.key for f in owners],
            )
            if elements
            else []
        )
        for form, answer in zip(owners, answers, strict=True):
            messages = errors_of(answer)
            if (messages or not answer.get("PaymentID")) and form.key not in self.results:
                self._refused(form, messages, "put:Payments")
        for form in forms:
            if form.key not in self.results:
                prefix = KINDS[form.kind].prefix
                self.results[form.key] = Written(
                    form.key, ref=Existing(prefix, self.document_ids[form.key], True).ref
                )

    def _paid_references(self, keys: list[str]) -> set[str]:
        """The references of the payments already made on unfinished documents."""
        found: set[str] = set()
        ids = [self.document_ids[k] for k in keys]
        for chunk in _chunks(ids, 20):
            clauses = " OR ".join(
                f'Invoice.InvoiceID==guid("{i}") OR CreditNote.CreditNoteID==guid("{i}")'
                for i in chunk
            )
            answer = self.books.client.get("Payments", {"where": clauses})
            for payment in answer.get("Payments") or []:
                if payment.get("Status") != "DELETED":
                    found.add(str(payment.get("Reference", "")))
        return found


def _changed_form(form: Form) -> SyncError:
    return ValidationError(
        f"{form.subject}: Xero holds an unfinished document of another form under its number",
        user_message=f"{form.subject}: Xero already holds part of this posting in another form "
        "(the sales form setting changed while it was being written). Finish or void it in "
        "Xero, then release the posting.",
        code="form_changed",
        provider=errors.PROVIDER,
        operation="post",
        documents=form.documents,
    )


def _foreign_journal(form: JournalForm, base: str) -> SyncError:
    return ValidationError(
        f"{form.subject}: a manual journal in {form.currency} for a {base} organisation",
        user_message=f"{form.subject} is in {form.currency}, but Xero keeps manual journals "
        f"in the organisation's own currency ({base}) only. Post this location per order "
        "as invoices, or convert it before posting.",
        code="journal_currency",
        help_url=errors.CURRENCIES_HELP,
        provider=errors.PROVIDER,
        operation="post",
        documents=form.documents,
    )
