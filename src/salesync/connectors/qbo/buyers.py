"""The customer each sale is recorded on, decided by the mapping's customer policy.

A sale whose posting carries a ``CustomerIntent`` is looked up by its buyer's email among
the company's customers (``PrimaryEmailAddr`` is filterable with ``=``:
https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/customer);
one found is the sale's customer whatever the rule. Otherwise the rule decides: the named
customer (``match_by_email``, ``named_customer``) or a new customer from the buyer's name
and email (``create``), both ensured by display name as the walk-in customer is; under
``error`` the posting is refused with the mapping error, and the engine holds it.

Each email is read once per ``post`` call, every email of the call in one batch request:
a company's customers change under
salesync's feet (a bookkeeper adds the one a held sale waits for), so what a lookup found
is not kept beyond the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from salesync.connectors.destination import Posting
from salesync.connectors.qbo.client import BATCH_MAX, Json, QboClient, quoted
from salesync.connectors.qbo.errors import PROVIDER, fault_error, faults_in
from salesync.connectors.qbo.refs import Ref, ref_of
from salesync.domain.documents import Sale
from salesync.domain.errors import MappingError, SyncError, TransientError
from salesync.rules.customers import (
    CustomerDecision,
    ExistingCustomer,
    NewCustomer,
    email_key,
)

DISPLAY_NAME_MAX = 500


def display_name(decision: CustomerDecision) -> str:
    """The display name a named or new customer is ensured under (no colons in QBO)."""
    if isinstance(decision, ExistingCustomer):
        raise ValueError("an existing customer is referred to by id")
    if isinstance(decision, NewCustomer):
        name = " ".join(decision.name.split()) or (decision.email or "").strip()
    else:
        name = decision.name
    return name.replace(":", "-")[:DISPLAY_NAME_MAX]


Decided = tuple[CustomerDecision, Ref | None] | SyncError
"""A sale's customer: the decision and the customer found by email, or why there is none."""


def to_ensure(decided: Iterable[Decided]) -> tuple[set[str], dict[str, str]]:
    """The display names of the named and new customers decided (not found by email),
    and the email of each new one, by display name."""
    names: set[str] = set()
    emails: dict[str, str] = {}
    for outcome in decided:
        if isinstance(outcome, tuple) and outcome[1] is None:
            names.add(name := display_name(outcome[0]))
            if isinstance(outcome[0], NewCustomer) and outcome[0].email:
                emails[name] = outcome[0].email
    return names, emails


def customer_of(
    decided: Decided | None, settings_name: str | None, customers: Mapping[str, Ref | SyncError]
) -> Ref | SyncError | None:
    """The customer a posting's transaction names: the mapping's decision for its sale,
    else the one the connection's settings name (if any)."""
    if decided is None:
        return customers[settings_name] if settings_name else None
    if isinstance(decided, SyncError):
        return decided
    decision, found = decided
    return found or customers[display_name(decision)]


class Buyers:
    """Decides, for one ``post`` call, the customer of each sale that carries an intent."""

    def __init__(self, client: QboClient) -> None:
        self.client = client
        self._found: dict[str, Json | None] = {}
        """The active customer holding each email looked up (by ``email_key``), if any."""

    def decide(self, postings: Iterable[Posting]) -> dict[str, Decided]:
        """By posting key, the decision for each posting whose one sale carries an intent,
        with the customer found by email; or the mapping error it is refused with."""
        wanted = [(p, sale) for p in postings if (sale := _sale(p)) is not None]
        self._look_up(p.customers[s.id].email for p, s in wanted)
        known = {e: str(obj["Id"]) for e, obj in self._found.items() if obj is not None}
        out: dict[str, Decided] = {}
        for posting, sale in wanted:
            try:
                decision = posting.customers[sale.id].decide(sale, known)
            except MappingError as exc:
                out[posting.key] = exc
                continue
            found = None
            if isinstance(decision, ExistingCustomer):
                email = str(posting.customers[sale.id].email)
                found = ref_of("Customer", self._found[email_key(email)] or {})
            out[posting.key] = (decision, found)
        return out

    def _look_up(self, emails: Iterable[str | None]) -> None:
        pending: dict[str, str] = {}
        for email in sorted({e.strip() for e in emails if e and e.strip()}):
            if email_key(email) not in self._found:
                pending.setdefault(email_key(email), email)
        written = list(pending.values())
        # One query per email, up to BATCH_MAX of them in one batch call: a batch may
        # carry Query items (https://developer.intuit.com/app/developer/qbo/docs/api/
        # accounting/all-entities/batch), so a batch of 30 sales costs one lookup call.
        for start in range(0, len(written), BATCH_MAX):
            chunk = written[start : start + BATCH_MAX]
            items = [
                {
                    "bId": f"c{n}",
                    "Query": f"select * from Customer where PrimaryEmailAddr = {quoted(email)}",  # noqa: S608 - QBO's query language
                }
                for n, email in enumerate(chunk)
            ]
            answers = self.client.batch(items, None, operation="find_customers")
            for n, email in enumerate(chunk):
                self._found[email_key(email)] = _first_holder(answers.get(f"c{n}"), email)


def _first_holder(answer: Json | None, email: str) -> Json | None:
    """The customer one Query item found holding ``email`` (the query compares as written;
    the lowest Id wins when several share it). A failed item fails the lookup: a customer
    must not be created beside one the books have."""
    faults = faults_in(answer, 200)
    if faults:
        raise fault_error(faults[0], operation="find_customers")
    response = answer.get("QueryResponse") if answer is not None else None
    if not isinstance(response, dict):
        raise TransientError(
            "qbo customer lookup answered no QueryResponse",
            code="missing_batch_item",
            provider=PROVIDER,
            operation="find_customers",
        )
    key = email_key(email)
    matching = sorted(
        (
            r
            for r in response.get("Customer") or []
            if isinstance(r, dict)
            and email_key(str((r.get("PrimaryEmailAddr") or {}).get("Address", ""))) == key
        ),
        key=lambda r: int(r["Id"]) if str(r.get("Id", "")).isdigit() else 0,
    )
    return matching[0] if matching else None


def _sale(posting: Posting) -> Sale | None:
    """The one sale of a posting carrying its intent (a per-order sale)."""
    if len(posting.documents) != 1:
        return None
    document = posting.documents[0]
    if isinstance(document, Sale) and document.id in posting.customers:
        return document
    return None
