"""Clients: one per person, merged across sources by a shared email or phone.

Direction rules, field by field: a value a person edited in the CRM (origin ``crm``) is
never overwritten by a source; a contact method a source sends that the client does not
have yet is added beside the others, never swapped in for one, so no way of reaching the
client is ever lost. When one source record names contact methods of two clients, they
are one person and are merged: the older client keeps everything of both.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from salesync.crm.contacts import ContactKind, ContactMethod, email_method, methods, phone_method
from salesync.domain.documents import Customer
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem
from salesync.store.repositories import TenantScoped
from salesync.store.tables import (
    CrmClientRow,
    CrmContactRow,
    CrmFieldRow,
    CrmLinkRow,
    CrmSaleRow,
    CrmTaskRow,
)

POS = "pos"
CRM = "crm"
FIELDS = ("name", "email", "phone")


@dataclass(frozen=True, slots=True)
class Client:
    id: int
    name: str
    email: str | None
    phone: str | None
    contacts: tuple[ContactMethod, ...]
    origins: dict[str, str]
    """Where each field's value came from: ``pos`` or ``crm``."""
    customers: tuple[str, ...]
    """The source customers this client is."""
    opted_out: bool


class Clients(TenantScoped):
    def __init__(self, session: Session, tenant_id: str, clock: Callable[[], datetime]) -> None:
        super().__init__(session, tenant_id)
        self.clock = clock

    def resolve(self, client_id: int) -> CrmClientRow:
        """The client ``client_id`` is now: itself, or the one it was merged into."""
        row = self.session.get(CrmClientRow, client_id)
        seen: set[int] = set()
        while row is not None and row.merged_into is not None and row.id not in seen:
            seen.add(row.id)
            row = self.session.get(CrmClientRow, row.merged_into)
        if row is None or row.tenant_id != self.tenant_id:
            raise ValidationError(
                f"no client {client_id} in tenant {self.tenant_id}",
                code="unknown_client",
                problems=(Problem("unknown_client", f"no client {client_id}", "client_id"),),
            )
        return row

    def of_customer(self, customer_id: str) -> CrmClientRow | None:
        link = self.session.get(CrmLinkRow, (self.tenant_id, customer_id))
        return self.resolve(link.client_id) if link is not None else None

    def from_source(self, customer: Customer) -> CrmClientRow:
        """Bring a source's customer into the CRM: find or create its client (merging the
        clients its contact methods reveal to be one person) and apply what changed."""
        self._own(customer.tenant_id, f"customer {customer.id}")
        now = self.clock()
        link = self.session.get(CrmLinkRow, (self.tenant_id, customer.id))
        found = self._owners(methods(customer.email, customer.phone))
        if link is not None:
            found.insert(0, self.resolve(link.client_id))
        if found:
            target = min(found, key=lambda row: row.id) if link is None else found[0]
            for other in found:
                if other.id != target.id:
                    self.merge(target.id, other.id)
        else:
            target = self._new(customer.name, now)
        before = (link.name, link.email, link.phone) if link is not None else (None, None, None)
        if customer.name and customer.name != before[0]:
            self._set(target, "name", customer.name, POS, now)
        for method in methods(customer.email, customer.phone):
            self._add_contact(target, method, POS, now)
        if link is None:
            link = CrmLinkRow(tenant_id=self.tenant_id, customer_id=customer.id)
            self.session.add(link)
        link.client_id, link.synced_at = target.id, now
        link.name, link.email, link.phone = customer.name, customer.email, customer.phone
        self.session.flush()
        return target

    def edit(
        self,
        client_id: int,
        *,
        name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
    ) -> CrmClientRow:
        """A person's edit in the CRM: the values given win over any source from now on.
        An email or phone that another client already has is refused, naming that client."""
        row = self.resolve(client_id)
        now = self.clock()
        problems: list[Problem] = []
        wanted: list[ContactMethod] = []
        if name is not None and not name.strip():
            problems.append(Problem("empty_name", "a client needs a name", "name"))
        for field, text, parse in (("email", email, email_method), ("phone", phone, phone_method)):
            if text is None:
                continue
            method = parse(text)
            if method is None:
                what = "an email address (name@example.com)" if field == "email" else "a phone"
                problems.append(Problem(f"bad_{field}", f"{text!r} is not {what}", field))
                continue
            owner = self._owner(method)
            if owner is not None and owner.id != row.id:
                problems.append(
                    Problem(
                        f"{field}_taken",
                        f"{method.value} belongs to client {owner.id} ({owner.name}); "
                        "merge the two clients instead",
                        field,
                    )
                )
            wanted.append(method)
        if problems:
            raise ValidationError(
                f"client {client_id}: " + "; ".join(str(p) for p in problems),
                code="invalid_client_edit",
                problems=tuple(problems),
            )
        if name is not None:
            self._set(row, "name", name.strip(), CRM, now)
        for method in wanted:
            self._add_contact(row, method, CRM, now)
            self._set(row, method.kind.value, method.value, CRM, now)
        self.session.flush()
        return row

    def merge(self, target_id: int, other_id: int) -> CrmClientRow:
        """Fold client ``other_id`` into ``target_id``: contacts, source links, sales and
        tasks move; a field edited in the CRM on the other wins over a source value here."""
        target, other = self.resolve(target_id), self.resolve(other_id)
        if target.id == other.id:
            return target
        now = self.clock()
        origins = self._origins(target.id)
        for field, origin in self._origins(other.id).items():
            value = getattr(other, field)
            if value is not None and (
                getattr(target, field) is None or (origin == CRM and origins.get(field) != CRM)
            ):
                self._set(target, field, value, origin, now)
        for table in (CrmContactRow, CrmLinkRow, CrmTaskRow):
            self.session.execute(
                update(table)
                .where(table.client_id == other.id)
                .values(client_id=target.id)
                .execution_options(synchronize_session=False)
            )
        other.merged_into = target.id
        target.opted_out = target.opted_out or other.opted_out
        self.session.flush()
        self.session.expire_all()
        return self.resolve(target.id)

    def get(self, client_id: int) -> Client:
        row = self.resolve(client_id)
        contacts = self.session.scalars(
            select(CrmContactRow)
            .where(CrmContactRow.client_id == row.id)
            .order_by(CrmContactRow.id)
        )
        customers = self.session.scalars(
            select(CrmLinkRow.customer_id)
            .where(CrmLinkRow.client_id == row.id)
            .order_by(CrmLinkRow.customer_id)
        )
        return Client(
            id=row.id,
            name=row.name,
            email=row.email,
            phone=row.phone,
            contacts=tuple(ContactMethod(ContactKind(c.kind), c.value) for c in contacts),
            origins=self._origins(row.id),
            customers=tuple(customers),
            opted_out=row.opted_out,
        )

    def all(self) -> list[Client]:
        ids = self.session.scalars(
            select(CrmClientRow.id)
            .where(CrmClientRow.tenant_id == self.tenant_id, CrmClientRow.merged_into.is_(None))
            .order_by(CrmClientRow.id)
        )
        return [self.get(i) for i in ids]

    def find(self, contact: str) -> Client | None:
        """The client reached at ``contact``, an email or a phone number."""
        method = email_method(contact) or phone_method(contact)
        owner = self._owner(method) if method is not None else None
        return self.get(owner.id) if owner is not None else None

    def sales_of(self, client_id: int) -> list[str]:
        """The documents of the client's sales, through every source customer it is."""
        row = self.resolve(client_id)
        linked = select(CrmLinkRow.customer_id).where(CrmLinkRow.client_id == row.id)
        return list(
            self.session.scalars(
                select(CrmSaleRow.document_id)
                .where(CrmSaleRow.tenant_id == self.tenant_id, CrmSaleRow.customer_id.in_(linked))
                .order_by(CrmSaleRow.occurred_at)
            )
        )

    def _new(self, name: str, now: datetime) -> CrmClientRow:
        row = CrmClientRow(
            tenant_id=self.tenant_id,
            name=name,
            opted_out=False,
            unsubscribe_token=secrets.token_urlsafe(24),
            created_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def _owner(self, method: ContactMethod) -> CrmClientRow | None:
        found = self.session.scalar(
            select(CrmContactRow.client_id).where(
                CrmContactRow.tenant_id == self.tenant_id,
                CrmContactRow.kind == method.kind.value,
                CrmContactRow.value == method.value,
            )
        )
        return self.resolve(found) if found is not None else None

    def _owners(self, found: Iterable[ContactMethod]) -> list[CrmClientRow]:
        owners: dict[int, CrmClientRow] = {}
        for method in found:
            owner = self._owner(method)
            if owner is not None:
                owners.setdefault(owner.id, owner)
        return list(owners.values())

    def _origins(self, client_id: int) -> dict[str, str]:
        rows = self.session.scalars(select(CrmFieldRow).where(CrmFieldRow.client_id == client_id))
        return {r.field: r.origin for r in rows}

    def _set(self, row: CrmClientRow, field: str, value: str, origin: str, now: datetime) -> None:
        """Set ``field`` unless a CRM edit holds it and this value comes from a source."""
        mark = self.session.get(CrmFieldRow, (row.id, field))
        if origin == POS and mark is not None and mark.origin == CRM:
            return
        setattr(row, field, value)
        if mark is None:
            mark = CrmFieldRow(client_id=row.id, field=field, tenant_id=self.tenant_id)
            self.session.add(mark)
        mark.origin, mark.changed_at = origin, now

    def _add_contact(
        self, row: CrmClientRow, method: ContactMethod, origin: str, now: datetime
    ) -> None:
        if self._owner(method) is None:
            self.session.add(
                CrmContactRow(
                    tenant_id=self.tenant_id,
                    client_id=row.id,
                    kind=method.kind.value,
                    value=method.value,
                    origin=origin,
                    added_at=now,
                )
            )
            self.session.flush()
        # The first email (or phone) a client gets is where messages go; later ones are
        # added beside it, and only an edit in the CRM changes which one is preferred.
        if getattr(row, method.kind.value) is None:
            self._set(row, method.kind.value, method.value, origin, now)
