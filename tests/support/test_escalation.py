"""Escalation to Tier 2: by plan, or by a regression read from the release history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.errors import BugError, MappingError, SyncError
from salesync.domain.money import Money
from salesync.engine.incidents import Failure, IncidentLog
from salesync.monitor.routing import Assigner, AssignmentError, SupportConfigError, load_support
from salesync.monitor.routing.config import DEFAULT_SUPPORT
from salesync.store.tables import PostingRow, TicketEventRow, TicketRow
from salesync.support.escalation import Escalations, ReleaseError, Releases
from salesync.support.plans import Catalog
from salesync.support.service import SupportService
from salesync.support.subscriptions import Subscriptions

from .conftest import OTHER, START, TENANT

RELEASED = datetime(2026, 11, 10, 15, tzinfo=UTC)
FAILED = datetime(2026, 11, 12, 15, tzinfo=UTC)


def _quote(session: Session, tenant_id: str, plan: str, at: datetime) -> tuple[Money, datetime]:
    """A fixed price, so these tests read the decision and not the billing arithmetic."""
    return Money(1234, "USD"), datetime(2027, 11, 1, 4, tzinfo=UTC)


def _posted(session: Session, tenant: str, at: datetime) -> None:
    """The account synced something successfully at ``at``."""
    session.add(
        PostingRow(
            tenant_id=tenant,
            location_id="soho",
            destination="qbo",
            key=f"k-{tenant}-{at.isoformat()}",
            mode="per_order",
            state="posted",
            body={},
            next_attempt_at=at,
            created_at=at,
            posted_at=at,
        )
    )


def _ticket(
    db: sessionmaker[Session],
    at: datetime,
    error: SyncError | None = None,
    tenant: str = TENANT,
) -> int:
    failure = error or BugError(
        "KeyError: 'TaxCodeRef' reading the receipt", provider="qbo", operation="post"
    )
    with db() as session, session.begin():
        incident = IncidentLog(ManualClock(at)).record(
            session,
            tenant,
            Failure(error=failure, stage="connector", subject="posting:1", failed_at=at),
        )
        assert incident.ticket_id is not None
        return incident.ticket_id


def _setup(
    db: sessionmaker[Session], catalog: Catalog, plan: str, *, release: list[str] | None = None
) -> None:
    with db() as session, session.begin():
        Subscriptions(session, catalog).subscribe(TENANT, plan, START, actor="owner@acme.test")
        _posted(session, TENANT, START + timedelta(days=2))
        if release is not None:
            Releases(session).record("0.5.0", RELEASED, release, notes="faster QuickBooks batches")


def _assign(db: sessionmaker[Session], catalog: Catalog, at: datetime) -> Assigner:
    assigner = Assigner(db, DEFAULT_SUPPORT, ManualClock(at), tiers=Escalations(catalog, _quote))
    assigner.assign_open()
    return assigner


def _state(db: sessionmaker[Session], ticket_id: int) -> tuple[TicketRow, list[TicketEventRow]]:
    with db() as session:
        ticket = session.get(TicketRow, ticket_id)
        assert ticket is not None
        events = list(
            session.scalars(
                select(TicketEventRow)
                .where(TicketEventRow.ticket_id == ticket_id)
                .order_by(TicketEventRow.id)
            )
        )
        session.expunge_all()
        return ticket, events


def test_a_silver_failure_caused_by_a_recent_release_goes_to_a_developer(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """A Silver account that synced before release 0.5.0 (which changed QuickBooks) and
    fails two days after it is a regression: Tier 2 takes it, the timeline says why."""
    _setup(db, tiered, "silver", release=["qbo"])
    ticket_id = _ticket(db, FAILED)
    _assign(db, tiered, FAILED)
    ticket, events = _state(db, ticket_id)
    assert (ticket.team, ticket.tier, ticket.regression) == ("dev", 2, "0.5.0")
    regression = next(e for e in events if e.event == "regression")
    assert "salesync 0.5.0" in regression.text


def test_a_silver_failure_with_no_release_behind_it_stays_with_tier_one(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """Without a regression a Silver bug goes to Tier 1, with the refusal and the upgrade
    path to Platinum and its prorated price on the timeline."""
    _setup(db, tiered, "silver")
    ticket_id = _ticket(db, FAILED)
    _assign(db, tiered, FAILED)
    ticket, events = _state(db, ticket_id)
    assert (ticket.team, ticket.tier, ticket.regression) == ("tier1", 1, None)
    refused = next(e for e in events if e.event == "tier2_refused")
    assert "not part of the Silver plan" in refused.text
    assert "upgrade: Platinum for USD 1,234.00 until 01 November 2027" in refused.text


@pytest.mark.parametrize(
    ("areas", "failed", "why"),
    [
        (["shopify"], FAILED, "the release did not touch QuickBooks"),
        (["qbo"], RELEASED + timedelta(days=20), "the failure began after the window"),
        (["qbo"], RELEASED - timedelta(hours=1), "the failure began before the release"),
    ],
)
def test_a_release_that_cannot_explain_the_failure_is_not_a_regression(
    db: sessionmaker[Session], tiered: Catalog, areas: list[str], failed: datetime, why: str
) -> None:
    """A release of another area, or one outside the 14-day window, changes nothing."""
    _setup(db, tiered, "silver", release=areas)
    ticket_id = _ticket(db, failed)
    _assign(db, tiered, failed)
    ticket, _ = _state(db, ticket_id)
    assert (ticket.team, ticket.regression) == ("tier1", None), why


def test_an_account_that_never_synced_before_the_release_is_not_a_regression(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """Nothing posted before the release: the release cannot have changed the account."""
    with db() as session, session.begin():
        Subscriptions(session, tiered).subscribe(TENANT, "gold", START, actor="owner@acme.test")
        Releases(session).record("0.5.0", RELEASED, ["*"])
        _posted(session, TENANT, FAILED + timedelta(hours=1))
    ticket_id = _ticket(db, FAILED)
    _assign(db, tiered, FAILED)
    assert _state(db, ticket_id)[0].team == "tier1"


def test_platinum_reaches_developers_without_a_regression(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """The annual Platinum plan includes Tier 2: its bug goes to the developers."""
    _setup(db, tiered, "platinum")
    ticket_id = _ticket(db, FAILED)
    _assign(db, tiered, FAILED)
    ticket, events = _state(db, ticket_id)
    assert (ticket.team, ticket.tier) == ("dev", 2)
    assert not [e for e in events if e.event in ("tier2_refused", "regression")]


def test_the_proactive_catalog_gives_every_customer_a_developer(
    db: sessionmaker[Session], proactive: Catalog
) -> None:
    """On the proactive catalog every tenant's bug goes to Tier 2, subscribed or not."""
    with db() as session, session.begin():
        Subscriptions(session, proactive).subscribe(TENANT, "standard", START, actor="ops")
    first = _ticket(db, FAILED)
    second = _ticket(db, FAILED, tenant=OTHER)
    _assign(db, proactive, FAILED)
    assert [_state(db, t)[0].team for t in (first, second)] == ["dev", "dev"]


