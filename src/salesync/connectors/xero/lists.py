"""Contacts and items the documents point at: found in one read, created in one write.

A contact is looked up by name or number, so one customer is one contact however many
sales it has, and a contact the bookkeeper renamed is still found by its number
(https://developer.xero.com/documentation/api/accounting/contacts: names are unique among
active contacts). Items are created only under the ``create`` policy; without one a line
still posts to its account, just without the item code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from salesync.connectors.xero import errors
from salesync.connectors.xero.client import XeroClient
from salesync.connectors.xero.forms import Contact, Item
from salesync.domain.errors import SyncError

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
class Lists:
    """Contact ids and item codes for one call's documents."""

    client: XeroClient
    create_items: bool
    contact_ids: dict[str, str] = field(default_factory=dict)
    """By contact name, case-folded."""
    item_codes: set[str] = field(default_factory=set)

    def contacts(self, wanted: Iterable[Contact]) -> dict[str, SyncError]:
        """Find or create ``wanted``; the error of each one that could not be had."""
        todo = {c.name.casefold(): c for c in wanted if c.name.casefold() not in self.contact_ids}
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
        missing = [c for key, c in sorted(todo.items()) if key not in self.contact_ids]
        if not missing:
            return {}
        elements = [
            {"Name": c.name, **({"ContactNumber": c.number} if c.number else {})} for c in missing
        ]
        saved = self.client.write(
            "PUT", "Contacts", "Contacts", elements, step="contacts", keys=[c.name for c in missing]
        )
        problems: dict[str, SyncError] = {}
        for contact, answer in zip(missing, saved, strict=True):
            if answer.get("ContactID") and not answer.get("HasErrors"):
                self.contact_ids[contact.name.casefold()] = str(answer["ContactID"])
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
                self.contact_ids.setdefault(key, str(contact["ContactID"]))
        for contact in contacts:
            key = str(contact.get("Name", "")).casefold()
            if key in names:
                self.contact_ids.setdefault(key, str(contact["ContactID"]))

    def contact_id(self, contact: Contact) -> str | None:
        return self.contact_ids.get(contact.name.casefold())

    def items(self, wanted: Iterable[Item]) -> None:
        """Learn which of ``wanted`` exist, creating the others when allowed. An item that
        cannot be had only leaves its lines without an item code."""
        todo = {i.code: i for i in wanted if i.code not in self.item_codes}
        if not todo:
            return
        for chunk in _chunks(sorted(todo)):
            found = self.client.get("Items", {"where": where("Code", chunk)}).get("Items") or []
            self.item_codes |= {str(i.get("Code")) for i in found if isinstance(i, dict)}
        missing = [i for code, i in sorted(todo.items()) if code not in self.item_codes]
        if not missing or not self.create_items:
            return
        elements = [{"Code": i.code, "Name": i.name, "IsSold": True} for i in missing]
        saved = self.client.write(
            "PUT", "Items", "Items", elements, step="items", keys=[i.code for i in missing]
        )
        for item, answer in zip(missing, saved, strict=True):
            if answer.get("ItemID") and not answer.get("HasErrors"):
                self.item_codes.add(item.code)
