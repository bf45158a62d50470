"""The incident log: failures grouped into tickets by root cause, regressions reopen,
transient failures within budget are counted without a ticket, context is redacted."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.capture import Exchange
from salesync.domain.errors import MappingError, TransientError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.store.tables import IncidentRow, TicketDocumentRow, TicketEventRow, TicketRow

from .conftest import TENANT, OpenTicket


def _unmapped(sku: str) -> MappingError:
    return MappingError(
        f"no item is mapped for SKU '{sku}' on sale 10{sku[-1]}",
        user_message=f"The product {sku} has no item in your books. Map it to post the sale.",
        code="unmapped_sku",
        provider="qbo",
        operation="post:SalesReceipt",
    )


def test_one_root_cause_makes_one_ticket(db: sessionmaker[Session], open_ticket: OpenTicket):
    tickets = {
        open_ticket(_unmapped(f"SKU-{n}"), subject=f"posting:{n}", documents=(f"doc-{n}",)).id
        for n in range(500)
    }
    assert len(tickets) == 1
    with db() as session:
        ticket = session.get(TicketRow, tickets.pop())
        assert ticket is not None
        assert ticket.occurrences == 500
        assert ticket.state == "open"
        assert ticket.merchant_action
        assert ticket.entity == "SalesReceipt"
        affected = session.scalar(
            select(func.count())
            .select_from(TicketDocumentRow)
            .where(TicketDocumentRow.ticket_id == ticket.id)
        )
        assert affected == 500


def test_different_codes_make_different_tickets(open_ticket: OpenTicket):
    first = open_ticket(_unmapped("SKU-1"))
    other = MappingError(
        "no tax code is mapped for 'NY State'",
        code="unmapped_tax",
        provider="qbo",
        operation="post:SalesReceipt",
    )
    assert open_ticket(other).id != first.id


def test_a_resolved_ticket_reopens_on_regression(
    db: sessionmaker[Session], open_ticket: OpenTicket, clock: ManualClock
):
    ticket = open_ticket(_unmapped("SKU-1"))
    with db() as session, session.begin():
        row = session.get(TicketRow, ticket.id)
        assert row is not None
        row.state = "resolved"
        row.resolved_at = clock()
    clock.advance(timedelta(hours=2))
    again = open_ticket(_unmapped("SKU-2"))
    assert again.id == ticket.id
    assert again.state == "open"
    assert again.reopened == 1
    with db() as session:
        events = list(
            session.scalars(
                select(TicketEventRow.event)
                .where(TicketEventRow.ticket_id == ticket.id)
                .order_by(TicketEventRow.id)
            )
        )
    assert events == ["opened", "reopened"]


def test_transient_failures_within_budget_are_counted_not_ticketed(
    db: sessionmaker[Session], clock: ManualClock
):
    log = IncidentLog(clock)
    with db() as session, session.begin():
        log.record(
            session,
            TENANT,
            Failure(
                error=TransientError("HTTP 503", provider="xero", operation="post"),
                stage="engine",
                subject="posting:7",
                failed_at=clock(),
                transient=True,
            ),
        )
    with db() as session, session.begin():
        assert log.healed(session, TENANT, ["posting:7"]) == 1
    with db() as session:
        assert session.scalar(select(func.count()).select_from(TicketRow)) == 0
        incident = session.scalars(select(IncidentRow)).one()
        assert incident.transient
        assert incident.healed_at is not None
        assert incident.ticket_id is None


def test_context_is_redacted(db: sessionmaker[Session], clock: ManualClock):
    canary = "canary-5f0d1c2e9b"
    log = IncidentLog(clock, secrets=[canary])
    exchange = Exchange(
        method="POST",
        url=f"https://books.example/v3/company/1/salesreceipt?access_token={canary}",
        request_headers={"authorization": "[redacted]", "content-type": "application/json"},
        request_body='{"CustomerMemo": "paid by 4111 1111 1111 1111", "BillEmail": '
        '{"Address": "ann@example.com"}, "note": "' + canary + '"}',
        status=400,
        response_headers={},
        response_body='{"Fault": {"Error": [{"Detail": "token ' + canary + ' rejected"}]}}',
    )
    with db() as session, session.begin():
        log.record(
            session,
            TENANT,
            Failure(
                error=MappingError(
                    f"refused with {canary}",
                    user_message="The books refused the sale.",
                    code="x",
                    details={"client_secret": "abc123456", "email": "ann@example.com"},
                ),
                stage="engine",
                subject="posting:1",
                failed_at=clock(),
                http=[exchange],
            ),
        )
    with db() as session:
        incident = session.scalars(select(IncidentRow)).one()
        text = repr((incident.message, incident.user_message, incident.http, incident.details))
    assert canary not in text
    assert "4111" not in text
    assert "ann@example.com" not in text
    assert "abc123456" not in text
    assert "[card]" in text
