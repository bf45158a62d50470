"""The sender tells itemized books the customer each sale asks for, by the customer policy
of the mapping version its posting was planned under."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.destination import (
    Books,
    DestinationCapabilities,
    Posting,
    Written,
)
from salesync.domain.documents import (
    Customer,
    DocumentKind,
    Payment,
    Sale,
    SaleLine,
    TaxMode,
    document_id,
)
from salesync.domain.money import Money
from salesync.domain.planning import plan_per_order
from salesync.domain.simulate import demo_merchant
from salesync.engine.mappings import Mappings
from salesync.engine.outbox import Outbox
from salesync.engine.sender import Sender
from salesync.rules import CustomerIntent, CustomerPolicy, CustomerRule, retail_default
from salesync.store.documents import Documents
from salesync.store.repositories import Directory

MERCHANT = demo_merchant(orders_per_day=10)
TENANT = MERCHANT.tenant.id
SHOP = MERCHANT.locations[0]
ADA = Customer("c-ada", TENANT, "Ada Lovelace", "ada@example.com")
WALK_IN = CustomerPolicy(CustomerRule.MATCH_BY_EMAIL, "Walk-in")
CREATE = CustomerPolicy(CustomerRule.CREATE)
SOLD_AT = datetime(2026, 10, 28, 15, 0, tzinfo=UTC)


@dataclass
class Keeper:
    """Itemized books that keep every posting they are sent."""

    itemized: bool = True
    sent: list[Posting] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "keeper"

    @property
    def capabilities(self) -> DestinationCapabilities:
        return DestinationCapabilities(
            forms=frozenset({"sales_receipt"}), batch_size=10, itemized=self.itemized
        )

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        self.sent += postings
        return [Written(p.key, ref=f"ref:{p.key}") for p in postings]

    def find(self, keys: Sequence[str]) -> dict[str, str]:
        return {}

    def batch_group(self, posting: Posting) -> str:
        return ""

    def close(self) -> None:
        pass


def a_sale(external_id: str, buyer: Customer | None) -> Sale:
    price = Money(Decimal("12.00"), "USD")
    return Sale(
        id=document_id(TENANT, "pos", DocumentKind.SALE, external_id),
        tenant_id=TENANT,
        location_id=SHOP.id,
        source="pos",
        external_id=external_id,
        occurred_at=SOLD_AT,
        currency="USD",
        tax_mode=TaxMode.EXCLUSIVE,
        lines=(SaleLine("SKU-1", "Apparel", "Apparel", Decimal(1), price),),
        payments=(Payment("card", price),),
        customer_id=buyer.id if buyer is not None else None,
    )


def _setup(
    db: sessionmaker[Session], clock: ManualClock, sales: list[tuple[Sale, int | None]]
) -> None:
    """Publish versions 1 (match_by_email) and 2 (create), store Ada, each sale, and a
    posting of each planned under its version."""
    with db() as session, session.begin():
        mappings = Mappings(session, TENANT)
        mappings.publish(replace(retail_default(1), customer_policy=WALK_IN), clock())
        mappings.publish(replace(retail_default(2), customer_policy=CREATE), clock())
        Directory(session, TENANT).put_customer(ADA)
        documents, outbox = Documents(session, TENANT), Outbox(session, TENANT)
        for sale, version in sales:
            documents.add(sale, SHOP, now=clock())
            planned = plan_per_order(sale, SHOP)
            outbox.enqueue(
                destination="keeper", key=planned.key, mode=planned.mode.value,
                location_id=SHOP.id, entry=planned.entry, documents=(sale.id,), now=clock(),
                mapping_version=version,
            )  # fmt: skip


def _send(db: sessionmaker[Session], clock: ManualClock, keeper: Books) -> None:
    clock.advance(timedelta(seconds=1))
    report = Sender(db, lambda tenant, destination: keeper, clock).send_due(TENANT)
    assert report.posted == 3, report.errors


def test_each_sale_carries_the_customer_policy_of_its_posting_s_mapping_version(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """A posting planned under version 1 carries version 1's policy, though version 2 is
    in force when it is sent; the buyer's name and email come from the source's record,
    and a sale naming no buyer carries none."""
    by_ada, anonymous = a_sale("S-1", ADA), a_sale("S-2", None)
    later = a_sale("S-3", ADA)
    _setup(db, clock, [(by_ada, 1), (anonymous, 1), (later, 2)])
    keeper = Keeper()
    _send(db, clock, keeper)
    intents = {p.documents[0].id: dict(p.customers) for p in keeper.sent}
    assert intents == {
        by_ada.id: {by_ada.id: CustomerIntent(WALK_IN, 1, ADA)},
        anonymous.id: {anonymous.id: CustomerIntent(WALK_IN, 1, None)},
        later.id: {later.id: CustomerIntent(CREATE, 2, ADA)},
    }


def test_postings_planned_without_a_mapping_or_to_plain_books_carry_no_intent(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """The built-in chart plans without a mapping version: its postings carry no intent,
    and books that are not itemized get neither documents nor intents."""
    sales = [(a_sale("S-1", ADA), None), (a_sale("S-2", ADA), 2), (a_sale("S-3", None), 1)]
    _setup(db, clock, sales)
    plain = Keeper(itemized=False)
    _send(db, clock, plain)
    assert [dict(p.customers) for p in plain.sent] == [{}, {}, {}]
