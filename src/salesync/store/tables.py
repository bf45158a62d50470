"""The schema. Every tenant-owned table carries ``tenant_id`` and foreign keys include it,
so a row can never point into another tenant's data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, QueryableAttribute, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from salesync.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _now() -> datetime:
    return datetime.now(UTC)


def owned_by(tenant_column: QueryableAttribute[str], tenant_id: str) -> ColumnElement[bool]:
    """``tenant_column = tenant_id``, for a query that also selects rows by their key,
    written so that the database cannot take it as the way in.

    Without statistics SQLite guesses that one tenant is a handful of rows, and given
    ``tenant_id = ? AND id IN (...)`` walks every row of the tenant through an index that
    starts with ``tenant_id`` instead of looking the keys up: each lookup then costs as much
    as the tenant's whole history. An expression is not indexable (SQLite's documented way
    is unary ``+``, which PostgreSQL refuses on text; ``|| ''`` works on both), so the keys
    are used and the tenant is still checked on every row found.
    https://sqlite.org/optoverview.html#disqualifying_where_clause_terms_using_unary_
    """
    return tenant_column.concat("") == tenant_id


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class TenantRow(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class LocationRow(Base):
    __tablename__ = "locations"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class ConnectionRow(Base):
    """A link to one provider account; credentials are encrypted by the vault."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), default="active")
    credentials: Mapped[bytes] = mapped_column(LargeBinary)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    """What is not secret: the shop or seller, location mapping, a file's column mapping."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, onupdate=_now)


class ApiTokenRow(Base):
    """A bearer token for one tenant's API; only its SHA-256 is kept, so a database dump
    gives nobody the token."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UserRow(Base):
    """A person who signs in: a merchant user (owner, bookkeeper) of exactly one tenant, or
    a staff member (tier1, developer, admin) of none. Emails are kept lower-cased, so the
    unique constraint holds whatever case they were typed in."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(role IN ('owner', 'bookkeeper') AND tenant_id IS NOT NULL)"
            " OR (role IN ('tier1', 'developer', 'admin') AND tenant_id IS NULL)",
            name="role_tenant",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UserSessionRow(Base):
    """A signed-in browser. Only the SHA-256 of its cookie is kept; the CSRF token is the
    synchroniser token its forms carry, worthless without the cookie."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserApiKeyRow(Base):
    """A user's bearer key for scripts: it acts with its user's role and tenant, and dies
    with the user. Only its SHA-256 is kept."""

    __tablename__ = "user_api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SourceCursorRow(Base):
    """Where a connection's sweep of one stream stands; saved in the transaction that
    stores the page's records, so a crash resumes without a gap or a second copy."""

    __tablename__ = "source_cursors"

    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    swept_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CustomerRow(Base):
    __tablename__ = "customers"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))


