"""The contact each sale names, decided by the mapping's customer policy.

A sale whose posting carries a ``CustomerIntent`` is looked up by its buyer's email among
the organisation's contacts, every email of a ``post`` call in one filtered read
(``where=EmailAddress=="..."``:
https://developer.xero.com/documentation/api/accounting/contacts). A contact found is
the sale's whatever the rule; otherwise the rule decides: the named contact
(``match_by_email``, ``named_customer``) or a new contact from the buyer's name and email
(``create``), both found or created as the cash contact is; under ``error`` the posting is
refused with the mapping error, and the engine holds it.
"""

from __future__ import annotations

from collections.abc import Iterable

from salesync.connectors.destination import Posting
from salesync.connectors.xero.forms import Contact
from salesync.connectors.xero.lists import Lists
from salesync.domain.documents import Sale
from salesync.domain.errors import MappingError, SyncError
from salesync.rules.customers import ExistingCustomer, NewCustomer

CONTACT_NAME_MAX = 255


def contacts_for(lists: Lists, postings: Iterable[Posting]) -> dict[str, Contact | SyncError]:
    """By posting key, the contact of each posting whose one sale carries an intent, or
    the mapping error it is refused with."""
    wanted = [(p, sale) for p in postings if (sale := _sale(p)) is not None]
    found = lists.by_email(p.customers[s.id].email or "" for p, s in wanted)
    # Contacts are named on documents by name (``Lists`` knows each one's id by it), so
    # the "customer id" a found contact is decided by is its name.
    known = {email: contact.name for email, contact in found.items()}
    out: dict[str, Contact | SyncError] = {}
    for posting, sale in wanted:
        try:
            decision = posting.customers[sale.id].decide(sale, known)
        except MappingError as exc:
            out[posting.key] = exc
            continue
        if isinstance(decision, ExistingCustomer):
            out[posting.key] = Contact(decision.customer_id)
        elif isinstance(decision, NewCustomer):
            name = " ".join(decision.name.split()) or (decision.email or "").strip()
            out[posting.key] = Contact(name[:CONTACT_NAME_MAX], email=decision.email)
        else:
            out[posting.key] = Contact(decision.name[:CONTACT_NAME_MAX])
    return out


def _sale(posting: Posting) -> Sale | None:
    """The one sale of a posting carrying its intent (a per-order sale)."""
    if len(posting.documents) != 1:
        return None
    document = posting.documents[0]
    if isinstance(document, Sale) and document.id in posting.customers:
        return document
    return None
