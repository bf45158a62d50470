"""The customer each posted sale asks the books for, under its posting's mapping version.

A posting is placed by the mapping version it was planned under; its sales' customers
are decided by that same version's customer policy, not by whichever is latest when the
posting is sent (a posting held for days and released after a new version keeps its
own). Mappings and the buyers' records are read once for a batch of postings.
"""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.domain.documents import Customer, Payout, Refund, Sale
from salesync.engine.mappings import Mappings
from salesync.rules.customers import CustomerIntent
from salesync.store.tables import CustomerRow

LOOKUP_CHUNK = 500
"""Customer ids per ``IN (...)`` read."""


def customer_intents(
    session: Session,
    tenant_id: str,
    versions: AbcMapping[int, int | None],
    documents: AbcMapping[int, Sequence[Sale | Refund | Payout]],
) -> dict[int, dict[str, CustomerIntent]]:
    """For each posting (by id) planned under a mapping version, the intent of each sale
    it covers, by sale id. Postings planned with the built-in chart get none."""
    planned = {p: v for p, v in versions.items() if v is not None}
    sales = {p: [d for d in documents.get(p, ()) if isinstance(d, Sale)] for p in planned}
    if not any(sales.values()):
        return {}
    history = Mappings(session, tenant_id)
    buyers = _buyers(session, tenant_id, {s.customer_id for found in sales.values() for s in found})
    out: dict[int, dict[str, CustomerIntent]] = {}
    for posting_id, version in planned.items():
        if not sales[posting_id]:
            continue
        policy = history.at(version).customer_policy
        out[posting_id] = {
            sale.id: CustomerIntent(
                policy,
                version,
                buyers.get(sale.customer_id) if sale.customer_id is not None else None,
            )
            for sale in sales[posting_id]
        }
    return out


def _buyers(session: Session, tenant_id: str, ids: set[str | None]) -> dict[str, Customer]:
    wanted = sorted(i for i in ids if i is not None)
    found: dict[str, Customer] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        rows = session.scalars(
            select(CustomerRow).where(
                CustomerRow.tenant_id == tenant_id,
                CustomerRow.id.in_(wanted[start : start + LOOKUP_CHUNK]),
            )
        )
        for row in rows:
            found[row.id] = Customer(row.id, tenant_id, row.name, row.email, row.phone)
    return found
