"""The support desk and billing as the dashboard, the REST API and the CLI use them: each
call one transaction under the catalog in force, on the injected clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.domain.money import Money
from salesync.store.database import transaction
from salesync.store.tables import LocationPeriodRow, TicketRow
from salesync.support.billing import Invoice, Quote
from salesync.support.escalation import Escalations, Release, Releases
from salesync.support.hours import Balance, DeveloperHours, HourEntry
from salesync.support.invoices import (
    Invoices,
    PlanChanged,
    bill_extra_time,
    change_plan,
    quote_upgrade,
    quote_upgrades,
)
from salesync.support.knowledge import Hit, KnowledgeBase
from salesync.support.periods import Period
from salesync.support.plans import Catalog, Plan
from salesync.support.requests import SupportRequest, SupportRequests
from salesync.support.subscriptions import Subscriptions


@dataclass(frozen=True, slots=True)
class Account:
    """A tenant's plan and what it is owed and owes, as of ``at``."""

    tenant_id: str
    at: datetime
    plan: Plan
    plan_since: datetime
    period: Period
    """The billing period running now."""
    year: Period
    """The subscription year running now: it renews at its end."""
    locations: int
    """Locations active now (billed)."""
    hours: Balance
    upgrades: tuple[Quote, ...]
    invoices: tuple[Invoice, ...]


class SupportService:
    def __init__(
        self,
        factory: sessionmaker[Session],
        catalog: Catalog,
        clock: Callable[[], datetime],
        *,
        public_url: str = "http://127.0.0.1:8000",
        knowledge: KnowledgeBase | None = None,
    ) -> None:
        self.factory = factory
        self.catalog = catalog
        self.clock = clock
        self.public_url = public_url
        self.knowledge = knowledge or KnowledgeBase.built_in()

    def escalations(self) -> Escalations:
        """The Tier 2 gate, quoting upgrades as billing would bill them."""
        return Escalations(self.catalog, self.quote)

    def quote(
        self, session: Session, tenant_id: str, plan: str, at: datetime
    ) -> tuple[Money, datetime]:
        found = quote_upgrade(session, self.catalog, tenant_id, plan, at)
        return found.total, found.period.end

    def asked(self, session: Session, ticket: TicketRow, text: str, at: datetime) -> bool:
        """The ticket desk's ``asked``: e-mail the merchant behind a request's ticket."""
        return self._requests(session).ask(ticket, text, at)

    def hours_in(self, session: Session) -> DeveloperHours:
        return DeveloperHours(session, self.catalog, bill=self._bill)

    def _bill(  # noqa: PLR0917 - the signature DeveloperHours calls
        self, session: Session, tenant_id: str, blocks: int, at: datetime, actor: str, key: str
    ) -> int:
        return bill_extra_time(session, self.catalog, tenant_id, blocks, at, actor, key).id

    def account(self, tenant_id: str) -> Account:
        now = self.clock()
        with transaction(self.factory) as session:
            subscriptions = Subscriptions(session, self.catalog)
            subscription = subscriptions.get(tenant_id)
            hours = self.hours_in(session)
            hours.renew(tenant_id, now)
            active = session.scalars(
                select(LocationPeriodRow.location_id).where(
                    LocationPeriodRow.tenant_id == tenant_id,
                    LocationPeriodRow.active_from <= now,
                    (LocationPeriodRow.active_until.is_(None))
                    | (LocationPeriodRow.active_until > now),
                )
            ).all()
            return Account(
                tenant_id=tenant_id,
                at=now,
                plan=subscription.plan,
                plan_since=subscription.plan_since,
                period=subscriptions.period(tenant_id, now),
                year=subscriptions.year(tenant_id, now),
                locations=len(set(active)),
                hours=hours.balance(tenant_id, now),
                upgrades=tuple(quote_upgrades(session, self.catalog, tenant_id, now)),
                invoices=tuple(reversed(Invoices(session, self.catalog).list(tenant_id))),
            )

    def change_plan(self, tenant_id: str, plan: str, actor: str) -> PlanChanged:
        """Move the tenant to ``plan`` now, billing it and granting its developer hours."""
        now = self.clock()
        with transaction(self.factory) as session:
            changed = change_plan(session, self.catalog, tenant_id, plan, now, actor=actor)
            self.hours_in(session).on_plan_change(changed.change)
            return changed

    def invoices(self, tenant_id: str) -> list[Invoice]:
        with self.factory() as session:
            return list(reversed(Invoices(session, self.catalog).list(tenant_id)))

    def invoice(self, tenant_id: str, invoice_id: int) -> Invoice | None:
        with self.factory() as session:
            return Invoices(session, self.catalog).get(tenant_id, invoice_id)

    def ledger(self, tenant_id: str) -> tuple[Balance, list[HourEntry]]:
        """The developer-hour balance of the year running now, and every entry."""
        now = self.clock()
        with transaction(self.factory) as session:
            hours = self.hours_in(session)
            hours.renew(tenant_id, now)
            return hours.balance(tenant_id, now), hours.entries(tenant_id)

    def log_time(
        self, tenant_id: str, ticket_id: int, minutes: int, actor: str, note: str = ""
    ) -> HourEntry:
        with transaction(self.factory) as session:
            return self.hours_in(session).log(
                tenant_id, ticket_id, minutes, actor, self.clock(), note=note
            )

    def buy_time(
        self, tenant_id: str, blocks: int, actor: str, request_key: str | None = None
    ) -> HourEntry:
        with transaction(self.factory) as session:
            return self.hours_in(session).buy(
                tenant_id, blocks, actor, self.clock(), request_key=request_key
            )

    def ticket_time(self, tenant_id: str, ticket_id: int) -> list[HourEntry]:
        """The developer time logged against one ticket."""
        return [e for e in self.ledger(tenant_id)[1] if e.ticket_id == ticket_id]

    def open_request(
        self, tenant_id: str, *, channel: str, sender: str, subject: str, body: str
    ) -> SupportRequest:
        with transaction(self.factory) as session:
            return self._requests(session).open(
                tenant_id,
                channel=channel,
                sender=sender,
                subject=subject,
                body=body,
                at=self.clock(),
            )

    def requests(self, tenant_id: str, limit: int | None = 50) -> list[SupportRequest]:
        with self.factory() as session:
            return self._requests(session).list(tenant_id, limit=limit)

    def request(self, tenant_id: str, request_id: int) -> SupportRequest | None:
        with self.factory() as session:
            return self._requests(session).get(tenant_id, request_id)

    def _requests(self, session: Session) -> SupportRequests:
        return SupportRequests(session, self.catalog, public_url=self.public_url)

    def search(self, query: str, limit: int = 10) -> list[Hit]:
        return self.knowledge.search(query, limit=limit)

    def releases(self) -> list[Release]:
        with self.factory() as session:
            return Releases(session).all()

    def record_release(
        self, version: str, areas: list[str], *, at: datetime | None = None, notes: str = ""
    ) -> Release:
        with transaction(self.factory) as session:
            return Releases(session).record(version, at or self.clock(), areas, notes)

    def run_due(self) -> tuple[int, int]:
        """Bring every ledger and bill up to date: (hour entries written, invoices issued)."""
        now = self.clock()
        with transaction(self.factory) as session:
            entries = self.hours_in(session).renew_all(now)
        with transaction(self.factory) as session:
            issued = Invoices(session, self.catalog).issue_all_due(now)
        return entries, issued
