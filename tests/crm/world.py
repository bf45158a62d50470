"""A small shop for the CRM tests: the demo tenant's two stores, a Square connection
for customers, sales written by hand, and an engine whose ticks end with the CRM pass."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.crm.feed import CrmFeed
from salesync.domain.documents import (
    DocumentKind,
    Location,
    Payment,
    Sale,
    SaleLine,
    TaxMode,
    document_id,
)
from salesync.domain.money import Money
from salesync.domain.simulate import demo_merchant
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import CrmFiringRow, CrmMessageRow, CrmSaleRow, CrmTaskRow
from salesync.store.vault import Vault, new_key

MERCHANT = demo_merchant(orders_per_day=4)
TENANT = MERCHANT.tenant.id
BROOKLYN: Location = MERCHANT.locations[0]
"""America/New_York; sales sync in the 06:00 and 18:00 windows."""


def local(location: Location, *args: int) -> datetime:
    """An instant given as wall-clock time at ``location``."""
    return datetime(*args, tzinfo=location.zone)  # type: ignore[misc]


def a_sale(
    number: str,
    at: datetime,
    *,
    customer: str | None = None,
    associate: str | None = "Maya",
    amount: str = "40.00",
    location: Location = BROOKLYN,
    source: str = "simulator",
) -> Sale:
    money = Money(Decimal(amount), location.currency)
    return Sale(
        id=document_id(TENANT, source, DocumentKind.SALE, number),
        tenant_id=TENANT,
        location_id=location.id,
        source=source,
        external_id=number,
        occurred_at=at,
        currency=location.currency,
        tax_mode=TaxMode.INCLUSIVE,
        lines=(SaleLine("SCARF-1", "Wool scarf", "Accessories", Decimal(1), money),),
        payments=(Payment("card", money, card_brand="visa"),),
        customer_id=customer,
        associate=associate,
        number=number,
    )


@dataclass
class Shop:
    db: sessionmaker[Session]
    clock: ManualClock
    engine: Engine
    feed: CrmFeed
    square: str
    """The Square connection customers come through."""

    def sell(self, sale: Sale) -> None:
        """The sale's record reaches salesync now."""
        payload = json.dumps(codec.encode(sale))
        self.engine.receive(TENANT, sale.source, "sale", payload)

    def customer(self, square_id: str, given: str, family: str, **fields: Any) -> str:
        """A Square ``customer.created``/``updated`` record arrives; returns its id."""
        body = {"id": square_id, "given_name": given, "family_name": family, **fields}
        self.engine.receive(
            TENANT,
            "square",
            "customer",
            json.dumps(body),
            event_id=f"{square_id}:{self.clock().isoformat()}",
            connection_id=self.square,
        )
        return f"square:{square_id}"

    def variation(self, variation_id: str, name: str, sku: str, cents: int, category: str) -> str:
        """A Square catalog ``item_variation`` record arrives; returns the product id."""
        body = {
            "item": {"id": f"item-{variation_id}", "item_data": {"name": name}},
            "variation": {
                "id": variation_id,
                "item_variation_data": {
                    "name": "Regular",
                    "sku": sku,
                    "price_money": {"amount": cents, "currency": "USD"},
                },
            },
            "category": category,
            "currency": "USD",
        }
        self.engine.receive(
            TENANT,
            "square",
            "item_variation",
            json.dumps(body),
            event_id=f"{variation_id}:{cents}:{category}",
            connection_id=self.square,
        )
        return f"square:{variation_id}"

    def tick_at(self, instant: datetime) -> None:
        self.clock.set(instant)
        self.engine.tick(TENANT)

    def crm_sale(self, sale: Sale) -> CrmSaleRow | None:
        with self.db() as session:
            return session.get(CrmSaleRow, sale.id)

    def firings(self) -> list[CrmFiringRow]:
        with self.db() as session:
            return list(session.scalars(select(CrmFiringRow).order_by(CrmFiringRow.id)))

    def messages(self) -> list[CrmMessageRow]:
        with self.db() as session:
            return list(session.scalars(select(CrmMessageRow).order_by(CrmMessageRow.id)))

    def tasks(self) -> list[CrmTaskRow]:
        with self.db() as session:
            return list(session.scalars(select(CrmTaskRow).order_by(CrmTaskRow.id)))


def open_shop(factory: sessionmaker[Session], start: datetime, **feed: Any) -> Shop:
    clock = ManualClock(start)
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        for location in MERCHANT.locations:
            Locations(session, TENANT).add(location, at=start)
        square = Connections(session, TENANT, Vault([new_key()])).add(
            "square", "source", "Front till", {"access_token": "sq-token"}, {}
        )
    crm = CrmFeed(factory, clock, **feed)
    return Shop(factory, clock, Engine(factory, clock, after=[crm]), crm, square)
