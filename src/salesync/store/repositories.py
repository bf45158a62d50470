"""Tenant-scoped repositories: every read and write names its tenant, or does not run."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.source import SourceConnection
from salesync.domain.documents import (
    Customer,
    Location,
    Product,
    Tenant,
)
from salesync.domain.errors import BugError
from salesync.domain.journal import Account, JournalEntry, JournalLine, account_type
from salesync.domain.money import Money
from salesync.store.database import insert_new
from salesync.store.tables import (
    AccountRow,
    ConnectionRow,
    CustomerRow,
    JournalEntryRow,
    JournalLineRow,
    LocationPeriodRow,
    LocationRow,
    ProductRow,
    TenantRow,
)
from salesync.store.vault import Vault

IN_CHUNK = 500
"""Ids per ``IN (...)`` query: well below every supported database's parameter limit."""
_NEW_LINES = insert(cast(Table, JournalLineRow.__table__))
_ENTRIES = cast(Table, JournalEntryRow.__table__)


class TenantMismatchError(BugError):
    """A record of one tenant handed to a repository scoped to another."""


class Tenants:
    """The one unscoped repository: tenants are the roots everything else hangs from."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, tenant: Tenant) -> None:
        self.session.add(TenantRow(id=tenant.id, name=tenant.name))
        self.session.flush()

    def get(self, tenant_id: str) -> Tenant | None:
        row = self.session.get(TenantRow, tenant_id)
        return Tenant(row.id, row.name) if row else None

    def all(self) -> list[Tenant]:
        rows = self.session.scalars(select(TenantRow).order_by(TenantRow.id))
        return [Tenant(r.id, r.name) for r in rows]


class TenantScoped:
    def __init__(self, session: Session, tenant_id: str) -> None:
        if not tenant_id:
            raise ValueError("a repository needs the tenant it works for")
        self.session = session
        self.tenant_id = tenant_id

    def _own(self, tenant_id: str, what: str) -> None:
        if tenant_id != self.tenant_id:
            raise TenantMismatchError(
                f"{what} belongs to tenant {tenant_id!r}, not {self.tenant_id!r}",
                tenant=self.tenant_id,
            )


class Locations(TenantScoped):
    def add(self, location: Location, *, at: datetime | None = None) -> None:
        """Add a location, active (billed) from ``at`` (now when not given)."""
        self._own(location.tenant_id, f"location {location.id}")
        since = at or datetime.now(UTC)
        self.session.add(
            LocationRow(
                tenant_id=self.tenant_id,
                id=location.id,
                name=location.name,
                timezone=location.timezone,
                currency=location.currency,
                created_at=since,
            )
        )
        self.session.flush()
        self.session.add(
            LocationPeriodRow(tenant_id=self.tenant_id, location_id=location.id, active_from=since)
        )
        self.session.flush()

    def active(self, location_id: str) -> bool:
        """Whether the location is active (billed) now."""
        return self._open_period(location_id) is not None

    def deactivate(self, location_id: str, at: datetime) -> bool:
        """End the location's active period at ``at``; False if it was not active."""
        period = self._open_period(location_id)
        if period is None:
            return False
        if at < period.active_from:
            raise ValueError(
                f"location {location_id} became active at {period.active_from.isoformat()}; "
                "it cannot stop before that"
            )
        period.active_until = at
        self.session.flush()
        return True

    def reactivate(self, location_id: str, at: datetime) -> bool:
        """Start a new active period at ``at``; False if it was active already."""
        if self.get(location_id) is None:
            raise KeyError(f"no location {location_id!r}")
        if self._open_period(location_id) is not None:
            return False
        self.session.add(
            LocationPeriodRow(tenant_id=self.tenant_id, location_id=location_id, active_from=at)
        )
        self.session.flush()
        return True

    def _open_period(self, location_id: str) -> LocationPeriodRow | None:
        return self.session.scalar(
            select(LocationPeriodRow).where(
                LocationPeriodRow.tenant_id == self.tenant_id,
                LocationPeriodRow.location_id == location_id,
                LocationPeriodRow.active_until.is_(None),
            )
        )

    def get(self, location_id: str) -> Location | None:
        row = self.session.get(LocationRow, (self.tenant_id, location_id))
        return _location(row) if row else None

    def all(self) -> list[Location]:
        query = select(LocationRow).where(LocationRow.tenant_id == self.tenant_id)
        return [_location(r) for r in self.session.scalars(query.order_by(LocationRow.id))]


