"""Products in the CRM, copied from the directory as sources change them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from salesync.store.repositories import TenantScoped
from salesync.store.tables import CrmProductRow, ProductRow


class Catalog(TenantScoped):
    def __init__(self, session: Session, tenant_id: str, clock: Callable[[], datetime]) -> None:
        super().__init__(session, tenant_id)
        self.clock = clock

    def sync(self, limit: int = 500) -> int:
        """Copy up to ``limit`` products that are new or changed since the last copy."""
        rows = self.session.execute(
            select(ProductRow, CrmProductRow)
            .outerjoin(
                CrmProductRow,
                and_(
                    CrmProductRow.tenant_id == ProductRow.tenant_id,
                    CrmProductRow.product_id == ProductRow.id,
                ),
            )
            .where(
                ProductRow.tenant_id == self.tenant_id,
                or_(
                    CrmProductRow.product_id.is_(None),
                    CrmProductRow.sku != ProductRow.sku,
                    CrmProductRow.name != ProductRow.name,
                    CrmProductRow.category != ProductRow.category,
                    CrmProductRow.price_minor != ProductRow.price_minor,
                    CrmProductRow.currency != ProductRow.currency,
                ),
            )
            .order_by(ProductRow.id)
            .limit(limit)
        ).all()
        now = self.clock()
        for product, found in rows:
            copy = found or CrmProductRow(tenant_id=self.tenant_id, product_id=product.id)
            if found is None:
                self.session.add(copy)
            copy.sku, copy.name, copy.category = product.sku, product.name, product.category
            copy.price_minor, copy.currency = product.price_minor, product.currency
            copy.synced_at = now
        self.session.flush()
        return len(rows)

    def all(self) -> list[CrmProductRow]:
        return list(
            self.session.scalars(
                select(CrmProductRow)
                .where(CrmProductRow.tenant_id == self.tenant_id)
                .order_by(CrmProductRow.sku, CrmProductRow.product_id)
            )
        )
