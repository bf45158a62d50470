"""Every classified failure becomes an incident, in the transaction that records it.

``IncidentLog.record`` is called with the session in which the failing unit's state is
written (a posting marked failed, a record quarantined, a document held, a connection
paused): the incident and its ticket commit with it or not at all, so a failure is
visible the moment its outcome is. The context is redacted before it is stored.

Grouping: the incident's fingerprint (``domain.fingerprint``) finds the tenant's ticket
for that root cause, or opens one; a resolved or closed ticket reopens when its failure
comes back. A transient failure still inside its retry budget is kept and counted but
opens no ticket; if its unit later succeeds it is marked healed. The final attempt of an
exhausted budget opens (or joins) a ticket like any other failure.

``on_ticket`` is told, in the same transaction, when a ticket opens or reopens: the
support loop queues the merchant's notice there, so a problem only the merchant can fix
(a reconnect, a mapping) is on its way to them the moment it is recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from salesync.connectors.capture import Exchange
from salesync.domain.errors import SyncError
from salesync.domain.fingerprint import VERSION, Cause, entity_of
from salesync.domain.redaction import Redactor
from salesync.domain.tickets import FixedSla, SlaClocks, TicketState, merchant_can_fix
from salesync.store.database import insert_new
from salesync.store.tables import (
    ConnectionRow,
    IncidentRow,
    SubscriptionRow,
    TicketDocumentRow,
    TicketEventRow,
    TicketRow,
)
from salesync.store.vault import Vault

log = structlog.get_logger("salesync.incidents")

SYSTEM = "salesync"

TicketHook = Callable[[Session, "TicketRow", str], None]
"""Told ``(session, ticket, "opened" | "reopened")`` in the recording transaction."""


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed unit of work and where it happened."""

    error: SyncError
    stage: str
    """engine, connector, ingress or scheduler."""
    subject: str
    """``posting:<id>``, ``record:<id>``, ``document:<id>``, ``connection:<id>``, ``run:<step>``."""
    failed_at: datetime
    replay: dict[str, Any] = field(default_factory=dict)
    documents: Sequence[str] = ()
    location_id: str | None = None
    connection_id: str | None = None
    mapping_version: int | None = None
    http: Sequence[Exchange] = ()
    transient: bool = False
    """Within its retry budget: counted, no ticket."""


def add_event(
    session: Session,
    ticket: TicketRow,
    event: str,
    at: datetime,
    *,
    actor: str = SYSTEM,
    text: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        TicketEventRow(
            ticket_id=ticket.id,
            tenant_id=ticket.tenant_id,
            at=at,
            actor=actor,
            event=event,
            text=text,
            data=data or {},
        )
    )


def plan_of(session: Session, tenant_id: str, sla: SlaClocks) -> str:
    """The code of the tenant's support plan: its subscription's, else the default."""
    found = session.scalar(
        select(SubscriptionRow.plan).where(SubscriptionRow.tenant_id == tenant_id)
    )
    return found or sla.default_plan


def restart_clocks(session: Session, ticket: TicketRow, sla: SlaClocks, now: datetime) -> None:
    """A reopened ticket's SLA clocks start again at ``now`` on the tenant's plan of today,
    not waiting on anyone and with no breach reported yet."""
    ticket.plan = plan_of(session, ticket.tenant_id, sla)
    ticket.respond_by, ticket.resolve_by = sla.clocks(ticket.plan, now)
    ticket.waiting_since = None
    ticket.respond_breached_at = ticket.resolve_breached_at = None


