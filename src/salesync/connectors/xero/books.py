"""One Xero organisation's books: post postings exactly once, find them by key.

A retried posting (``Posting.attempt`` above 1) is read back first: one whose document
is already in Xero (a lost answer, a retry after Xero's idempotency window) is reported,
or finished if its payments are missing. A first attempt has nothing to look for (the
engine's sender reads back by key before any retry), so a call of first attempts reads
nothing back. Then accounts, tax rate, tracking, contacts and items are ensured, and the
objects written collection by collection (manual journals, bank transactions, invoices,
credit notes, then payments), each in one PUT answered element by element. A document
refused because its number is taken (a posting released after a partial write, which
starts over at attempt 1) is read back then and finished. A posting is written only
when its document and every payment are in; ``find`` says the same, so an invoice whose
payments were lost is finished on the next attempt rather than written twice.

Once the organisation's chart, contacts and items are known, 50 first attempts of
per-order sales cost one call (a PUT of bank transactions) under the bank transaction
sales form, the default, two (invoices, then their payments) under the invoice form.
What the books read of the chart is remembered by the destination for the next books
opened on the organisation (``memory``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from salesync.connectors.destination import DestinationCapabilities, Posting, Written
from salesync.connectors.xero import errors, problems, readback
from salesync.connectors.xero.accounts import Chart, Usage
from salesync.connectors.xero.batches import BATCH, runs
from salesync.connectors.xero.buyers import contacts_for
from salesync.connectors.xero.client import XeroClient
from salesync.connectors.xero.forms import (
    BankForm,
    DocumentForm,
    Form,
    JournalForm,
    SalesForm,
    bank_form,
    plan,
    takings_form,
)
from salesync.connectors.xero.lists import Directory, Lists
from salesync.connectors.xero.memory import ChartMemory
from salesync.connectors.xero.settings import XeroSettings
from salesync.connectors.xero.translate import (
    BANK_TRANSACTION,
    KINDS,
    Existing,
    bank_transaction_json,
    document_json,
    errors_of,
    journal_json,
    payment_json,
)
from salesync.domain.errors import ErrorKind, MappingError, SyncError

NAME = "xero"
CAPABILITIES = DestinationCapabilities(
    forms=frozenset({"invoice", "payment", "credit_note", "manual_journal", "bank_transaction"}),
    batch_size=BATCH,
    find_batch=BATCH,
    reference_limit=255,
    itemized=True,
    ensures=frozenset({"accounts", "contacts", "items", "tracking"}),
    grouped=True,
)


class XeroBooks:
    """Posts into one organisation through one client."""

    def __init__(
        self,
        client: XeroClient,
        settings: XeroSettings,
        directory: Directory | None = None,
        memory: ChartMemory | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.memory = memory
        self.chart = Chart(client, settings, memory)
        self.lists = Lists(
            client,
            create_items=settings.account_policy == "create",
            directory=directory or Directory(),
        )
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
        """What Xero holds under each key."""
        return readback.existing(self.client, keys)

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        return _Call(self, list(postings)).run()

    def form(self, posting: Posting, sales_form: SalesForm | None = None) -> Form:
        """The form that carries ``posting`` under these settings (or ``sales_form``)."""
        return plan(
            posting,
            sales_form=sales_form or self.settings.sales_form,
            cash_contact=self.settings.cash_contact,
            each_customer=self.settings.customers == "each",
        )

    def batch_group(self, posting: Posting) -> str:
        """Each kind of object is written with a call of its own (invoices and credit
        notes with a further one for their payments): a batch of one kind costs one. A
        journal moving money in bank accounts is only known to become a bank transaction
        or a paid invoice once the chart is read; its group stays ``journal``."""
        form = self.form(posting)
        if isinstance(form, DocumentForm):
            return form.kind
        return "bank_transaction" if isinstance(form, BankForm) else "journal"

    def base_currency(self) -> str:
        """The organisation's base currency (which Xero never changes once set)."""
        if self._base_currency is None and self.memory is not None:
            self._base_currency = self.memory.recall("BaseCurrency")
        if self._base_currency is None:
            found = self.client.get("Organisation").get("Organisations") or [{}]
            self._base_currency = str(found[0].get("BaseCurrency", ""))
            if self.memory is not None:
                self.memory.keep("BaseCurrency", self._base_currency)
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
    found_prefixes: dict[str, str] = field(default_factory=dict)
    """What kind of document each posting found unfinished is (``Invoice``...)."""
    codes: dict[str, str] = field(default_factory=dict)

    def run(self) -> list[Written]:
        for posting in self.postings:
            self.forms[posting.key] = self._plan(posting.key)
        retried = [p.key for p in self.postings if p.attempt > 1]
        unfinished = self._read_back(retried) if retried else set()
        try:
            self._ensure(unfinished)
            self._write_journals()
            self._write_bank_transactions()
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

    def _plan(self, key: str, sales_form: SalesForm | None = None) -> Form:
        posting = next(p for p in self.postings if p.key == key)
        return self.books.form(posting, sales_form)

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
            self.results.setdefault(key, Written(key, error=problems.held(found, self.forms[key])))
        self.problems.clear()

    def _read_back(self, keys: list[str]) -> set[str]:
        """Report what is complete; the keys of documents still missing payments.

        A journal found as an unfinished document is taken as one too: under the bank
        transaction form, a journal on several bank accounts is written as a paid invoice
        (``_carry_banks``), which ``_confirm`` checks once the chart says which are banks.
        """
        unfinished: set[str] = set()
        documents = {kind.prefix for kind in KINDS.values()}
        for key, found in self.books.existing(keys).items():
            form = self._matching(key, found)
            if found.complete:
                self.results[key] = Written(key, ref=found.ref)
            elif (isinstance(form, DocumentForm) and found.prefix == KINDS[form.kind].prefix) or (
                isinstance(form, JournalForm)
                and found.prefix in documents
                and self.books.settings.sales_form == "bank_transaction"
            ):
                self.forms[key] = form
                self.document_ids[key] = found.id
                self.found_prefixes[key] = found.prefix
                unfinished.add(key)
            else:
                self._fail(key, problems.changed_form(form))
        return unfinished

    def _confirm(self, unfinished: set[str]) -> None:
        """Hold each posting found unfinished whose form is not the document found."""
        for key in sorted(unfinished):
            form = self.forms[key]
            if not (
                isinstance(form, DocumentForm)
                and KINDS[form.kind].prefix == self.found_prefixes.get(key)
            ):
                self._fail(key, problems.changed_form(form))
                unfinished.discard(key)

    def _matching(self, key: str, found: Existing) -> Form:
        """The form of what an earlier attempt left unfinished: a bank transaction's
        posting may have fallen back to an invoice then (its tender's account was no bank)."""
        form = self.forms[key]
        if isinstance(form, BankForm) and not found.complete:
            return self._plan(key, "invoice")
        return form

    def _ensure(self, unfinished: set[str]) -> None:
        """Accounts, tracking, tax rate, contacts and items; postings that cannot have
        theirs are answered with why."""
        self._ensure_accounts()
        self._confirm(unfinished)
        self._decide_contacts()
        chart = self.books.chart
        named: list[DocumentForm | BankForm] = []
        for key in self._open():
            form = self.forms[key]
            try:
                chart.tracking(form.location_id)
            except SyncError as exc:
                self._fail(key, exc)
            if not isinstance(form, JournalForm):
                named.append(form)
            elif form.currency != self.books.base_currency():
                self._fail(key, problems.foreign_journal(form, self.books.base_currency()))
            if isinstance(form, BankForm) and form.bank in self.codes:
                held = self._held_currency(form.bank)
                if form.currency != held:
                    self._fail(key, problems.foreign_bank(form, self.codes[form.bank], held))
        if named:
            try:
                chart.no_tax_type()
            except SyncError as exc:
                for form in named:
                    self._fail(form.key, exc)
        new = [f for f in named if f.key not in unfinished and f.key not in self.problems]
        refused = self.books.lists.contacts({f.contact for f in new})
        for form in new:
            problem = refused.get(form.contact.name.casefold())
            if problem is not None:
                self._fail(form.key, problem)
        self.books.lists.items({ln.item for f in new for ln in f.lines if ln.item is not None})
        self._settle_problems()

    def _decide_contacts(self) -> None:
        """The contact of each sale the mapping's customer policy decides (``buyers``)."""
        open_keys = set(self._open())
        naming = [
            p
            for p in self.postings
            if p.key in open_keys and not isinstance(self.forms[p.key], JournalForm)
        ]
        for key, outcome in contacts_for(self.books.lists, naming).items():
            if isinstance(outcome, SyncError):
                self._fail(key, outcome)
            else:
                self.forms[key] = replace(self.forms[key], contact=outcome)

    def _ensure_accounts(self) -> None:
        self.codes, refused = self._resolve()
        if self.books.settings.sales_form == "bank_transaction" and self._carry_banks(refused):
            self.codes, refused = self._resolve()
        for key in self._open():
            form = self.forms[key]
            accounts = {line.account for line in form.lines}
            if isinstance(form, DocumentForm):
                accounts |= {t.account for t in form.tenders}
            elif isinstance(form, BankForm):
                accounts.add(form.bank)
            for account in sorted(accounts & refused.keys()):
                self._fail(key, refused[account])

    def _resolve(self) -> tuple[dict[str, str], dict[str, MappingError]]:
        needs: dict[str, Usage] = {}
        for key in self._open():
            form = self.forms[key]
            for line in form.lines:
                needs.setdefault(line.account, Usage()).journal |= isinstance(form, JournalForm)
            if isinstance(form, DocumentForm):
                for tender in form.tenders:
                    needs.setdefault(tender.account, Usage()).payments = True
            elif isinstance(form, BankForm):
                needs.setdefault(form.bank, Usage()).bank = True
        return self.books.chart.resolve(needs)

    def _carry_banks(self, refused: dict[str, MappingError]) -> bool:
        """Fit the forms to which accounts are banks; whether any changed.

        A sale whose tender's account is not a bank (it exists as another type: one
        created while sales were invoices, or the merchant's own, mapped), or is a bank
        in another currency than the sale's (Xero keeps receive money in its bank
        account's currency), falls back to an invoice paid into it, as under the invoice
        form. A journal on exactly one bank account becomes a bank transaction in it; on
        several, an invoice paid into each (or a credit note refunded from each) when the
        money moves one way, else it is refused (no one Xero object carries it).
        """
        chart = self.books.chart
        changed = False
        for key in self._open():
            form = self.forms[key]
            if isinstance(form, BankForm):
                problem = refused.get(form.bank)
                foreign = (
                    problem is None
                    and form.bank in self.codes
                    and self._held_currency(form.bank) != form.currency
                )
                if foreign or (problem is not None and problem.code == "account_not_bank"):
                    self.forms[key] = self._plan(key, "invoice")
                    changed = True
            elif isinstance(form, JournalForm):
                banks = sorted(
                    {
                        ln.account
                        for ln in form.lines
                        if ln.account in self.codes and chart.is_bank(self.codes[ln.account])
                    }
                )
                if len(banks) == 1:
                    self.forms[key] = bank_form(form, banks[0])
                    changed = True
                elif banks:
                    takings = takings_form(form, banks)
                    if takings is None:
                        codes = [self.codes[b] for b in banks]
                        self._fail(key, problems.several_banks(form, codes))
                    else:
                        self.forms[key] = takings
                        changed = True
        return changed

    def _held_currency(self, bank: str) -> str:
        """The currency Xero keeps salesync account ``bank``'s bank account in."""
        return self.books.chart.currency(self.codes[bank]) or self.books.base_currency()

    def _write_journals(self) -> None:
        forms = [f for k in self._pending() if isinstance(f := self.forms[k], JournalForm)]
        if not forms:
            return
        chart = self.books.chart
        elements = [
            journal_json(f, codes=self.codes, tracking=chart.tracking(f.location_id)) for f in forms
        ]
        answers = self._put("ManualJournals", elements, "journals", [f.key for f in forms])
        for form, answer in zip(forms, answers, strict=True):
            messages = errors_of(answer)
            if messages or not answer.get("ManualJournalID"):
                self._refused(form, messages, "put:ManualJournals")
            else:
                ref = Existing("ManualJournal", str(answer["ManualJournalID"]), True).ref
                self.results[form.key] = Written(form.key, ref=ref)

    def _write_bank_transactions(self) -> None:
        forms = [f for k in self._pending() if isinstance(f := self.forms[k], BankForm)]
        if not forms:
            return
        books = self.books
        items = books.lists.item_codes
        elements = [
            bank_transaction_json(
                form,
                codes=self.codes,
                tax_type=books.chart.no_tax_type(),
                tracking=books.chart.tracking(form.location_id),
                contact_id=books.lists.contact_id(form.contact) or "",
                items=items,
            )
            for form in forms
        ]
        answers = self._put("BankTransactions", elements, "bank", [f.key for f in forms])
        for form, answer in zip(forms, answers, strict=True):
            messages = errors_of(answer)
            if messages or not answer.get("BankTransactionID"):
                self._refused(form, messages, "put:BankTransactions")
            else:
                ref = Existing(BANK_TRANSACTION, str(answer["BankTransactionID"]), True).ref
                self.results[form.key] = Written(form.key, ref=ref)

    def _put(
        self, collection: str, elements: list[dict[str, Any]], step: str, keys: list[str]
    ) -> list[dict[str, Any]]:
        """Create ``elements`` (one per key) in as few requests as Xero's size limit
        allows; their answers, in order."""
        answers: list[dict[str, Any]] = []
        for run in runs(collection, elements):
            answers += self.books.client.write(
                "PUT", collection, collection, elements[run], step=step, keys=keys[run]
            )
        return answers

    def _refused(self, form: Form, messages: list[str], operation: str) -> None:
        error = errors.element_error(
            messages, subject=form.subject, operation=operation, documents=form.documents
        )
        if not isinstance(form, JournalForm) and any("contact" in m.lower() for m in messages):
            self.books.lists.forget_contact(form.contact)
        if error.kind is ErrorKind.MAPPING:
            # What the books know of the chart may be out of date: read it again next time.
            self.books.chart.forget()
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
        items = books.lists.item_codes
        elements = [
            document_json(
                form,
                codes=self.codes,
                tax_type=books.chart.no_tax_type(),
                tracking=books.chart.tracking(form.location_id),
                contact_id=books.lists.contact_id(form.contact) or "",
                items=items,
            )
            for form in forms
        ]
        answers = self._put(collection, elements, kind, [f.key for f in forms])
        taken: list[tuple[DocumentForm, list[str]]] = []
        for form, answer in zip(forms, answers, strict=True):
            messages = errors_of(answer)
            if answer.get(id_field) and not messages:
                self.document_ids[form.key] = str(answer[id_field])
            elif any(_NUMBER_TAKEN.search(m) for m in messages):
                taken.append((form, messages))
            else:
                self._refused(form, messages, f"put:{collection}")
        if taken:
            self._finish_taken(taken, unfinished, f"put:{collection}")

    def _finish_taken(
        self, taken: list[tuple[DocumentForm, list[str]]], unfinished: set[str], operation: str
    ) -> None:
        """Documents refused because their number is taken: most likely an earlier attempt
        of the posting wrote them (a released posting starts over at attempt 1). Read them
        back and finish them; a number held by another kind of object stays refused."""
        found = self.books.existing([form.key for form, _ in taken])
        for form, messages in taken:
            there = found.get(form.key)
            if there is None or there.prefix != KINDS[form.kind].prefix:
                self._refused(form, messages, operation)
            elif there.complete:
                self.results[form.key] = Written(form.key, ref=there.ref)
            else:
                self.document_ids[form.key] = there.id
                unfinished.add(form.key)

    def _pay(self, unfinished: set[str]) -> None:
        """Pay (or refund) every tender not yet paid of the documents written or found."""
        forms = [
            f
            for k in self._pending()
            if isinstance(f := self.forms[k], DocumentForm) and k in self.document_ids
        ]
        paid = readback.paid_references(
            self.books.client, [self.document_ids[f.key] for f in forms if f.key in unfinished]
        )
        elements: list[dict[str, Any]] = []
        owners: list[DocumentForm] = []
        for form in forms:
            for index in range(len(form.tenders)):
                if form.payment_reference(index) not in paid:
                    ids = self.document_ids[form.key]
                    elements.append(payment_json(form, index, ids, self.codes))
                    owners.append(form)
        answers = self._put("Payments", elements, "payments", [f.key for f in owners])
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


_NUMBER_TAKEN = re.compile(r"must be unique", re.IGNORECASE)
