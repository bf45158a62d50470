"""The Destination contract: what every set of books salesync writes to provides.

A destination type (the built-in ledger, QuickBooks Online, Xero) is registered once and
serves every connection to it; ``connect`` opens one connection's books. Those books:

- ``post`` a batch of planned postings, each under its idempotency key, and answer
  element by element: one posting refused (a missing account, a closed period) does not
  hold back the others. A failure of the whole call (throttled, timed out, unauthorized)
  raises, and the caller treats every posting in the call as possibly written;
- ``find`` postings by key: after any outcome that might have written, the engine reads
  back before it writes again, so a lost response never doubles a sale;
- ensure, as part of posting, what the postings refer to (accounts, customers, items,
  classes) according to the connection's mapping policy, or refuse with a ``MappingError``
  that names the missing value and where to map it.

Provider and httpx errors are translated to salesync's error kinds inside the connector.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx

from salesync.domain.documents import Payout, Refund, Sale
from salesync.domain.errors import SyncError
from salesync.domain.journal import JournalEntry
from salesync.domain.planning import PostingMode
from salesync.rules.customers import CustomerIntent


@dataclass(frozen=True, slots=True)
class DestinationCapabilities:
    """What a destination can do; the engine sizes its calls by it."""

    forms: frozenset[str]
    """What it writes: ``journal_entry``, ``sales_receipt``, ``refund_receipt``,
    ``invoice``, ``payment``, ``credit_note``, ``manual_journal``, ``deposit``..."""
    batch_size: int = 1
    """Most postings one ``post`` call carries (QuickBooks Online's batch endpoint: 30)."""
    find_batch: int = 1
    """Most keys one ``find`` call resolves."""
    reference_limit: int | None = None
    """Longest reference the books keep on a posting (QuickBooks' DocNumber: 21), which
    is why ``reference`` exists; None when the key itself can be stored."""
    itemized: bool = False
    """Whether posting needs the documents themselves (lines, items, customers), not just
    the balanced entry; the engine loads them only then."""
    ensures: frozenset[str] = frozenset()
    """What it creates or checks on the way: ``accounts``, ``customers``, ``items``..."""
    grouped: bool = False
    """Whether ``batch_group`` tells postings apart (books that write each kind of object
    with calls of their own, such as Xero); the sender asks only books that do."""


@dataclass(frozen=True, slots=True)
class Posting:
    """One planned posting on its way to the books."""

    key: str
    mode: PostingMode
    entry: JournalEntry
    documents: tuple[Sale | Refund | Payout, ...] = ()
    """The documents it covers, at the revision it brings into the books; filled only for
    destinations whose capabilities say ``itemized``."""
    kind: str = "posting"
    """``posting``, or ``adjustment`` for the difference an edit made after posting."""
    attempt: int = 1
    """Which attempt this is. From the second on, an earlier one may have written part of
    a posting that takes several calls (an invoice, then its payments): the books look
    before they write. A first attempt has nothing to look for."""
    customers: Mapping[str, CustomerIntent] = field(default_factory=dict)
    """By sale id: the customer each sale asks for under the mapping version the posting
    was planned with; filled only for ``itemized`` destinations and postings planned under
    a mapping. Books that keep customers decide each sale's customer from it; a sale
    without one is recorded as the connection's settings say."""

    @property
    def document_ids(self) -> tuple[str, ...]:
        return self.entry.documents


@dataclass(frozen=True, slots=True)
class Written:
    """The outcome of one posting in a ``post`` call: its reference, or why not."""

    key: str
    ref: str | None = None
    error: SyncError | None = None

    def __post_init__(self) -> None:
        if (self.ref is None) == (self.error is None):
            raise ValueError(f"{self.key}: a written posting has a reference or an error")


@runtime_checkable
class Books(Protocol):
    """One connection's books."""

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> DestinationCapabilities: ...

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        """Write each posting under its key; one ``Written`` per posting, in order.

        At most ``capabilities.batch_size`` postings. Raises ``SyncError`` when the call as
        a whole failed; then any of them may or may not have been written.
        """
        ...

    def find(self, keys: Sequence[str]) -> dict[str, str]:
        """The reference of each of ``keys`` already in the books (absent keys are not)."""
        ...

    def batch_group(self, posting: Posting) -> str:
        """Which postings are best sent together. Books that write each kind of object
        with calls of their own (Xero: bank transactions; invoices, then their payments;
        journals) spend a set of calls per kind present in a batch, so the sender fills
        each batch with postings of one group where it can. Books that write any mix in
        the same calls answer the same for every posting ("")."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DestinationConnection:
    """One connection to a destination, opened: credentials decrypted, settings read, and
    a way to get a current access token (refreshed under a lock when needed)."""

    id: str
    tenant_id: str
    credentials: dict[str, Any]
    settings: dict[str, Any]
    token: Any = None
    """A ``TokenSource`` for OAuth destinations: ``token.access_token()`` and
    ``token.refresh(stale=...)``; None for destinations without tokens."""


class TokenSource(Protocol):
    def access_token(self) -> str: ...

    def refresh(self, *, stale: str | None = None) -> str: ...


@runtime_checkable
class Destination(Protocol):
    """A destination type, registered under ``name`` in the ``salesync.destinations``
    entry point group."""

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> DestinationCapabilities: ...

    def connect(
        self, connection: DestinationConnection, transport: httpx.BaseTransport | None = None
    ) -> Books:
        """Open ``connection``'s books; ``transport`` reaches a sandbox in tests. The
        transport belongs to the caller, who may share it between many books: closing
        the books must not close it."""
        ...


_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U


def reference(key: str, limit: int = 21, prefix: str = "SS") -> str:
    """A short, stable reference for ``key`` that fits a field of ``limit`` characters.

    Destinations whose reference field is short (QuickBooks' DocNumber holds 21) store
    this and keep the full key in a longer note; the digest makes a collision between two
    keys of one company practically impossible (95 bits at the default length).
    """
    if limit <= len(prefix) + 8:
        raise ValueError(f"a reference needs more than {len(prefix) + 8} characters")
    digest = base64.b32encode(hashlib.sha256(key.encode()).digest()).decode()
    digest = digest.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET))
    return prefix + digest[: min(limit - len(prefix), 26)]


def json_text(value: object) -> object:
    """A connection setting that is a map, as given on the command line (JSON text; empty
    text is an empty map); anything else as it is, for the model to check."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not a JSON object: {exc.msg}") from None
    return value