def _location(row: LocationRow) -> Location:
    return Location(row.id, row.tenant_id, row.name, row.timezone, row.currency)


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """A connection as the dashboard may show it: never its secrets."""

    id: str
    provider: str
    role: str
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class Rekeyed:
    rotated: int
    unreadable: list[str]
    """Connections (tenant/name) no configured key opens."""


def rekey_connections(factory: sessionmaker[Session], vault: Vault) -> Rekeyed:
    """Every connection's credentials re-encrypted under ``vault``'s newest key, one row
    at a time under its lock, so a token refresh writing the same row meanwhile is
    neither lost nor left under the old key."""
    with factory() as session:
        ids = list(session.scalars(select(ConnectionRow.id).order_by(ConnectionRow.id)))
    rotated, unreadable = 0, []
    for connection_id in ids:
        with factory() as session, session.begin():
            row = session.get(ConnectionRow, connection_id, with_for_update=True)
            if row is None:
                continue
            sealed = vault.rotate(row.credentials)
            if sealed is None:
                unreadable.append(f"{row.tenant_id}/{row.name}")
                continue
            row.credentials = sealed
            rotated += 1
    return Rekeyed(rotated, unreadable)


class Connections(TenantScoped):
    def __init__(self, session: Session, tenant_id: str, vault: Vault) -> None:
        super().__init__(session, tenant_id)
        self.vault = vault

    def add(
        self,
        provider: str,
        role: str,
        name: str,
        credentials: dict[str, Any],
        settings: dict[str, Any] | None = None,
    ) -> str:
        connection_id = str(uuid.uuid4())
        self.session.add(
            ConnectionRow(
                id=connection_id,
                tenant_id=self.tenant_id,
                provider=provider,
                role=role,
                name=name,
                credentials=self.vault.seal(credentials),
                settings=settings or {},
            )
        )
        self.session.flush()
        return connection_id

    def _row(self, connection_id: str) -> ConnectionRow:
        row = self.session.get(ConnectionRow, connection_id)
        if row is None or row.tenant_id != self.tenant_id:
            raise KeyError(f"no connection {connection_id} for tenant {self.tenant_id}")
        return row

    def credentials(self, connection_id: str) -> dict[str, Any]:
        return self.vault.open(self._row(connection_id).credentials)

    def replace_credentials(self, connection_id: str, credentials: dict[str, Any]) -> None:
        self._row(connection_id).credentials = self.vault.seal(credentials)
        self.session.flush()

    def settings(self, connection_id: str) -> dict[str, Any]:
        return dict(self._row(connection_id).settings or {})

    def update_settings(self, connection_id: str, **changes: Any) -> None:
        """Merge ``changes`` into the connection's settings (a new dict, so it is saved)."""
        row = self._row(connection_id)
        row.settings = {**(row.settings or {}), **changes}
        self.session.flush()

    def info(self, connection_id: str) -> ConnectionInfo:
        r = self._row(connection_id)
        return ConnectionInfo(r.id, r.provider, r.role, r.name, r.status)

    def opened(self, connection_id: str) -> SourceConnection:
        """The connection with its credentials decrypted, for a connector to use."""
        row = self._row(connection_id)
        return SourceConnection(
            tenant_id=self.tenant_id,
            connection_id=row.id,
            name=row.name,
            settings=dict(row.settings or {}),
            credentials=self.vault.open(row.credentials),
        )

    def all(self) -> list[ConnectionInfo]:
        query = select(ConnectionRow).where(ConnectionRow.tenant_id == self.tenant_id)
        return [
            ConnectionInfo(r.id, r.provider, r.role, r.name, r.status)
            for r in self.session.scalars(query.order_by(ConnectionRow.name))
        ]