class ProductRow(Base):
    """A product as a source lists it; two sources may well use the same SKU."""

    __tablename__ = "products"
    __table_args__ = (Index("ix_products_sku", "tenant_id", "sku"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(120))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    taxable: Mapped[bool]


class DocumentRow(Base):
    """A normalized document; ``body`` is its full JSON form, ``body_hash`` detects edits."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "kind", "external_id"),
        ForeignKeyConstraint(["tenant_id", "location_id"], ["locations.tenant_id", "locations.id"]),
        Index("ix_documents_day", "tenant_id", "location_id", "business_day"),
        # A refund is judged against the refunds before it: with the tenant first, the
        # lookup cannot fall back on the tenant's day index and scan its whole history.
        Index("ix_documents_parent", "tenant_id", "parent_id"),
        # The sales log reads newest first, a page at a time.
        Index("ix_documents_time", "tenant_id", "occurred_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    location_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(String(36))
    """The sale a refund reverses."""
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    business_day: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    body_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """1 for the version first received; each edit from the source adds one."""
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """The latest change the source has told of (its ``updated_at``, ``modifiedTime``...),
    whichever revision carried it; None when the source gives no such time."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class DocumentRevisionRow(Base):
    """A version of a document that an edit replaced, kept so adjustments can reverse
    exactly what was posted and reconciliation can show what changed."""

    __tablename__ = "document_revisions"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    body_hash: Mapped[str] = mapped_column(String(64))
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MappingVersionRow(Base):
    """One published, immutable version of a tenant's mapping rules."""

    __tablename__ = "mapping_versions"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by: Mapped[str] = mapped_column(String(200), default="")


class AccountRow(Base):
    __tablename__ = "accounts"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")


class JournalEntryRow(Base):
    """A posted entry in the built-in ledger; ``key`` makes posting it twice impossible."""

    __tablename__ = "journal_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        ForeignKeyConstraint(["tenant_id", "location_id"], ["locations.tenant_id", "locations.id"]),
        Index("ix_journal_entries_day", "tenant_id", "entry_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    location_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    entry_date: Mapped[date] = mapped_column(Date)
    narration: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    documents: Mapped[list[str]] = mapped_column(JSON)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class JournalLineRow(Base):
    __tablename__ = "journal_lines"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "account"], ["accounts.tenant_id", "accounts.name"]),
        Index("ix_journal_lines_account", "tenant_id", "account"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("journal_entries.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[str] = mapped_column(String(64))
    line_no: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    memo: Mapped[str] = mapped_column(Text, default="")


class InboxRecordRow(Base):
    """A raw record exactly as received, kept forever so it can be replayed.

    ``dedupe_event`` and ``dedupe_hash`` are set only on the first copy of a record, so
    the database itself refuses a second original; repeats are stored with both empty and
    point at the original through ``duplicate_of``.
    """

    __tablename__ = "inbox_records"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "dedupe_event"),
        UniqueConstraint("tenant_id", "source", "dedupe_hash"),
        Index("ix_inbox_records_state", "tenant_id", "state"),
        Index("ix_inbox_records_parent", "tenant_id", "parent_ref"),
        # The CRM asks, for each sale, whether it came by the initial import.
        Index("ix_inbox_records_document", "tenant_id", "document_id"),
        # A source's health names its newest record: one lookup, connection first.
        Index("ix_inbox_records_received", "connection_id", "tenant_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    source: Mapped[str] = mapped_column(String(64))
    connection_id: Mapped[str | None] = mapped_column(String(36))
    record_type: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str | None] = mapped_column(String(200))
    dedupe_event: Mapped[str | None] = mapped_column(String(200))
    dedupe_hash: Mapped[str | None] = mapped_column(String(64))
    payload_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))
    duplicate_of: Mapped[int | None] = mapped_column(Integer)
    parent_ref: Mapped[str | None] = mapped_column(String(200))
    document_id: Mapped[str | None] = mapped_column(String(36))
    problems: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    origin: Mapped[str] = mapped_column(String(16), default="live", server_default="live")
    """live (webhooks, sweeps, manual entry) or backfill; live records are taken in first."""


class SyncPolicyRow(Base):
    """When a kind of document moves for a tenant (and optionally one source)."""

    __tablename__ = "sync_policies"
    __table_args__ = (UniqueConstraint("tenant_id", "source", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    source: Mapped[str] = mapped_column(String(64))
    """A source name, or '*' for every source."""
    kind: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    windows: Mapped[list[str]] = mapped_column(JSON, default=list)


class LocationSettingsRow(Base):
    """How a location posts: the posting mode for its books."""

    __tablename__ = "location_settings"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "location_id"], ["locations.tenant_id", "locations.id"]),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    location_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    posting_mode: Mapped[str] = mapped_column(String(16))


