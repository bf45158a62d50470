"""Repairs and service jobs: a status the store changes in the CRM. "Complete" tells the
client at once: the message is due the moment the status changes and goes out with the
CRM's next pass (a second under the in-process runner), whatever the sales windows."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.crm.clients import Clients
from salesync.crm.messages import queue_message
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem
from salesync.store.repositories import TenantScoped
from salesync.store.tables import CrmMessageRow, CrmRepairRow, TenantRow


class RepairStatus(enum.StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    COLLECTED = "collected"


@dataclass(frozen=True, slots=True)
class RepairChange:
    reference: str
    client_id: int
    status: RepairStatus
    message: CrmMessageRow | None
    """The message the change queued: set only when the repair became complete."""


class Repairs(TenantScoped):
    def __init__(self, session: Session, tenant_id: str, clock: Callable[[], datetime]) -> None:
        super().__init__(session, tenant_id)
        self.clock = clock

    def set_status(
        self, reference: str, status: str, *, client_id: int | None = None, description: str = ""
    ) -> RepairChange:
        """Record a repair's status (a new repair needs its ``client_id``); becoming
        ``complete`` queues the client's message, due now."""
        row = self.session.scalar(
            select(CrmRepairRow).where(
                CrmRepairRow.tenant_id == self.tenant_id, CrmRepairRow.reference == reference
            )
        )
        problems: list[Problem] = []
        if not reference.strip():
            problems.append(Problem("empty_reference", "give the repair's reference", "reference"))
        if status not in set(RepairStatus):
            known = ", ".join(s.value for s in RepairStatus)
            problems.append(
                Problem("unknown_status", f"{status!r} is not one of {known}", "status")
            )
        if row is None and client_id is None:
            problems.append(
                Problem("no_client", "a new repair needs the client it is for", "client_id")
            )
        if problems:
            raise ValidationError(
                f"repair {reference!r}: " + "; ".join(str(p) for p in problems),
                code="invalid_repair",
                problems=tuple(problems),
            )
        clients = Clients(self.session, self.tenant_id, self.clock)
        now = self.clock()
        if row is None:
            assert client_id is not None  # refused above otherwise
            client = clients.resolve(client_id)
            row = CrmRepairRow(
                tenant_id=self.tenant_id,
                reference=reference.strip(),
                client_id=client.id,
                description=description,
                status=RepairStatus.RECEIVED.value,
                created_at=now,
                updated_at=now,
            )
            self.session.add(row)
            self.session.flush()
        client = clients.resolve(row.client_id)
        before, row.status, row.updated_at = row.status, status, now
        message = None
        if status == RepairStatus.COMPLETE and before != RepairStatus.COMPLETE:
            tenant = self.session.get(TenantRow, self.tenant_id)
            shop = tenant.name if tenant is not None else self.tenant_id
            what = row.description or f"repair {row.reference}"
            message = queue_message(
                self.session,
                self.tenant_id,
                client,
                subject=f"Your {what} is ready at {shop}",
                body=f"Dear {client.name},\n\nGood news: your {what} (reference "
                f"{row.reference}) is complete and ready to collect at {shop}.",
                now=now,
                repair_id=row.id,
            )
        self.session.flush()
        return RepairChange(row.reference, client.id, RepairStatus(status), message)