def test_tier_one_tickets_go_to_tier_one_whatever_the_plan(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """A mapping failure belongs to Tier 1 and asks nothing of the plan."""
    _setup(db, tiered, "silver")
    ticket_id = _ticket(db, FAILED, MappingError("unmapped SKU", code="unmapped"))
    _assign(db, tiered, FAILED)
    ticket, events = _state(db, ticket_id)
    assert ticket.team == "tier1"
    assert not [e for e in events if e.event == "tier2_refused"]


def test_an_unacknowledged_silver_ticket_is_not_escalated_to_developers(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """Tier 1's acknowledgement deadline passing does not hand a Silver ticket to Tier 2:
    it is reported stuck once, with the upgrade path."""
    _setup(db, tiered, "silver")
    ticket_id = _ticket(db, FAILED, MappingError("unmapped SKU", code="unmapped"))
    _assign(db, tiered, FAILED)
    later = ManualClock(FAILED + timedelta(hours=1))
    assigner = Assigner(db, DEFAULT_SUPPORT, later, tiers=Escalations(tiered, _quote))
    report = assigner.escalate_due()
    assert [s.ticket_id for s in report.stuck] == [ticket_id]
    assert "not part of the Silver plan" in report.stuck[0].reason
    assigner.escalate_due()
    ticket, events = _state(db, ticket_id)
    assert ticket.team == "tier1"
    assert len([e for e in events if e.event == "escalation_exhausted"]) == 1


def test_moving_a_silver_ticket_to_developers_by_hand_is_refused(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """An agent reassigning a Silver ticket to the developers hears the upgrade path."""
    _setup(db, tiered, "silver")
    ticket_id = _ticket(db, FAILED, MappingError("unmapped SKU", code="unmapped"))
    assigner = _assign(db, tiered, FAILED)
    with pytest.raises(AssignmentError, match="upgrade: Platinum"):
        assigner.reassign(ticket_id, "dev", actor="support")
    assert _state(db, ticket_id)[0].team == "tier1"


def test_a_release_must_say_what_it_changed_and_is_recorded_once(
    db: sessionmaker[Session],
) -> None:
    """Releases without areas, or recorded twice, are refused with what to write."""
    with db() as session, session.begin():
        releases = Releases(session)
        with pytest.raises(ReleaseError, match="name what it changed"):
            releases.record("0.6.0", RELEASED, [" "])
        releases.record("0.6.0", RELEASED, ["QBO", "engine"])
        with pytest.raises(ReleaseError, match="recorded already"):
            releases.record("0.6.0", RELEASED, ["qbo"])
        assert releases.all()[0].areas == ("qbo", "engine")


def test_a_tier_two_team_needs_a_tier_one_catch_all() -> None:
    """Support settings with a Tier 2 team but no catch-all Tier 1 rule are refused."""
    table = DEFAULT_SUPPORT.model_dump(mode="json")
    table["rules"] = ["kind:bug -> dev", "kind:auth -> tier1"]
    with pytest.raises(SupportConfigError, match="catch-all rule to a Tier 1 team"):
        load_support(table)


def test_a_plan_the_catalog_no_longer_has_stops_neither_support_nor_other_bills(
    db: sessionmaker[Session], tiered: Catalog, proactive: Catalog
) -> None:
    """A tenant left on Platinum after the operator switched to the proactive catalog is
    reported and not billed, while the other tenant is billed and both tickets route."""
    _setup(db, tiered, "platinum")
    with db() as session, session.begin():
        Subscriptions(session, proactive).subscribe(OTHER, "standard", START, actor="ops")
    tickets = [_ticket(db, FAILED), _ticket(db, FAILED, tenant=OTHER)]
    service = SupportService(db, proactive, ManualClock(datetime(2026, 12, 2, tzinfo=UTC)))
    entries, issued = service.run_due()
    assert (entries, issued) == (0, 1)
    assert [i.plan for i in service.invoices(OTHER)] == ["standard"]
    assert service.invoices(TENANT) == []
    _assign(db, proactive, FAILED)
    assert [_state(db, t)[0].team for t in tickets] == ["dev", "dev"]