class QueuedDocumentRow(Base):
    """A stored document waiting for its sync window, and then for planning."""

    __tablename__ = "queued_documents"
    __table_args__ = (Index("ix_queued_documents_due", "tenant_id", "planned", "due_at"),)

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    location_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    business_day: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """None: manual policy, waits for someone to sync it."""
    plannable_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Not before then can the planner post it, due or not: set when it was left waiting
    for its business day to close (a daily summary) or for its payout, so that nothing
    counts it as work until then. None: as soon as it is due."""
    planned: Mapped[bool] = mapped_column(default=False)
    held: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    """The mapping cannot place it; ``problems`` say which value to map. Released when a
    new mapping version is published."""
    problems: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    mapping_version: Mapped[int | None] = mapped_column(Integer)
    """The mapping version that held it."""
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """The document's revision it waits with. The planner marks it planned only while it
    is still the revision it planned: an edit taken in meanwhile keeps it waiting."""


class PostingRow(Base):
    """The outbox: one row per write to a destination, created before the write."""

    __tablename__ = "postings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "destination", "key"),
        Index("ix_postings_due", "state", "next_attempt_at"),
        # "Last synced" per location is the newest posted_at: one lookup. The location
        # leads, so that queries of a tenant's postings keep the indexes they had.
        Index("ix_postings_posted", "location_id", "tenant_id", "posted_at"),
        # A destination's health names its newest posting.
        Index("ix_postings_destination_posted", "destination", "tenant_id", "posted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    location_id: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="posting")
    """posting, or adjustment for a change to something already posted."""
    state: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Every attempt ever made, never reset: one after the first may have to find an
    earlier write in the books before writing."""
    budget_from: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """The attempts made before the posting was last released (after a fix); its budget
    of retries counts from there."""
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    remote_ref: Mapped[str | None] = mapped_column(String(200))
    mapping_version: Mapped[int | None] = mapped_column(Integer)
    """The mapping version that placed the amounts; None for the built-in chart."""
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PostingDocumentRow(Base):
    """Which documents a posting covers. Unique per destination: a document reaches each
    destination through exactly one posting, whatever the posting mode was at the time."""

    __tablename__ = "posting_documents"
    __table_args__ = (UniqueConstraint("tenant_id", "destination", "document_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """The document revision this posting brings into the books: the first posting covers
    the revision current when it was planned; each adjustment covers a later one."""
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), index=True)


class PostingReversalRow(Base):
    """A posting that takes a revision of a document back out of the books on that
    revision's business day: the first half of an adjustment for an edit that moved the
    document to another day.

    Kept apart from ``posting_documents``, whose rows mean "this revision is in the books"
    (and decide adjustments), so that reconciliation can still see a reversal the books
    refused: the document is then in the books on both days.
    """

    __tablename__ = "posting_reversals"
    __table_args__ = (
        # A day's reconciliation finds the documents reversed on it that now belong to
        # another day.
        Index("ix_posting_reversals_day", "tenant_id", "location_id", "business_day"),
        # A revision leaves a destination's books once, as it came in once.
        Index(
            "uq_posting_reversals_revision",
            "tenant_id",
            "destination",
            "document_id",
            "revision",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    """The revision taken out: the one in the books when the edit was adjusted."""
    business_day: Mapped[date] = mapped_column(Date)
    """The day the reversal is dated on: that revision's business day."""
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), index=True)


