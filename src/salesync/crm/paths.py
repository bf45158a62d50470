"""How each integration's sales reach the CRM: in batches at the sync windows, as they
happen, or when someone presses "Sync now". It is data (the tenant's sync policies for
sales), and the merchant sees it on the Clienteling page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.engine.policies import MANUAL_SOURCE, SyncMode, SyncPolicy, default_policy
from salesync.store.tables import ConnectionRow, SyncPolicyRow

EVERY_SOURCE = "*"


@dataclass(frozen=True, slots=True)
class SalesPath:
    """One integration and how its sales reach the CRM."""

    source: str
    mode: SyncMode
    said: str


def _said(policy: SyncPolicy) -> str:
    if policy.mode is SyncMode.REALTIME:
        return "streamed: each sale as it happens"
    if policy.mode is SyncMode.MANUAL:
        return 'held until someone presses "Sync now"'
    times = ", ".join(w.strftime("%H:%M") for w in policy.windows)
    return f"batched: at {times}, each location's own time"


def sales_paths(session: Session, tenant_id: str) -> list[SalesPath]:
    """Each source the tenant has connected, and manual entry, with its sales' path."""
    rows = session.scalars(
        select(SyncPolicyRow).where(
            SyncPolicyRow.tenant_id == tenant_id, SyncPolicyRow.kind == "sale"
        )
    )
    set_for = {r.source: SyncPolicy.parse_windows(r.mode, r.windows) for r in rows}
    connected = session.scalars(
        select(ConnectionRow.provider)
        .where(ConnectionRow.tenant_id == tenant_id, ConnectionRow.role == "source")
        .distinct()
    )
    paths = []
    for source in [*sorted(set(connected)), MANUAL_SOURCE]:
        policy = (
            set_for.get(source)
            or (set_for.get(EVERY_SOURCE) if source != MANUAL_SOURCE else None)
            or default_policy("sale", source)
        )
        paths.append(SalesPath(source, policy.mode, _said(policy)))
    return paths
