"""What each installed source offers a merchant, in plain words.

A source declares its capabilities (``SourceCapabilities``); this module says what they
mean for the merchant: how sales arrive (webhooks with a sweep, polling only, uploaded
files), whether history can be imported, whether payouts are reported, and so which
posting modes the source's sales can use. The dashboard, the API and the CLI show it when
connecting, and choosing a location's posting mode is checked against the sources that
feed the location: per-payout posting needs payouts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.connectors.registry import SourceRegistry
from salesync.connectors.source import Source
from salesync.domain.documents import DocumentKind
from salesync.domain.errors import SyncError
from salesync.domain.planning import PostingMode
from salesync.store.tables import ConnectionRow

_BROUGHT = {
    DocumentKind.SALE: "sales",
    DocumentKind.REFUND: "refunds",
    DocumentKind.PAYOUT: "payouts",
    DocumentKind.CUSTOMER: "customers",
    DocumentKind.PRODUCT: "products",
}


@dataclass(frozen=True, slots=True)
class SourceOffer:
    """One source type, as a merchant choosing it sees it."""

    name: str
    title: str
    brings: tuple[str, ...]
    """What its records become, in the order a merchant reads them (sales first)."""
    webhooks: bool
    polling: tuple[str, ...]
    """The streams salesync reads on a schedule (the sweep)."""
    history: bool
    files: bool
    payouts: bool
    posting_modes: tuple[PostingMode, ...]

    @property
    def arrival(self) -> str:
        """How its records reach salesync, in one phrase."""
        if self.webhooks:
            return "webhooks, with a sweep" if self.polling else "webhooks"
        if self.polling:
            return "polling only"
        return "uploaded files" if self.files else "entered by hand"

    def lines(self) -> list[str]:
        """What connecting it means, a sentence each."""
        lines = [f"Brings {_listed(self.brings)}."]
        if self.webhooks and self.polling:
            lines.append(
                "Sends changes as they happen (webhooks); a regular sweep also asks for "
                "changes, so a delivery that never arrives is still caught."
            )
        elif self.webhooks:
            lines.append("Sends changes as they happen (webhooks).")
        elif self.polling:
            lines.append(
                "Has no webhooks salesync can rely on: salesync asks it for changes on a "
                "schedule (polling), so sales appear at the next sweep."
            )
        if self.files:
            lines.append(
                "Sales arrive in export files you upload; the same file twice adds nothing."
            )
        if self.history:
            lines.append("Past sales can be imported (backfill).")
        elif not self.files:
            lines.append(
                "Past sales cannot be fetched from it: only what happens after connecting "
                "arrives (import older sales from an export file)."
            )
        modes = ", ".join(_MODE_WORDS[m] for m in self.posting_modes)
        if self.payouts:
            lines.append(f"Reports payouts, so its sales can post {modes}.")
        elif self.posting_modes:
            lines.append(
                f"Reports no payouts: its sales post {modes}, not per payout (an entry "
                "per bank deposit needs the payouts)."
            )
        return lines


_MODE_WORDS = {
    PostingMode.PER_ORDER: "per order",
    PostingMode.DAILY_SUMMARY: "as a daily summary",
    PostingMode.PER_PAYOUT: "per payout",
}


def _listed(words: tuple[str, ...]) -> str:
    if len(words) < 2:
        return "".join(words) or "nothing to post"
    return ", ".join(words[:-1]) + " and " + words[-1]


def offer(source: Source) -> SourceOffer:
    """What ``source`` offers, from its declared capabilities."""
    caps = source.capabilities
    kinds = caps.kinds
    modes: tuple[PostingMode, ...] = ()
    if DocumentKind.SALE in kinds:
        modes = (PostingMode.PER_ORDER, PostingMode.DAILY_SUMMARY)
        if DocumentKind.PAYOUT in kinds:
            modes += (PostingMode.PER_PAYOUT,)
    return SourceOffer(
        name=source.name,
        title=caps.title or source.name.replace("_", " ").title(),
        brings=tuple(word for kind, word in _BROUGHT.items() if kind in kinds),
        webhooks=caps.webhooks,
        polling=caps.streams,
        history=caps.history,
        files=caps.files,
        payouts=DocumentKind.PAYOUT in kinds,
        posting_modes=modes,
    )


def offers(registry: SourceRegistry) -> list[SourceOffer]:
    """Every installed source that loads, by name; a broken plugin is left out (its
    connections report the error when used)."""
    out = []
    for name in registry.names():
        try:
            out.append(offer(registry.get(name)))
        except SyncError:
            continue
    return out


@dataclass(frozen=True, slots=True)
class Feeder:
    """A source connection whose sales land in a location."""

    connection: str
    provider: str


def feeders(session: Session, tenant_id: str, location_id: str) -> list[Feeder]:
    """The tenant's source connections that book sales in ``location_id``: mapped there,
    or sending unmapped sales there by default."""
    query = select(ConnectionRow).where(
        ConnectionRow.tenant_id == tenant_id, ConnectionRow.role == "source"
    )
    found = []
    for row in session.scalars(query.order_by(ConnectionRow.name)):
        settings = row.settings or {}
        mapped = {str(v) for v in dict(settings.get("locations") or {}).values()}
        if location_id in mapped or settings.get("default_location") == location_id:
            found.append(Feeder(row.name, row.provider))
    return found


def mode_refusal(
    feeding: Iterable[Feeder], mode: PostingMode, registry: SourceRegistry
) -> str | None:
    """Why the location these connections feed cannot post in ``mode``; ``None`` if it
    can. A provider whose connector is not installed is not judged here."""
    lacking = []
    for feeder in feeding:
        try:
            offered = offer(registry.get(feeder.provider))
        except SyncError:
            continue
        if mode not in offered.posting_modes:
            lacking.append(f"{feeder.connection} ({offered.title})")
    if not lacking:
        return None
    if mode is PostingMode.PER_PAYOUT:
        return (
            f"Per-payout posting needs payouts, and {_listed(tuple(lacking))} "
            f"report{'s' if len(lacking) == 1 else ''} none. Post this location per order "
            "or as a daily summary."
        )
    return f"{_listed(tuple(lacking))} cannot post {_MODE_WORDS[mode]}."