class BackfillRow(Base):
    """A historical import by date windows; ``next_day`` is the checkpoint to resume from."""

    __tablename__ = "backfills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    window_days: Mapped[int] = mapped_column(Integer)
    next_day: Mapped[date] = mapped_column(Date)
    connection_id: Mapped[str | None] = mapped_column(String(36))
    """The source connection whose history is imported (None: the simulator), so that any
    worker can open the source again from this row alone."""
    state: Mapped[str] = mapped_column(String(16))
    records: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RunRow(Base):
    """One execution of a sync step: what it was given, what came of it, how long it took."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_tenant_started", "tenant_id", "started_at"),
        # The timeline pages a tenant's runs newest first by id.
        Index("ix_runs_tenant_id", "tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(32))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(16))
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TicketRow(Base):
    """One root cause: every incident with the same fingerprint in a tenant, owned by one
    person, with a lifecycle (open, assigned, fixing, resolved, closed)."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "fingerprint"),
        Index("ix_tickets_state", "state", "opened_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    fingerprint_version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(100))
    provider: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(100))
    entity: Mapped[str | None] = mapped_column(String(64))
    location_id: Mapped[str | None] = mapped_column(String(64))
    connection_id: Mapped[str | None] = mapped_column(String(36))
    user_message: Mapped[str] = mapped_column(Text)
    help_url: Mapped[str | None] = mapped_column(String(500))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    first_failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When the first failure happened (detection is measured from it)."""
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When the ticket (re)opened; time to ticket is ``opened_at - first_failed_at``."""
    team: Mapped[str | None] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(120))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(Text)
    """The plain-language explanation the merchant reads."""
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    merchant_action: Mapped[bool] = mapped_column(default=False)
    """Only the merchant can fix it (reconnect, a mapping): they get a notice at once."""
    plan: Mapped[str] = mapped_column(String(32), default="standard")
    """The tenant's support plan when the ticket opened: it sets the SLA clocks."""
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolve_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Waiting on the merchant since then: the SLA clocks are paused."""
    respond_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolve_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the breach alert went out for each clock (once per clock)."""
    tier: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """The support tier working it: 1 (support agents) or 2 (developers)."""
    regression: Mapped[str | None] = mapped_column(String(32))
    """The salesync release whose change caused it, when detected: it reaches Tier 2
    whatever the plan."""