class Directory(TenantScoped):
    """Customers and products as the sources list them, kept current by their records."""

    def put_customer(self, customer: Customer) -> None:
        self._own(customer.tenant_id, "customer")
        row = self.session.get(CustomerRow, (self.tenant_id, customer.id))
        if row is None:
            row = CustomerRow(tenant_id=self.tenant_id, id=customer.id)
            self.session.add(row)
        row.name, row.email, row.phone = customer.name, customer.email, customer.phone

    def put_product(self, product: Product) -> None:
        self._own(product.tenant_id, "product")
        row = self.session.get(ProductRow, (self.tenant_id, product.id))
        if row is None:
            row = ProductRow(tenant_id=self.tenant_id, id=product.id)
            self.session.add(row)
        row.sku, row.name, row.category = product.sku, product.name, product.category
        row.price_minor = product.price.to_minor()
        row.currency = product.price.currency
        row.taxable = product.taxable

    def customer(self, customer_id: str) -> Customer | None:
        row = self.session.get(CustomerRow, (self.tenant_id, customer_id))
        if row is None:
            return None
        return Customer(row.id, self.tenant_id, row.name, row.email, row.phone)

    def product(self, product_id: str) -> Product | None:
        row = self.session.get(ProductRow, (self.tenant_id, product_id))
        if row is None:
            return None
        price = Money.from_minor(row.price_minor, row.currency)
        return Product(row.id, self.tenant_id, row.sku, row.name, row.category, price, row.taxable)


class Accounts(TenantScoped):
    def ensure(self, names: Iterable[str]) -> int:
        """Open every account in ``names`` not open yet; returns how many were opened."""
        wanted = set(names)
        if not wanted:
            return 0
        query = select(AccountRow.name).where(
            AccountRow.tenant_id == self.tenant_id, AccountRow.name.in_(wanted)
        )
        missing = sorted(wanted - set(self.session.scalars(query)))
        for name in missing:
            Account(name)  # refuses a name that cannot be an account
        if missing:
            # Another worker may open the same account at the same moment: its row wins.
            self.session.execute(
                insert_new(self.session, AccountRow)
                .values(
                    [
                        {"tenant_id": self.tenant_id, "name": n, "type": account_type(n).value}
                        for n in missing
                    ]
                )
                .on_conflict_do_nothing()
            )
        return len(missing)

    def all(self) -> list[Account]:
        query = select(AccountRow).where(AccountRow.tenant_id == self.tenant_id)
        rows = self.session.scalars(query.order_by(AccountRow.name))
        return [Account(r.name, r.description) for r in rows]


@dataclass(frozen=True, slots=True)
class Posted:
    entry_id: int
    created: bool
    """False when an entry with the same key was already in the books."""


