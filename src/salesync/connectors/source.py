"""The Source contract: what every connector that brings sales into salesync provides.

A source type (Shopify, Square, a POS file) is registered once and serves every
connection to it. It does three things without any I/O of its own:

- ``verify``: check a webhook delivery's signature on the raw bytes and split it into
  records for the inbox (a forged delivery raises ``ForgedWebhookError``, a body that
  cannot be read raises ``ValidationError`` after the signature passed);
- ``translate``: turn one stored record into a domain document, a customer or product,
  or a ``Skip`` saying why the record carries nothing to post;
- ``connect``: open a client on one connection's account, which fetches pages of records
  changed since a cursor (the sweep that catches webhooks that never came) and history
  between two instants (the backfill).

Everything provider-specific stays behind this line: provider and httpx errors are
translated to salesync's error kinds before they cross it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import httpx

from salesync.domain.documents import Customer, Document, DocumentKind, Product
from salesync.domain.errors import AuthError, ValidationError
from salesync.domain.validation import Problem


@dataclass(frozen=True, slots=True)
class SourceCapabilities:
    """What a source can do; the engine and dashboard only offer what is declared."""

    kinds: frozenset[DocumentKind]
    """Document kinds its records translate to (customers and products included)."""
    webhooks: bool = False
    streams: tuple[str, ...] = ()
    """Streams ``fetch`` can sweep by cursor (``orders``, ``customers``...)."""
    history: bool = False
    """Whether ``history`` can list a past date range for a backfill."""
    files: bool = False
    """Whether records come from uploaded export files."""
    replay_horizon: timedelta | None = None
    """How old a delivery's ``triggered_at`` may be and still be accepted: the provider's
    retry window plus a margin (Shopify retries for 4 hours). Older ones are refused as
    replays; ``None`` accepts any age."""
    title: str = ""
    """The provider's name as a merchant knows it (``Shopify``); empty: from the name."""
    ids_per_account: bool = False
    """Whether the provider numbers orders per account (a WooCommerce site counts from 1,
    as does a Lightspeed R-Series account), rather than with ids unique across accounts.
    Documents are identified by tenant, source and the provider's id, so two connections
    of such a source in one tenant could give two different sales one identity: a tenant
    connects it once."""


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One raw record as the source gave it, on its way to the inbox."""

    record_type: str
    payload: str
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a sweep: the records, the cursor to continue from, and whether the
    source has more right now."""

    records: tuple[SourceRecord, ...]
    cursor: str | None
    more: bool


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A delivery exactly as it arrived: the raw bytes are what signatures cover."""

    url: str
    headers: Mapping[str, str]
    """Header names in lower case."""
    body: bytes


@dataclass(frozen=True, slots=True)
class Webhook:
    """A verified delivery: its topic, the provider's event id, when the provider says the
    event was triggered, and the records it carries (none for topics salesync only logs)."""

    topic: str
    event_id: str | None
    triggered_at: datetime | None
    records: tuple[SourceRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class Skip:
    """A record that carries nothing to post (an unpaid order, an app event), and why."""

    reason: str


Translated = Document | Customer | Product | Skip


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What translation needs to know about the connection a record came through."""

    tenant_id: str
    source: str
    """The name documents carry as their ``source`` (the provider's, e.g. ``shopify``)."""
    connection_id: str | None = None
    locations: Mapping[str, str] = field(default_factory=dict)
    """The provider's location ids mapped to salesync location ids."""
    default_location: str | None = None
    """Where sales with no provider location (online orders) are booked."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The rest of the connection's settings (a file import's column mapping...)."""

    def location_for(self, provider_location: str | None, path: str) -> str:
        """The salesync location of a provider location id, or a problem naming the fix."""
        if provider_location is not None and provider_location in self.locations:
            return self.locations[provider_location]
        if self.default_location is not None:
            return self.default_location
        what = f"location {provider_location!r}" if provider_location else "a sale with no location"
        raise ValidationError(
            f"{what} is not mapped to a salesync location",
            user_message=f"Map {what} of this {self.source} connection to one of your "
            "locations, or set a default location for it.",
            code="unmapped_location",
            problems=(
                Problem(
                    "unmapped_location",
                    f"{what} is not mapped; map it or set a default location",
                    path,
                ),
            ),
        )