class IncidentRow(Base):
    """One failure occurrence, written in the transaction that records the failure, with
    its classified and redacted context and a handle to replay exactly what it affected."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_ticket", "ticket_id"),
        Index("ix_incidents_tenant_failed", "tenant_id", "failed_at"),
        Index("ix_incidents_subject", "tenant_id", "subject"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    """None for a transient failure still within its retry budget."""
    fingerprint: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16))
    """engine, connector, ingress or scheduler: where the failure was caught."""
    location_id: Mapped[str | None] = mapped_column(String(64))
    connection_id: Mapped[str | None] = mapped_column(String(36))
    provider: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(100))
    user_message: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    """The internal message, redacted."""
    documents: Mapped[list[str]] = mapped_column(JSON, default=list)
    http: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """The HTTP exchanges of the failed unit, with secrets removed."""
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    mapping_version: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(120))
    """What failed, as ``posting:<id>``, ``record:<id>``, ``document:<id>`` or
    ``connection:<id>``: the replay handle's key, and how healing is found."""
    replay: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    transient: Mapped[bool] = mapped_column(default=False)
    healed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """A transient failure whose unit later succeeded within its budget."""
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TicketDocumentRow(Base):
    """The documents a ticket's failures affected."""

    __tablename__ = "ticket_documents"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    document_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class TicketEventRow(Base):
    """A ticket's timeline: state changes, assignments, comments, replays, notices."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(120))
    """A person, a team, or ``salesync`` for what the system did."""
    event: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TicketLinkRow(Base):
    """A ticket's copy in an external tracker (GitHub Issues, Jira), kept in step."""

    __tablename__ = "ticket_links"
    __table_args__ = (UniqueConstraint("tracker", "external_key"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    tracker: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    external_key: Mapped[str] = mapped_column(String(120))
    url: Mapped[str] = mapped_column(String(500))
    external_state: Mapped[str] = mapped_column(String(32))
    pushed_state: Mapped[str] = mapped_column(String(16))
    """The ticket state last written to the tracker."""
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NoticeRow(Base):
    """A message to a merchant about a ticket; sent, folded into a digest or held back
    by the notification policy, and kept either way."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_state", "state", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    reason: Mapped[str] = mapped_column(String(32))
    """action_needed (only the merchant can fix it), resolved, reopened, digest."""
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    """pending, sent, digested, suppressed (opted out or too soon), failed."""
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class ContactRow(Base):
    """Who at a merchant hears from salesync, and how."""

    __tablename__ = "contacts"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    opted_out: Mapped[bool] = mapped_column(default=False)
    digest: Mapped[bool] = mapped_column(default=False)
    """One message a day with everything, instead of one per ticket."""
    min_interval_minutes: Mapped[int] = mapped_column(Integer, default=60)
    """At most one message per ticket in this many minutes."""
    unsubscribe_token: Mapped[str] = mapped_column(String(64), unique=True)


class SubscriptionRow(Base):
    """A tenant's plan from the catalog; tenants without one are on the catalog's default.
    ``started_at`` anchors the billing periods and the subscription years (renewals)."""

    __tablename__ = "subscriptions"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    plan: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    plan_since: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PlanChangeRow(Base):
    """Every plan a tenant was put on, when and by whom: invoices and entitlements read the
    plan in force at any moment from here."""

    __tablename__ = "plan_changes"
    __table_args__ = (Index("ix_plan_changes_tenant", "tenant_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    plan: Mapped[str] = mapped_column(String(32))
    previous: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="")


class LocationPeriodRow(Base):
    """When a location was active (billed): opened when it is added, closed when it is
    removed; a location reopened later gets a new period."""

    __tablename__ = "location_periods"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "location_id"], ["locations.tenant_id", "locations.id"]),
        Index("ix_location_periods_tenant", "tenant_id", "location_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    active_from: Mapped[datetime] = mapped_column(UTCDateTime())
    active_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class InvoiceRow(Base):
    """A bill: one billing period's plan for its active locations, an upgrade's prorated
    difference, or extra developer time. Issued once per (tenant, kind, key)."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    """period, upgrade or extra_time."""
    key: Mapped[str] = mapped_column(String(120))
    """What makes it unique for its kind: the period start, the plan change, the purchase."""
    plan: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InvoiceLineRow(Base):
    __tablename__ = "invoice_lines"

    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[str] = mapped_column(String(32))
    """A decimal as text: locations, the fraction of a period, blocks of time."""
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class HourEntryRow(Base):
    """The developer-hour ledger: grants at renewal or upgrade, time logged against
    tickets, extra time bought, and unused hours lapsing at the end of a subscription
    year. Entries are only ever added, so every change is auditable."""

    __tablename__ = "hour_entries"
    __table_args__ = (
        Index("ix_hour_entries_year", "tenant_id", "year_start"),
        UniqueConstraint("tenant_id", "request_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    year_start: Mapped[datetime] = mapped_column(UTCDateTime())
    """The subscription year the entry counts in."""
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    entry: Mapped[str] = mapped_column(String(16))
    """grant, use, included (time that does not count: the plan includes it, or a
    regression), purchase or lapse."""
    minutes: Mapped[int] = mapped_column(Integer)
    """Added to the balance (grant, purchase) or taken from it (use, lapse: negative)."""
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    request_key: Mapped[str | None] = mapped_column(String(100))
    """A purchase's idempotency key: the same request twice buys once."""
    actor: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="")


class ReleaseRow(Base):
    """A salesync release as deployed here, with what it changed: escalation reads this
    history to tell a regression (a release changed how the account behaves) from a
    failure of the account's own making."""

    __tablename__ = "releases"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    released_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    """What it changed: providers (``qbo``, ``shopify``), ``engine``, or ``*`` for all."""
    notes: Mapped[str] = mapped_column(Text, default="")


class SupportRequestRow(Base):
    """A merchant's request for help (dashboard, API or e-mail), kept as received, with
    its triage against the scope of work and the answer it got."""

    __tablename__ = "support_requests"
    __table_args__ = (
        UniqueConstraint("tenant_id", "message_id"),
        Index("ix_support_requests_tenant", "tenant_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    channel: Mapped[str] = mapped_column(String(16))
    """dashboard, api or email."""
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))
    """An e-mail's Message-ID: the same message delivered twice is one request."""
    raw: Mapped[str | None] = mapped_column(Text)
    """The e-mail as received, kept so triage can run again."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    category: Mapped[str | None] = mapped_column(String(64))
    in_scope: Mapped[bool] = mapped_column(default=True)
    state: Mapped[str] = mapped_column(String(16))
    """answered (out of scope: the policy text went back), open (a ticket for Tier 1),
    or closed."""
    answer: Mapped[str | None] = mapped_column(Text)
    article: Mapped[str | None] = mapped_column(String(120))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OnCallOverrideRow(Base):
    """Someone covering a team's on-call shift for a while."""

    __tablename__ = "oncall_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team: Mapped[str] = mapped_column(String(64), index=True)
    member: Mapped[str] = mapped_column(String(120))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")


class AssignmentCursorRow(Base):
    """Where a team's round-robin stands: the member who took the last ticket."""

    __tablename__ = "assignment_cursors"

    team: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_member: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CrmClientRow(Base):
    """A client in the clienteling CRM: one person, whatever sources know them by.

    ``merged_into`` points at the client this one was merged into (two records of one
    person that a shared email or phone revealed); merged clients keep their row so links
    and sales that named them still resolve.
    """

    __tablename__ = "crm_clients"
    __table_args__ = (Index("ix_crm_clients_tenant", "tenant_id", "merged_into"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    """The preferred email: where messages go."""
    phone: Mapped[str | None] = mapped_column(String(40))
    opted_out: Mapped[bool] = mapped_column(default=False)
    """The client asked for no messages."""
    unsubscribe_token: Mapped[str] = mapped_column(String(64), unique=True)
    merged_into: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CrmFieldRow(Base):
    """Where a client's field value came from: ``pos`` (a source) or ``crm`` (edited in
    the CRM, which a source never overwrites)."""

    __tablename__ = "crm_fields"

    client_id: Mapped[int] = mapped_column(ForeignKey("crm_clients.id"), primary_key=True)
    field: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(8))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CrmContactRow(Base):
    """One way to reach a client (an email or a phone), unique in the tenant: the key that
    merges two records of one person."""

    __tablename__ = "crm_contacts"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("crm_clients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[str] = mapped_column(String(320))
    origin: Mapped[str] = mapped_column(String(8))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CrmLinkRow(Base):
    """A source's customer, the client it is, and the values last seen from the source
    (so a change is noticed and only a change is applied)."""

    __tablename__ = "crm_links"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("crm_clients.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CrmProductRow(Base):
    """A product as the CRM shows it, copied from the directory when it changes."""

    __tablename__ = "crm_products"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "product_id"], ["products.tenant_id", "products.id"]),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(120))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CrmSaleRow(Base):
    """A sale delivered to the CRM: who bought, who sold, where, when it happened and when
    it synced. ``historical`` sales came with the initial import and fire no triggers."""

    __tablename__ = "crm_sales"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "location_id"], ["locations.tenant_id", "locations.id"]),
        Index("ix_crm_sales_day", "tenant_id", "location_id", "business_day"),
        Index("ix_crm_sales_synced", "tenant_id", "synced_at"),
    )

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    associate: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    business_day: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime())
    historical: Mapped[bool] = mapped_column(default=False)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    """The document revision the CRM shows; a later edit from the source is copied in."""


