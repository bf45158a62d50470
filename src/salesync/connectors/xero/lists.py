"""Contacts and items the documents point at: found in one read, created in one write.

A contact is looked up by name or number, so one customer is one contact however many
sales it has, and a contact the bookkeeper renamed is still found by its number
(https://developer.xero.com/documentation/api/accounting/contacts: names are unique among
active contacts). Items are created only under the ``create`` policy; without one a line
still posts to its account, just without the item code.

What is found or created is remembered per organisation (``Directory``) by the
destination, for every books it opens on it: a warm worker looks up only contacts it has
not met. Xero never deletes a contact, only archives it; a document refused over its
contact drops that contact from memory so the next attempt looks it up again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from salesync.connectors.xero import errors
from salesync.connectors.xero.client import XeroClient
from salesync.connectors.xero.forms import Contact, Item
from salesync.domain.errors import SyncError
from salesync.rules.customers import email_key

LOOKUP_CHUNK = 25
"""Values per ``where`` filter, keeping the URL well inside what servers accept."""


def where(field_name: str, values: Iterable[str]) -> str:
    """``field=="a" OR field=="b"`` with quotes escaped."""
    quoted = [v.replace("\\", "\\\\").replace('"', '\\"') for v in values]
    return " OR ".join(f'{field_name}=="{v}"' for v in quoted)


def _chunks(values: list[str], size: int = LOOKUP_CHUNK) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _messages(element: dict[str, Any]) -> list[str]:
    found = element.get("ValidationErrors") or []
    return [str(e.get("Message", "")) for e in found if isinstance(e, dict)]


@dataclass
class Directory:
    """The contact ids and item codes one organisation is known to have."""

    contact_ids: dict[str, str] = field(default_factory=dict)
    """By contact name, case-folded."""
    item_codes: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Lists:
    """Contact ids and item codes for one call's documents."""

    client: XeroClient
    create_items: bool
    directory: Directory = field(default_factory=Directory)

    @property
    def item_codes(self) -> set[str]:
        with self.directory.lock:
            return set(self.directory.item_codes)

    def _known(self, name: str) -> bool:
        with self.directory.lock:
            return name in self.directory.contact_ids

    def _learn(self, name: str, contact_id: str, *, replace: bool = True) -> None:
        with self.directory.lock:
            if replace or name not in self.directory.contact_ids:
                self.directory.contact_ids[name] = contact_id

    def contacts(self, wanted: Iterable[Contact]) -> dict[str, SyncError]:
        """Find or create ``wanted``; the error of each one that could not be had."""
        todo = {c.name.casefold(): c for c in wanted if not self._known(c.name.casefold())}
        if not todo:
            return {}
        for chunk in _chunks(sorted(todo)):
            contacts = [todo[name] for name in chunk]
            numbers = [c.number for c in contacts if c.number]
            clauses = [where("Name", [c.name for c in contacts])]
            if numbers:
                clauses.append(where("ContactNumber", numbers))
            found = self.client.get("Contacts", {"where": " OR ".join(clauses)})
            self._remember(found.get("Contacts") or [], contacts)
        missing = [c for key, c in sorted(todo.items()) if not self._known(key)]
        if not missing:
            return {}
        elements = [
            {
                "Name": c.name,
                **({"ContactNumber": c.number} if c.number else {}),
                **({"EmailAddress": c.email} if c.email else {}),
            }
            for c in missing
        ]
        saved = self.client.write(
            "PUT", "Contacts", "Contacts", elements, step="contacts", keys=[c.name for c in missing]
        )
        problems: dict[str, SyncError] = {}
        for contact, answer in zip(missing, saved, strict=True):
            if answer.get("ContactID") and not answer.get("HasErrors"):
                self._learn(contact.name.casefold(), str(answer["ContactID"]))
            else:
                problems[contact.name.casefold()] = errors.element_error(
                    _messages(answer),
                    subject=f"the contact {contact.name}",
                    operation="put:Contacts",
                )
        return problems

    def _remember(self, found: list[Any], wanted: list[Contact]) -> None:
        """The id of each wanted contact among ``found``: the one carrying its number
        first (the bookkeeper may have renamed it), else the one of its name."""
        by_number = {c.number: c.name.casefold() for c in wanted if c.number}
        names = {c.name.casefold() for c in wanted}
        contacts = [c for c in found if isinstance(c, dict) and c.get("ContactID")]
        for contact in contacts:
            key = by_number.get(str(contact.get("ContactNumber")))
            if key:
                self._learn(key, str(contact["ContactID"]), replace=False)
        for contact in contacts:
            key = str(contact.get("Name", "")).casefold()
            if key in names:
                self._learn(key, str(contact["ContactID"]), replace=False)

    def by_email(self, emails: Iterable[str]) -> dict[str, Contact]:
        """The active contact holding each of ``emails``, by ``email_key``; each one found
        is remembered by name, so ``contacts`` does not look it up again.

        ``where`` filters on EmailAddress as on any string field, without regard to case
        (https://developer.xero.com/documentation/api/accounting/contacts); when several
        contacts share an email, the first Xero lists wins.
        """
        wanted = sorted({e.strip() for e in emails if e and e.strip()})
        found: dict[str, Contact] = {}
        for chunk in _chunks(wanted):
            answer = self.client.get("Contacts", {"where": where("EmailAddress", chunk)})
            for contact in answer.get("Contacts") or []:
                if not isinstance(contact, dict) or not contact.get("ContactID"):
                    continue
                key = email_key(str(contact.get("EmailAddress") or ""))
                if key and key not in found:
                    found[key] = Contact(str(contact["Name"]))
                    self._learn(str(contact["Name"]).casefold(), str(contact["ContactID"]))
        return found

    def contact_id(self, contact: Contact) -> str | None:
        with self.directory.lock:
            return self.directory.contact_ids.get(contact.name.casefold())

    def forget_contact(self, contact: Contact) -> None:
        """Look ``contact`` up again next time (Xero refused a document over it)."""
        with self.directory.lock:
            self.directory.contact_ids.pop(contact.name.casefold(), None)

    def items(self, wanted: Iterable[Item]) -> None:
        """Learn which of ``wanted`` exist, creating the others when allowed. An item that
        cannot be had only leaves its lines without an item code."""
        known = self.item_codes
        todo = {i.code: i for i in wanted if i.code not in known}
        if not todo:
            return
        for chunk in _chunks(sorted(todo)):
            found = self.client.get("Items", {"where": where("Code", chunk)}).get("Items") or []
            known |= {str(i.get("Code")) for i in found if isinstance(i, dict)}
        with self.directory.lock:
            self.directory.item_codes |= known
        missing = [i for code, i in sorted(todo.items()) if code not in known]
        if not missing or not self.create_items:
            return
        elements = [{"Code": i.code, "Name": i.name, "IsSold": True} for i in missing]
        saved = self.client.write(
            "PUT", "Items", "Items", elements, step="items", keys=[i.code for i in missing]
        )
        for item, answer in zip(missing, saved, strict=True):
            if answer.get("ItemID") and not answer.get("HasErrors"):
                with self.directory.lock:
                    self.directory.item_codes.add(item.code)
