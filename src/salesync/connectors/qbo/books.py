"""One connection's QuickBooks Online company as books: post in batches, find by key.

A ``post`` call of up to 30 postings:

1. finds (or creates) every account, product, customer, location and class the postings
   refer to, the customers not seen yet created in one batch call of their own; a posting
   whose references cannot be had is refused alone, with an error that says what to fix;
2. creates each remaining posting's transaction in one batch call (at most 30 items),
   under a ``requestid`` derived from the batch, ``DocNumber`` = ``reference(key, 21)`` and
   the full key in ``PrivateNote``; answers are read item by item, by bId;
3. for invoiced sales, pays each invoice with one Payment per tender in a second batch.

``find`` reads transactions back by ``DocNumber`` across the forms in one batch of
queries. The number is a 95-bit digest of the key, so a transaction holding it is this
posting's, unless its PrivateNote names another salesync key: a bookkeeper editing the
memo must not make salesync post the sale twice. An invoice counts as written once its
payments leave nothing open; one found with a balance is remembered, so the next
``post`` pays it rather than invoicing again.

A "duplicate document number" answer (when the company checks numbers) is read the
same way: the posting, written earlier under a lost answer, counts as written; a number
held for another key is a conflict a person looks at.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from salesync.connectors.destination import DestinationCapabilities, Posting, Written
from salesync.connectors.qbo.buyers import Buyers, customer_of, to_ensure
from salesync.connectors.qbo.client import BATCH_MAX, Json, QboClient, quoted
from salesync.connectors.qbo.customers import Customers
from salesync.connectors.qbo.errors import PROVIDER, fault_error, faults_in
from salesync.connectors.qbo.lists import Lists
from salesync.connectors.qbo.refs import RealmLists, Ref, batch_requestid
from salesync.connectors.qbo.settings import QboSettings
from salesync.connectors.qbo.translate import (
    FORMS,
    Refs,
    Shape,
    doc_number,
    noted_key,
    payments,
    shape,
    transaction,
)
from salesync.domain.errors import ErrorKind, SyncError, TransientError, ValidationError

NAME = "qbo"
NAMING_FORMS = frozenset({"SalesReceipt", "Invoice"})
"""The forms that name the sale's customer."""
FIND_PER_QUERY = 25
"""DocNumbers per ``IN (...)`` query: five forms x six queries fill one batch of 30."""
CAPABILITIES = DestinationCapabilities(
    forms=frozenset(
        {"sales_receipt", "refund_receipt", "invoice", "payment", "journal_entry", "deposit"}
    ),
    batch_size=BATCH_MAX,
    find_batch=FIND_PER_QUERY * (BATCH_MAX // len(FORMS)),
    reference_limit=21,
    itemized=True,
    ensures=frozenset({"accounts", "items", "customers", "departments", "classes"}),
)


@dataclass(frozen=True, slots=True)
class _Plan:
    posting: Posting
    shape: Shape
    refs: Refs


def _open(invoice: Json) -> bool:
    """Whether an invoice still has a balance to pay."""
    return Decimal(str(invoice.get("Balance") or 0)) != 0


def _form_changed(plan: _Plan, invoice: Json) -> SyncError:
    """An earlier attempt left an open invoice under this posting's number, and the sales
    form has changed since: writing the sale again in the new form would put it in the
    books twice, so a person decides (as Xero's ``changed_form``)."""
    form = plan.shape.form
    return ValidationError(
        f"{plan.posting.key}: an open invoice {invoice.get('Id')} holds this posting, whose "
        f"form is now {form}",
        user_message=f"QuickBooks holds an unpaid invoice for this sale, written while the "
        f"sales form setting was 'invoice'; it is now set to write a {form}, and writing "
        "the sale again that way would count it twice. Set the sales form back to "
        "'invoice' and release the posting so salesync records its payments, or receive "
        "the payment on that invoice in QuickBooks and release it.",
        code="form_changed",
        provider=PROVIDER,
        operation="post",
    )


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class QboBooks:
    """Posts into and reads back from one QuickBooks Online company."""

    def __init__(
        self,
        client: QboClient,
        settings: QboSettings,
        realm: RealmLists,
        context: Mapping[str, Any],
    ) -> None:
        self.client = client
        self.settings = settings
        self.realm = realm
        self.context = dict(context)
        self.lists = Lists(client, settings, realm, context)
        self.customers = Customers(self.lists)
        self._unpaid: dict[str, Json] = {}
        """Invoices ``find`` saw with a balance left, by posting key."""

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> DestinationCapabilities:
        return CAPABILITIES

    def close(self) -> None:
        self.client.close()

    def batch_group(self, posting: Posting) -> str:
        """One batch call carries any mix of transactions."""
        return ""

    # -- post ----------------------------------------------------------------------------

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        written: list[Written] = []
        for chunk in _chunks(postings, BATCH_MAX):
            written += self._post(chunk)
        return written

    def _post(self, postings: Sequence[Posting]) -> list[Written]:
        results: dict[str, Written] = {}
        plans = self._plan(postings, results)
        invoices = self._unfinished(plans, results)
        """Invoiced postings: the plan, the invoice, and whether it was created just now."""
        fresh = [p for p in plans if p.posting.key not in invoices | results.keys()]
        outcomes = self._create(fresh)
        taken = [p.posting.key for p in fresh if _is_duplicate(outcomes[p.posting.key])]
        earlier = self._lookup(taken) if taken else {}
        for p in fresh:
            key = p.posting.key
            outcome = outcomes[key]
            created = not isinstance(outcome, SyncError)
            if isinstance(outcome, SyncError):
                if key not in earlier:
                    if outcome.code in ("inactive_reference", "stale_object"):
                        # What was read of the company is out of date: read it again.
                        self.realm.forget()
                    results[key] = self._refused(p.posting, outcome)
                    continue
                form, outcome = earlier[key]
                if form == "Invoice" and p.shape.form != "Invoice" and _open(outcome):
                    results[key] = self._refused(p.posting, _form_changed(p, outcome))
                    continue
            else:
                form = p.shape.form
            if form == "Invoice" and p.shape.form == "Invoice":
                invoices[key] = (p, outcome, created)
            else:
                results[key] = Written(key, ref=f"{form}:{outcome['Id']}")
        if invoices:
            results |= self._pay(invoices)
        return [results[p.key] for p in postings]

    def _unfinished(
        self, plans: Sequence[_Plan], results: dict[str, Written]
    ) -> dict[str, tuple[_Plan, Json, bool]]:
        """The open invoices ``find`` saw for ``plans``, to be paid rather than written
        again; one whose posting is no longer an invoice (the sales form changed) is
        refused in ``results``."""
        invoices: dict[str, tuple[_Plan, Json, bool]] = {}
        for p in plans:
            unpaid = self._unpaid.get(p.posting.key)
            if unpaid is None:
                continue
            if p.shape.form == "Invoice":
                invoices[p.posting.key] = (p, unpaid, False)
            else:
                del self._unpaid[p.posting.key]
                results[p.posting.key] = self._refused(p.posting, _form_changed(p, unpaid))
        return invoices

    def _plan(self, postings: Sequence[Posting], results: dict[str, Written]) -> list[_Plan]:
        """Each posting's form and references; those lacking one are refused in
        ``results``. A whole-call failure (throttled, signed out) raises."""
        accounts = self.lists.accounts(ln.account for p in postings for ln in p.entry.lines)
        shaped: list[tuple[Posting, Shape, dict[str, Ref]]] = []
        for posting in postings:
            mine = {ln.account: accounts[ln.account] for ln in posting.entry.lines}
            problems = [v for v in mine.values() if isinstance(v, SyncError)]
            if problems:
                results[posting.key] = self._refused(posting, *problems)
                continue
            refs = {name: ref for name, ref in mine.items() if isinstance(ref, Ref)}
            shaped.append((posting, shape(posting, self.settings, refs), refs))
        items = self.lists.items({a: refs[a] for _, s, refs in shaped for a in s.item_accounts})
        decided = Buyers(self.client).decide(p for p, s, _ in shaped if s.form in NAMING_FORMS)
        names, emails = to_ensure(decided.values())
        names |= {s.customer for p, s, _ in shaped if s.customer and p.key not in decided}
        customers = self.customers.named(names, emails)
        tracking = self.lists.tracking_class() if shaped else None
        places = {p.entry.location_id for p, _, _ in shaped}
        departments = {place: self.lists.department(place) for place in places}
        plans: list[_Plan] = []
        for posting, form, refs in shaped:
            wanted: list[Ref | SyncError | None] = [items[a] for a in sorted(form.item_accounts)]
            wanted += [
                customer_of(decided.get(posting.key), form.customer, customers),
                departments[posting.entry.location_id],
                tracking,
            ]
            problems = [v for v in wanted if isinstance(v, SyncError)]
            if problems:
                results[posting.key] = self._refused(posting, *problems)
                continue
            customer, department, klass = (v if isinstance(v, Ref) else None for v in wanted[-3:])
            own_items = {a: items[a] for a in form.item_accounts}
            plans.append(
                _Plan(
                    posting,
                    form,
                    Refs(
                        refs,
                        {a: r for a, r in own_items.items() if isinstance(r, Ref)},
                        customer,
                        department,
                        klass,
                    ),
                )
            )
        return plans

    def _create(self, plans: Sequence[_Plan]) -> dict[str, Json | SyncError]:
        """Each plan's transaction in one batch call, by posting key."""
        if not plans:
            return {}
        items = [
            {
                "bId": str(n),
                "operation": "create",
                p.shape.form: transaction(p.posting, p.shape, p.refs),
            }
            for n, p in enumerate(plans)
        ]
        rid = self._requestid("b", items, (r for p in plans for r in p.refs.all()))
        answers = self.client.batch(items, rid)
        outcomes = {
            p.posting.key: self._item(answers.get(str(n)), p.shape.form, p.posting)
            for n, p in enumerate(plans)
        }
        self._spend(rid, outcomes.values())
        return outcomes

    def _requestid(self, prefix: str, items: list[Json], refs: Iterable[Ref]) -> str:
        """The batch's requestid (at most 36 characters): a digest of what is sent and of
        the version of everything it refers to, so the same request sent again gets QBO's
        first answer instead of a second transaction.

        QBO replays refusals too. A request whose answer refused anything is not sent as
        is again (``_spend``), and one sent after a referenced object was edited (an
        account reactivated) differs by its versions, so a fix made in QuickBooks is seen.
        """
        versions = sorted({f"{r.entity}:{r.id}:{r.sync_token}" for r in refs})
        return batch_requestid(prefix, [items, versions], self.realm.spent)

    def _spend(self, rid: str, outcomes: Iterable[Json | SyncError]) -> None:
        if any(isinstance(o, SyncError) for o in outcomes):
            self.realm.spent.add(rid)

    def _item(self, answer: Json | None, entity: str, posting: Posting) -> Json | SyncError:
        """One batch item's object, or its fault as a salesync error."""
        context = self._context(posting)
        faults = faults_in(answer, 200)
        if faults:
            return fault_error(faults[0], operation=f"create:{entity}", **context)
        found = answer.get(entity) if answer is not None else None
        if isinstance(found, dict) and found.get("Id"):
            return found
        return TransientError(
            f"qbo batch answered no {entity} for {posting.key}",
            user_message="QuickBooks' answer left this posting out, so salesync cannot tell "
            "whether it was saved; it checks QuickBooks before trying again.",
            code="missing_batch_item",
            provider=PROVIDER,
            operation=f"create:{entity}",
            **context,
        )

    # -- invoices and their payments -----------------------------------------------------

    def _pay(self, invoices: Mapping[str, tuple[_Plan, Json, bool]]) -> dict[str, Written]:
        """Pay each invoice with its tenders not yet paid; one Written per posting."""
        results: dict[str, Written] = {}
        done = self._paid([(p, inv) for p, inv, created in invoices.values() if not created])
        due: list[tuple[_Plan, Json, str, Json]] = []
        for plan, invoice, _ in invoices.values():
            for payment_key, payload in payments(
                plan.posting, plan.shape, plan.refs, str(invoice["Id"])
            ):
                if payment_key not in done:
                    due.append((plan, invoice, payment_key, payload))
        failed: dict[str, SyncError] = {}
        for chunk in _chunks(due, BATCH_MAX):
            items = [
                {"bId": str(n), "operation": "create", "Payment": payload}
                for n, (_, _, _, payload) in enumerate(chunk)
            ]
            refs = (r for plan, _, _, _ in chunk for r in plan.refs.all())
            rid = self._requestid("p", items, refs)
            try:
                answers = self.client.batch(items, rid, operation="batch:Payment")
            except SyncError as exc:
                # The invoices stand; what they lack is retried after a read-back.
                for plan, _, _, _ in chunk:
                    failed.setdefault(plan.posting.key, exc)
                continue
            outcomes = [
                (plan, self._item(answers.get(str(n)), "Payment", plan.posting))
                for n, (plan, _, _, _) in enumerate(chunk)
            ]
            self._spend(rid, (outcome for _, outcome in outcomes))
            for plan, outcome in outcomes:
                if isinstance(outcome, SyncError):
                    failed.setdefault(plan.posting.key, outcome)
        for key, (plan, invoice, _) in invoices.items():
            self._unpaid.pop(key, None)
            if key in failed:
                results[key] = self._refused(plan.posting, failed[key])
            else:
                results[key] = Written(key, ref=f"Invoice:{invoice['Id']}")
        return results

    def _paid(self, invoices: Sequence[tuple[_Plan, Json]]) -> set[str]:
        """The payment keys already in the books for invoices written before.

        Payments have no DocNumber; they are read by customer and day (both filterable),
        every page of them, which only a recovery after a failed call needs."""
        wanted = {(str(inv["CustomerRef"]["value"]), str(inv["TxnDate"])) for _, inv in invoices}
        found: set[str] = set()
        for customer, day in sorted(wanted):
            where = f" where CustomerRef = {quoted(customer)} and TxnDate = {quoted(day)}"
            rows = self.client.query_all("Payment", where)
            found |= {k for k in (noted_key(r.get("PrivateNote")) for r in rows) if k}
        return found

    # -- find ----------------------------------------------------------------------------

    def find(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for key, (form, obj) in self._lookup(keys).items():
            if form == "Invoice" and _open(obj):
                self._unpaid[key] = obj
                continue
            found[key] = f"{form}:{obj['Id']}"
        return found

    def _lookup(self, keys: Sequence[str]) -> dict[str, tuple[str, Json]]:
        """The transactions salesync wrote under ``keys``, whatever their form."""
        wanted = {doc_number(key): key for key in keys}
        found: dict[str, tuple[str, Json]] = {}
        for chunk in _chunks(sorted(wanted), CAPABILITIES.find_batch):
            queries = {
                f"{form[:2]}{n}": (form, part)
                for form in FORMS
                for n, part in enumerate(_chunks(chunk, FIND_PER_QUERY))
            }
            items = [
                {
                    "bId": bid,
                    "Query": f"select * from {form} where DocNumber IN "  # noqa: S608 - QBO's query language; values escaped by quoted()
                    f"({', '.join(quoted(r) for r in part)}) maxresults 1000",
                }
                for bid, (form, part) in queries.items()
            ]
            answers = self.client.batch(items, None, operation="find")
            for bid, (form, _) in queries.items():
                for row in self._rows(answers.get(bid), form):
                    key = wanted.get(str(row.get("DocNumber")))
                    if key is not None and noted_key(row.get("PrivateNote")) in (None, key):
                        found[key] = (form, row)
        return found

    def _rows(self, answer: Json | None, form: str) -> list[Json]:
        """The rows one Query item found. A query that failed fails the whole read:
        nothing is known until every form was asked."""
        faults = faults_in(answer, 200)
        if faults:
            raise fault_error(faults[0], operation="find", **self.context)
        response = answer.get("QueryResponse") if answer is not None else None
        if not isinstance(response, dict):
            raise TransientError(
                f"qbo find answered no QueryResponse for {form}",
                code="missing_batch_item",
                provider=PROVIDER,
                operation="find",
                **self.context,
            )
        return [r for r in response.get(form, []) if isinstance(r, dict)]

    # -- errors --------------------------------------------------------------------------

    def _context(self, posting: Posting) -> dict[str, Any]:
        return {
            **self.context,
            "location": posting.entry.location_id,
            "documents": posting.document_ids,
        }

    def _refused(self, posting: Posting, error: SyncError, *more: SyncError) -> Written:
        """``error`` (and ``more``, each one said) for this posting alone: errors are
        shared by the postings of a batch, so each gets its own copy.

        The merchant reads every problem; the internal message stays the first one's, so
        postings that fail on the same first problem group into one ticket whatever else
        each of them also lacks (the rest are in the details)."""
        own = copy.copy(error)
        if more:
            said = dict.fromkeys(e.user_message for e in (error, *more))
            own.user_message = " ".join(said)
            own.details = {
                "problems": [dict(e.details) for e in (error, *more)],
                "messages": list(dict.fromkeys(e.message for e in (error, *more))),
            }
        own.location = posting.entry.location_id
        own.documents = posting.document_ids
        return Written(posting.key, error=own)


def _is_duplicate(outcome: Json | SyncError) -> bool:
    return isinstance(outcome, SyncError) and (
        outcome.kind is ErrorKind.CONFLICT and outcome.code == "duplicate_doc_number"
    )