class CrmTriggerRow(Base):
    """An automation "N days after the sale": what it does and from when it applies."""

    __tablename__ = "crm_triggers"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(24))
    """thank_you, follow_up or review_request."""
    days: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CrmFiringRow(Base):
    """A trigger's one decision about one sale: fired, or skipped with the reason. The
    unique pair is what makes a trigger fire at most once per sale."""

    __tablename__ = "crm_firings"
    __table_args__ = (
        UniqueConstraint("trigger_id", "document_id"),
        Index("ix_crm_firings_tenant", "tenant_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    trigger_id: Mapped[int] = mapped_column(ForeignKey("crm_triggers.id"))
    document_id: Mapped[str] = mapped_column(ForeignKey("crm_sales.document_id"))
    state: Mapped[str] = mapped_column(String(16))
    """fired or skipped."""
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")


class CrmTaskRow(Base):
    """A follow-up for an associate: call or write to a client about a sale."""

    __tablename__ = "crm_tasks"
    __table_args__ = (Index("ix_crm_tasks_tenant", "tenant_id", "done", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    firing_id: Mapped[int | None] = mapped_column(ForeignKey("crm_firings.id"), unique=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("crm_clients.id"))
    document_id: Mapped[str | None] = mapped_column(String(36))
    assignee: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CrmRepairRow(Base):
    """A repair or service job for a client; when it becomes ``complete`` the client is
    told at once, whatever the sales windows."""

    __tablename__ = "crm_repairs"
    __table_args__ = (UniqueConstraint("tenant_id", "reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    reference: Mapped[str] = mapped_column(String(120))
    client_id: Mapped[int] = mapped_column(ForeignKey("crm_clients.id"), index=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(24))
    """received, in_progress, complete or collected."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CrmMessageRow(Base):
    """A message to a client, from a fired trigger or a finished repair: sent once over
    SMTP, or kept with why not (opted out, no email)."""

    __tablename__ = "crm_messages"
    __table_args__ = (Index("ix_crm_messages_state", "state", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    firing_id: Mapped[int | None] = mapped_column(ForeignKey("crm_firings.id"), unique=True)
    repair_id: Mapped[int | None] = mapped_column(ForeignKey("crm_repairs.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("crm_clients.id"))
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    """pending, sending, sent, suppressed (opted out or no email) or failed."""
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class QbdCompanyFileRow(Base):
    """A QuickBooks Desktop company file reached through the Web Connector: the user name
    and password hash the Web Connector signs in with, the .qwc identifiers, and when it
    last checked in."""

    __tablename__ = "qbd_company_files"

    connection_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[str] = mapped_column(String(38))
    file_id: Mapped[str] = mapped_column(String(38))
    company_file: Mapped[str] = mapped_column(Text, default="")
    """The path the Web Connector last reported for the open company file."""
    last_checkin_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class QbdSessionRow(Base):
    """One Web Connector session (a ticket) on one company file."""

    __tablename__ = "qbd_sessions"

    ticket: Mapped[str] = mapped_column(String(64), primary_key=True)
    connection_id: Mapped[str] = mapped_column(String(36), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    work_id: Mapped[int | None] = mapped_column(Integer)
    """The work unit whose request is out with the Web Connector."""
    handled: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class QbdWorkRow(Base):
    """One unit of qbXML work for a company file, in FIFO order by id: a transaction to
    add (checked for by reference first after any session that may have written it) or a
    list to read through an iterator."""

    __tablename__ = "qbd_work"
    __table_args__ = (UniqueConstraint("connection_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(String(36), index=True)
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    """add (a transaction under a reference) or read (an iterator query)."""
    state: Mapped[str] = mapped_column(String(16))
    request: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(String(40), default="")
    iterator_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error_code: Mapped[str | None] = mapped_column(String(16))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, onupdate=_now)


class SchemaFloorRow(Base):
    """The oldest schema revision code must know to run on this database (one row).

    Migrations only add, so code of the previous release keeps working on a newer schema
    during a rolling upgrade; a migration that removes or renames something older code
    reads says so (``breaks_older``) and raises the floor past the releases it breaks."""

    __tablename__ = "schema_floor"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    revision: Mapped[str] = mapped_column(String(32))


class ReadBackWindowRow(Base):
    """A time after a restore from backup during which every posting is looked up in the
    books by its key before it is written (``salesync restored``)."""

    __tablename__ = "read_back_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    until: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