class Journal(TenantScoped):
    """The built-in ledger's entries. Posting is idempotent on the entry's key."""

    def post(self, entry: JournalEntry) -> Posted:
        return self.post_all([entry])[0]

    def post_all(self, entries: list[JournalEntry]) -> list[Posted]:
        """Post ``entries`` together: one result for each, in order.

        An entry whose key is in the books already (posted earlier, by another writer at
        the same moment, or earlier in ``entries``) is not written again: its result is
        the entry there, ``created`` false. The new entries go in with one statement,
        their lines with another. (An entry is balanced and names valid accounts by
        construction, so the books refuse none.)"""
        for entry in entries:
            self._own(entry.tenant_id, f"journal entry {entry.key}")
        known = self.entry_ids([e.key for e in entries])
        first: dict[str, JournalEntry] = {}
        for entry in entries:
            if entry.key not in known:
                first.setdefault(entry.key, entry)  # a key given twice: its first entry
        fresh = list(first.values())
        if fresh:
            Accounts(self.session, self.tenant_id).ensure(
                line.account for entry in fresh for line in entry.lines
            )
            created = self._insert(fresh)
            # A key missing from what was inserted was posted by another writer between
            # the lookup and the insert: that entry is the one in the books.
            known |= self.entry_ids([e.key for e in fresh if e.key not in created])
        else:
            created = {}
        ids, new = known | created, set(created)
        results: list[Posted] = []
        for entry in entries:
            results.append(Posted(ids[entry.key], created=entry.key in new))
            new.discard(entry.key)  # the same key again in this call is that entry
        return results

    def _insert(self, entries: list[JournalEntry]) -> dict[str, int]:
        """Insert ``entries`` and their lines; returns the ids of those inserted by key
        (one whose key another writer has just taken is left out)."""
        rows = [
            {
                "tenant_id": self.tenant_id,
                "location_id": e.location_id,
                "key": e.key,
                "entry_date": e.date,
                "narration": e.narration,
                "currency": e.currency,
                "documents": list(e.documents),
            }
            for e in entries
        ]
        # Parameters apart from the statement: the statement is compiled once and sent as
        # multi-row inserts (SQLAlchemy's "insertmanyvalues"), keys and ids returned.
        statement = (
            insert_new(self.session, _ENTRIES)
            .on_conflict_do_nothing()
            .returning(_ENTRIES.c.key, _ENTRIES.c.id)
        )
        created: dict[str, int] = {}
        for key, entry_id in self.session.execute(statement, rows):
            created[key] = entry_id
        lines = [
            {
                "entry_id": created[e.key],
                "tenant_id": self.tenant_id,
                "line_no": i,
                "account": line.account,
                "amount_minor": line.amount.to_minor(),
                "currency": line.amount.currency,
                "memo": line.memo,
            }
            for e in entries
            if e.key in created
            for i, line in enumerate(e.lines)
        ]
        if lines:
            # One executemany for the lines: nothing reads them back as objects here.
            self.session.execute(_NEW_LINES, lines)
        return created

    def entry_ids(self, keys: list[str]) -> dict[str, int]:
        """The ids of the entries in the books under any of ``keys``, by key."""
        found: dict[str, int] = {}
        for start in range(0, len(keys), IN_CHUNK):
            query = select(JournalEntryRow.key, JournalEntryRow.id).where(
                JournalEntryRow.tenant_id == self.tenant_id,
                JournalEntryRow.key.in_(keys[start : start + IN_CHUNK]),
            )
            found.update((key, entry_id) for key, entry_id in self.session.execute(query))
        return found

    def get(self, key: str) -> JournalEntry | None:
        query = select(JournalEntryRow).where(
            JournalEntryRow.tenant_id == self.tenant_id, JournalEntryRow.key == key
        )
        row = self.session.scalar(query)
        return None if row is None else next(iter(self._build([row])))

    def entries(
        self, start: date | None = None, end: date | None = None, *, batch_size: int = 500
    ) -> Iterator[JournalEntry]:
        """Entries in date order, streamed in batches so memory stays flat."""
        query = select(JournalEntryRow).where(JournalEntryRow.tenant_id == self.tenant_id)
        if start is not None:
            query = query.where(JournalEntryRow.entry_date >= start)
        if end is not None:
            query = query.where(JournalEntryRow.entry_date <= end)
        query = query.order_by(JournalEntryRow.entry_date, JournalEntryRow.id)
        batch: list[JournalEntryRow] = []
        for row in self.session.scalars(query.execution_options(yield_per=batch_size)):
            batch.append(row)
            if len(batch) == batch_size:
                yield from self._build(batch)
                batch = []
        yield from self._build(batch)

    def _build(self, rows: list[JournalEntryRow]) -> Iterator[JournalEntry]:
        if not rows:
            return
        lines: dict[int, list[JournalLineRow]] = {r.id: [] for r in rows}
        query = (
            select(JournalLineRow)
            .where(JournalLineRow.entry_id.in_(lines))
            .order_by(JournalLineRow.entry_id, JournalLineRow.line_no)
        )
        for line in self.session.scalars(query):
            lines[line.entry_id].append(line)
        for row in rows:
            yield JournalEntry(
                key=row.key,
                tenant_id=row.tenant_id,
                location_id=row.location_id,
                date=row.entry_date,
                narration=row.narration,
                lines=tuple(
                    JournalLine(ln.account, Money.from_minor(ln.amount_minor, ln.currency), ln.memo)
                    for ln in lines[row.id]
                ),
                documents=tuple(row.documents),
            )

    def count(self) -> int:
        query = select(func.count()).where(JournalEntryRow.tenant_id == self.tenant_id)
        return int(self.session.scalar(query.select_from(JournalEntryRow)) or 0)