@dataclass(frozen=True, slots=True)
class SourceConnection:
    """One configured connection, opened: its settings and decrypted credentials."""

    tenant_id: str
    connection_id: str
    name: str
    settings: Mapping[str, Any]
    credentials: Mapping[str, Any]
    token: Any = None
    """A ``ConnectionTokens`` for sources whose OAuth tokens rotate: ``access_token()``
    and ``refresh(stale=...)``, persisted before use; None when the caller keeps no
    token store (the connector then uses ``credentials`` as they are)."""

    def context(self, source: str) -> SourceContext:
        return context_from(self.tenant_id, source, self.connection_id, self.settings)


def context_from(
    tenant_id: str, source: str, connection_id: str | None, settings: Mapping[str, Any]
) -> SourceContext:
    """The translation context of a connection's settings (``locations``,
    ``default_location``, the rest kept as they are)."""
    locations = {str(k): str(v) for k, v in dict(settings.get("locations") or {}).items()}
    default = settings.get("default_location")
    return SourceContext(
        tenant_id=tenant_id,
        source=source,
        connection_id=connection_id,
        locations=locations,
        default_location=str(default) if default else None,
        settings=settings,
    )


class ForgedWebhookError(AuthError):
    """A delivery whose signature does not match: answered 401 and logged, never stored."""

    def __init__(self, message: str, *, code: str = "webhook_signature_invalid") -> None:
        super().__init__(
            message,
            user_message="A webhook delivery was refused because its signature did not match.",
            code=code,
        )


@runtime_checkable
class SourceClient(Protocol):
    """A connection's account, opened for reading."""

    @property
    def name(self) -> str:
        """The source name records are stored under (the source type's name)."""
        ...

    @property
    def connection_id(self) -> str | None: ...

    def fetch(self, stream: str, cursor: str | None) -> Page:
        """The next page of ``stream`` records changed since ``cursor`` (``None``: from the
        start of what the sweep covers). The page's cursor is where the next call goes on."""
        ...

    def history(self, start: datetime, end: datetime) -> Iterable[SourceRecord]:
        """Records of everything that happened in ``[start, end)``, for a backfill."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SubscriptionRepair:
    """A webhook subscription the provider had stopped, found by a sweep, and what salesync
    did about it."""

    topic: str
    found: str
    """The provider's state of it: ``disabled``, ``paused``, ``deleted``..."""
    action: str
    """``reactivated``, ``recreated``, or ``none`` when only the merchant may turn it on."""
    message: str
    """What happened, in plain words for the merchant."""


@runtime_checkable
class SubscriptionKeeper(Protocol):
    """A client that can check its webhook subscriptions at the provider and repair them
    (providers that switch a failing subscription off without telling anyone)."""

    def keep_subscriptions(self) -> tuple[SubscriptionRepair, ...]:
        """Repair what can be repaired; returns every subscription found stopped."""
        ...


@runtime_checkable
class Source(Protocol):
    """A kind of source, registered once under its name (an ``salesync.sources`` entry
    point) and used for every connection to it."""

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> SourceCapabilities: ...

    def verify(self, request: WebhookRequest, connection: SourceConnection) -> Webhook:
        """Check the delivery's signature with the connection's secret and read it.

        Raises ``ForgedWebhookError`` when the signature does not match (or is missing),
        and ``ValidationError`` for a genuine delivery whose body cannot be read.
        """
        ...

    def translate(self, record_type: str, payload: str, context: SourceContext) -> Translated:
        """The domain object a stored record stands for; ``ValidationError`` with every
        problem found when it cannot be read."""
        ...

    def connect(
        self, connection: SourceConnection, transport: httpx.BaseTransport | None = None
    ) -> SourceClient:
        """A client for the connection's account; ``transport`` lets tests and the demo
        route requests to a sandbox in process."""
        ...
