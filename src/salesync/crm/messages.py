"""Queuing a message to a client: pending when it can go, suppressed with the reason when
it cannot (no client, no email, opted out). ``crm.mail`` sends the pending ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from salesync.store.tables import CrmClientRow, CrmMessageRow

PENDING = "pending"
SUPPRESSED = "suppressed"


def queue_message(
    session: Session,
    tenant_id: str,
    client: CrmClientRow | None,
    *,
    subject: str,
    body: str,
    now: datetime,
    firing_id: int | None = None,
    repair_id: int | None = None,
) -> CrmMessageRow:
    state, error = PENDING, None
    if client is None:
        state, error = SUPPRESSED, "no client the CRM knows"
    elif client.email is None:
        state, error = SUPPRESSED, f"client {client.id} has no email address"
    elif client.opted_out:
        state, error = SUPPRESSED, f"client {client.id} opted out of messages"
    row = CrmMessageRow(
        tenant_id=tenant_id,
        firing_id=firing_id,
        repair_id=repair_id,
        client_id=client.id if client is not None else None,
        recipient=client.email if client is not None else None,
        subject=subject,
        body=body,
        state=state,
        due_at=now,
        created_at=now,
        attempts=0,
        error=error,
    )
    session.add(row)
    session.flush()
    return row
