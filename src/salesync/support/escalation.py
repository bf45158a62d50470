"""Who may reach Tier 2 (developers), as data: customers on a plan whose support tier is
2, and any customer whose failure is a regression, which is ours to fix whatever the plan.

A regression is read from the release history (``releases``, recorded at each deploy):
the ticket's first failure came within the catalog's ``regression_window`` after a
release that touched what failed (its provider, ``engine`` for failures with none, or
``*``), and the account had synced successfully before that release, so the release,
not the account, changed. A refused escalation answers with the upgrade path and what
each upgrade costs now, prorated for the rest of the term.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.domain.money import Money
from salesync.store.tables import PostingRow, ReleaseRow, TicketRow
from salesync.support.plans import Catalog, Plan
from salesync.support.subscriptions import SubscriptionError, Subscriptions

ALL = "*"
ENGINE = "engine"


class ReleaseError(ValueError):
    """A release that cannot be recorded; the message says why."""


@dataclass(frozen=True, slots=True)
class Release:
    version: str
    released_at: datetime
    areas: tuple[str, ...]
    notes: str = ""

    def touches(self, provider: str | None) -> bool:
        """Whether the release changed what a failure of ``provider`` goes through."""
        return ALL in self.areas or (provider or ENGINE) in self.areas


class Releases:
    """The release history: recorded at each deploy, read by escalation."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self, version: str, released_at: datetime, areas: Iterable[str], notes: str = ""
    ) -> Release:
        """Record a deployed release; a version is recorded once."""
        changed = tuple(dict.fromkeys(a.strip().lower() for a in areas if a.strip()))
        if not version.strip():
            raise ReleaseError("a release needs its version, such as 0.4.2")
        if not changed:
            raise ReleaseError(
                f"release {version}: name what it changed: providers such as qbo or "
                f"shopify, '{ENGINE}', or '{ALL}' for everything"
            )
        if self.session.get(ReleaseRow, version) is not None:
            raise ReleaseError(f"release {version} is recorded already")
        row = ReleaseRow(version=version, released_at=released_at, areas=list(changed), notes=notes)
        self.session.add(row)
        self.session.flush()
        return _release(row)

    def all(self) -> list[Release]:
        """Every release, newest first."""
        rows = self.session.scalars(select(ReleaseRow).order_by(ReleaseRow.released_at.desc()))
        return [_release(r) for r in rows]

    def cause_of(self, ticket: TicketRow, catalog: Catalog) -> Release | None:
        """The release that caused the ticket's failure, if it is a regression."""
        policy = catalog.escalation
        if not policy.regressions:
            return None
        first = ticket.first_failed_at
        candidates = self.session.scalars(
            select(ReleaseRow)
            .where(
                ReleaseRow.released_at <= first,
                ReleaseRow.released_at > first - policy.regression_window,
            )
            .order_by(ReleaseRow.released_at.desc())
        )
        for row in candidates:
            release = _release(row)
            if release.touches(ticket.provider) and self._worked_before(ticket, release):
                return release
        return None

    def _worked_before(self, ticket: TicketRow, release: Release) -> bool:
        """The account had posted something before the release came out."""
        posted = self.session.scalar(
            select(PostingRow.id)
            .where(
                PostingRow.tenant_id == ticket.tenant_id,
                PostingRow.state == "posted",
                PostingRow.posted_at < release.released_at,
            )
            .limit(1)
        )
        return posted is not None


def _release(row: ReleaseRow) -> Release:
    return Release(row.version, row.released_at, tuple(row.areas), row.notes)


@dataclass(frozen=True, slots=True)
class Offer:
    """An upgrade that reaches Tier 2, with what it costs now (prorated) and until when."""

    plan: Plan
    price: Money
    until: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    plan: Plan
    reason: str
    """Plain language: why the ticket may or may not reach Tier 2."""
    regression: Release | None = None
    offers: tuple[Offer, ...] = ()

    def answer(self) -> str:
        """What the merchant and the agent read."""
        if self.allowed or not self.offers:
            return self.reason
        paths = "; ".join(
            f"{o.plan.name} for {o.price.currency} {o.price.amount:,.2f} until "
            f"{o.until:%d %B %Y} (prorated for the rest of the term)"
            for o in self.offers
        )
        return f"{self.reason} To have a developer work on it, upgrade: {paths}."


Quote = Callable[[Session, str, str, datetime], tuple[Money, datetime]]
"""``quote(session, tenant_id, plan_code, at)``: what moving to that plan costs now,
prorated, and the end of the term it pays for."""


class Escalations:
    """Decides whether a ticket may reach Tier 2 under a catalog."""

    def __init__(self, catalog: Catalog, quote: Quote | None = None) -> None:
        self.catalog = catalog
        self.quote = quote

    def decide(self, session: Session, ticket: TicketRow, now: datetime) -> Decision:
        try:
            plan = Subscriptions(session, self.catalog).plan_at(ticket.tenant_id, now)
        except SubscriptionError:
            # A plan the catalog no longer has: decide as for the catalog's default plan
            # (billing reports the tenant; support goes on).
            plan = self.catalog.plan(None)
        if plan.support_tier == 2:
            return Decision(True, plan, f"The {plan.name} plan includes developer support.")
        regression = Releases(session).cause_of(ticket, self.catalog)
        if regression is not None:
            return Decision(
                True,
                plan,
                f"salesync {regression.version} (released "
                f"{regression.released_at:%d %B %Y}) changed how this account syncs, and the "
                "failure began after it: a developer fixes it whatever the plan.",
                regression=regression,
            )
        tier_two = [p for p in self.catalog.upgrades(plan.code) if p.support_tier == 2]
        offers = tuple(self._offer(session, ticket.tenant_id, p, now) for p in tier_two)
        return Decision(
            False,
            plan,
            f"Developer (Tier 2) support is not part of the {plan.name} plan; our support "
            "team (Tier 1) keeps working on it with you.",
            offers=tuple(o for o in offers if o is not None),
        )

    def _offer(self, session: Session, tenant_id: str, plan: Plan, now: datetime) -> Offer | None:
        if self.quote is None:
            return None
        price, until = self.quote(session, tenant_id, plan.code, now)
        return Offer(plan, price, until)