class IncidentLog:
    """Records incidents and groups them into tickets (see the module docstring)."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        vault: Vault | None = None,
        redactor: Redactor | None = None,
        secrets: Iterable[str | None] = (),
        on_ticket: TicketHook | None = None,
        sla: SlaClocks | None = None,
    ) -> None:
        """``vault`` opens the tenant's connection credentials so their exact values are
        removed wherever they appear; ``secrets`` adds values salesync holds elsewhere
        (the OAuth apps' client secrets); ``sla`` sets each new ticket's clocks from the
        tenant's plan (``FixedSla``, the same for every plan, by default)."""
        self.clock = clock
        self.sla: SlaClocks = sla or FixedSla()
        self.vault = vault
        self.redactor = (redactor or Redactor.of()).with_secrets(secrets)
        self.on_ticket = on_ticket
        self._opened: dict[str, tuple[frozenset[bytes], Redactor]] = {}
        self._guard = threading.Lock()

    def redactor_for(self, session: Session, tenant_id: str) -> Redactor:
        """The redactor with the tenant's credentials as exact secrets. The sealed
        credentials are read each time (a token refreshed a moment ago counts) but only
        opened again when one of them changed."""
        if self.vault is None:
            return self.redactor
        blobs = frozenset(
            session.scalars(
                select(ConnectionRow.credentials).where(ConnectionRow.tenant_id == tenant_id)
            )
        )
        with self._guard:
            known = self._opened.get(tenant_id)
        if known is not None and known[0] == blobs:
            return known[1]
        values: list[str] = []
        for blob in sorted(blobs):
            try:
                values.extend(_secrets(self.vault.open(blob)))
            except SyncError:  # a credential the vault cannot open shows nothing here
                log.warning("credentials_unreadable", tenant=tenant_id)
        redactor = self.redactor.with_secrets(values)
        with self._guard:
            self._opened[tenant_id] = (blobs, redactor)
        return redactor

    def record(self, session: Session, tenant_id: str, failure: Failure) -> IncidentRow:
        """Write the incident (and open or update its ticket) in ``session``."""
        error = failure.error
        redactor = self.redactor_for(session, tenant_id)
        message = redactor.text(error.message)
        user_message = redactor.text(error.user_message)
        kind = error.kind.value
        operation = error.operation
        entity = (
            error.details.get("entity") if isinstance(error.details.get("entity"), str) else None
        )
        cause = Cause(
            tenant=tenant_id,
            provider=error.provider,
            operation=operation,
            kind=kind,
            code=error.code,
            message=error.message,
            entity=entity or entity_of(operation),
        )
        documents = list(dict.fromkeys([*failure.documents, *error.documents]))
        now = self.clock()
        incident = IncidentRow(
            tenant_id=tenant_id,
            fingerprint=cause.fingerprint,
            stage=failure.stage,
            location_id=failure.location_id or error.location,
            connection_id=failure.connection_id or error.connection,
            provider=error.provider,
            operation=operation,
            kind=kind,
            code=error.code,
            user_message=user_message,
            message=message,
            documents=documents,
            http=[redactor.value(e.as_dict()) for e in failure.http],
            details=redactor.value(dict(error.details)),
            mapping_version=failure.mapping_version,
            subject=failure.subject,
            replay=failure.replay,
            transient=failure.transient,
            failed_at=failure.failed_at,
            recorded_at=now,
        )
        opened: tuple[TicketRow, str] | None = None
        if not failure.transient:
            ticket, change = self._ticket(
                session, tenant_id=tenant_id, cause=cause, incident=incident, error=error, now=now
            )
            opened = (ticket, change) if change is not None else None
            incident.ticket_id = ticket.id
            self._documents(session, ticket, documents, now)
        session.add(incident)
        session.flush()
        if opened is not None and self.on_ticket is not None:
            self.on_ticket(session, *opened)
        return incident

    def healed(self, session: Session, tenant_id: str, subjects: Iterable[str]) -> int:
        """Mark the transient incidents of units that have now succeeded as healed."""
        names = list(subjects)
        if not names:
            return 0
        result = session.execute(
            update(IncidentRow)
            .where(
                IncidentRow.tenant_id == tenant_id,
                IncidentRow.subject.in_(names),
                IncidentRow.transient.is_(True),
                IncidentRow.healed_at.is_(None),
            )
            .values(healed_at=self.clock())
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def _ticket(
        self,
        session: Session,
        *,
        tenant_id: str,
        cause: Cause,
        incident: IncidentRow,
        error: SyncError,
        now: datetime,
    ) -> tuple[TicketRow, str | None]:
        """The ticket of ``cause`` and whether this incident opened or reopened it."""
        fingerprint = cause.fingerprint
        ticket = session.scalar(
            select(TicketRow).where(
                TicketRow.tenant_id == tenant_id, TicketRow.fingerprint == fingerprint
            )
        )
        if ticket is None:
            ticket = self._open(
                session, tenant_id=tenant_id, cause=cause, incident=incident, error=error, now=now
            )
            if ticket.occurrences == 0:  # this call opened it
                ticket.occurrences = 1
                add_event(
                    session,
                    ticket,
                    "opened",
                    now,
                    text=incident.user_message,
                    data={"stage": incident.stage, "subject": incident.subject},
                )
                return ticket, "opened"
        ticket.occurrences += 1
        ticket.last_seen = now
        state = TicketState(ticket.state)
        if not state.active:
            ticket.state = TicketState.ASSIGNED.value if ticket.assignee else TicketState.OPEN.value
            ticket.reopened += 1
            ticket.opened_at = now
            ticket.first_failed_at = incident.failed_at
            ticket.resolved_at = None
            ticket.acknowledged_at = None
            restart_clocks(session, ticket, self.sla, now)
            add_event(
                session,
                ticket,
                "reopened",
                now,
                text=f"The failure came back after the ticket was {state.value}: "
                f"{incident.user_message}",
                data={"subject": incident.subject},
            )
            return ticket, "reopened"
        return ticket, None

    def _open(
        self,
        session: Session,
        *,
        tenant_id: str,
        cause: Cause,
        incident: IncidentRow,
        error: SyncError,
        now: datetime,
    ) -> TicketRow:
        """Insert the ticket unless another transaction just did; return it either way."""
        plan = plan_of(session, tenant_id, self.sla)
        respond_by, resolve_by = self.sla.clocks(plan, now)
        values = {
            "tenant_id": tenant_id,
            "fingerprint": cause.fingerprint,
            "fingerprint_version": VERSION,
            "title": _title(incident),
            "state": TicketState.OPEN.value,
            "kind": incident.kind,
            "code": incident.code,
            "provider": incident.provider,
            "operation": incident.operation,
            "entity": cause.entity,
            "location_id": incident.location_id,
            "connection_id": incident.connection_id,
            "user_message": incident.user_message,
            "help_url": error.help_url,
            "occurrences": 0,
            "first_seen": now,
            "last_seen": now,
            "first_failed_at": incident.failed_at,
            "opened_at": now,
            "escalations": 0,
            "reopened": 0,
            "merchant_action": merchant_can_fix(incident.kind, incident.code),
            "plan": plan,
            "respond_by": respond_by,
            "resolve_by": resolve_by,
        }
        session.execute(
            insert_new(session, TicketRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["tenant_id", "fingerprint"])
        )
        ticket = session.scalar(
            select(TicketRow)
            .where(TicketRow.tenant_id == tenant_id, TicketRow.fingerprint == cause.fingerprint)
            .execution_options(populate_existing=True)
        )
        if ticket is None:  # pragma: no cover - the row was just written or found
            raise RuntimeError(f"ticket {cause.fingerprint} vanished")
        return ticket

    def _documents(
        self, session: Session, ticket: TicketRow, documents: Sequence[str], now: datetime
    ) -> None:
        if not documents:
            return
        known = set(
            session.scalars(
                select(TicketDocumentRow.document_id).where(
                    TicketDocumentRow.ticket_id == ticket.id,
                    TicketDocumentRow.document_id.in_(documents),
                )
            )
        )
        session.add_all(
            TicketDocumentRow(
                ticket_id=ticket.id, document_id=d, tenant_id=ticket.tenant_id, first_seen=now
            )
            for d in documents
            if d not in known
        )


def _title(incident: IncidentRow) -> str:
    where = incident.provider or incident.stage
    what = f"{incident.operation}: " if incident.operation else ""
    code = f" [{incident.code}]" if incident.code else ""
    text = f"{where} {what}{incident.kind}{code}: {incident.user_message}"
    return text if len(text) <= 300 else text[:299] + "…"


_SECRET_WORDS = ("token", "secret", "key", "password", "code", "signature")


def _secrets(data: Any, key: str = "") -> list[str]:
    """The secret strings of a credential document: those under a name that says so
    (tokens, secrets, keys, passwords), not the shop's domain or a token's expiry."""
    if isinstance(data, str):
        secret = any(word in key.lower() for word in _SECRET_WORDS)
        return [data] if secret and not key.lower().endswith(("expires_at", "_type")) else []
    if isinstance(data, dict):
        return [s for k, value in data.items() for s in _secrets(value, str(k))]
    if isinstance(data, list | tuple):
        return [s for value in data for s in _secrets(value, key)]
    return []
