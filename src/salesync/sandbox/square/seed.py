"""The seller's starting point: two locations, a catalog with categories and taxes, customers.

Both locations are in California, as one Square account's locations share a country. The
Mission Street café adds San Francisco sales tax on top of its prices; the Oakland kiosk
prices tax-inclusive, which Square supports with an ``INCLUSIVE`` tax
(https://developer.squareup.com/docs/orders-api/apply-taxes-and-discounts).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from salesync.sandbox.square.pages import rfc3339
from salesync.sandbox.square.records import (
    CatalogCategory,
    CatalogItem,
    CatalogTax,
    ItemVariation,
    SquareCustomer,
    SquareLocation,
)
from salesync.sandbox.square.seller import SquareSeller
from salesync.sandbox.square.views import customer_json

LOCATIONS = (
    ("Mission Street Café", "2301 Mission St", "San Francisco", "94110", "8.625", "ADDITIVE"),
    ("Oakland Kiosk", "1 Frank H Ogawa Plaza", "Oakland", "94612", "10.25", "INCLUSIVE"),
)
CATALOG = (
    ("Coffee", "Latte", (("Small", 450), ("Large", 525))),
    ("Coffee", "Drip coffee", (("Regular", 300),)),
    ("Coffee", "Cold brew", (("Regular", 475),)),
    ("Bakery", "Croissant", (("Butter", 375), ("Almond", 425))),
    ("Bakery", "Banana bread", (("Slice", 400),)),
    ("Retail", "Whole bean 12oz", (("Ethiopia", 1800), ("Colombia", 1700))),
    ("Retail", "Ceramic mug", (("Regular", 2200),)),
)
PEOPLE = (
    ("Ana", "Silva"), ("Ben", "Okafor"), ("Chloe", "Martin"), ("Dev", "Patel"),
    ("Emi", "Tanaka"), ("Femi", "Adeyemi"), ("Greta", "Lind"), ("Hugo", "Moreau"),
    ("Iris", "Novak"), ("Jon", "Berg"),
)  # fmt: skip


def seed_seller(seller: SquareSeller, customers: int = 6) -> None:
    """Create the locations, catalog and first customers, firing their webhooks."""
    now = seller.now()
    taxes: list[CatalogTax] = []
    for name, street, city, postal, rate, inclusion in LOCATIONS:
        location = SquareLocation(
            id=seller.new_id(13),
            name=name,
            address_line_1=street,
            locality=city,
            region="CA",
            postal_code=postal,
            country="US",
            timezone="America/Los_Angeles",
            currency="USD",
            created_at=now,
        )
        tax = CatalogTax(
            id=seller.new_id(24),
            name=f"{city} sales tax" + (" (included)" if inclusion == "INCLUSIVE" else ""),
            percentage=Decimal(rate),
            inclusion_type="INCLUSIVE" if inclusion == "INCLUSIVE" else "ADDITIVE",
            location_ids=(location.id,),
            version=1,
            updated_at=now,
        )
        taxes.append(tax)
        with seller.lock:
            seller.data.locations[location.id] = location
            seller.data.taxes[tax.id] = tax
    categories: dict[str, CatalogCategory] = {}
    for category_name, item_name, variations in CATALOG:
        category = categories.get(category_name)
        if category is None:
            category = CatalogCategory(seller.new_id(24), category_name, 1, now)
            categories[category_name] = category
        item_id = seller.new_id(24)
        item = CatalogItem(
            id=item_id,
            name=item_name,
            category_id=category.id,
            tax_ids=tuple(t.id for t in taxes),
            variations=tuple(
                ItemVariation(
                    id=seller.new_id(24),
                    item_id=item_id,
                    name=variation,
                    sku=f"{item_name[:4].upper()}-{index + 1:02d}",
                    price=price,
                    currency="USD",
                    version=1,
                    updated_at=now,
                )
                for index, (variation, price) in enumerate(variations)
            ),
            version=1,
            updated_at=now,
        )
        with seller.lock:
            seller.data.categories[category.id] = category
            seller.data.items[item.id] = item
    catalog_updated(seller)
    for first, last in PEOPLE[:customers]:
        add_customer(seller, first, last)


def catalog_updated(seller: SquareSeller) -> None:
    """Announce a catalog change the way Square does: one version timestamp, no objects."""
    seller.emit(
        "catalog.version.updated",
        "catalog",
        "",
        {"catalog_version": {"updated_at": rfc3339(seller.now())}},
    )


def add_customer(seller: SquareSeller, first: str, last: str) -> SquareCustomer:
    now = seller.now()
    customer = SquareCustomer(
        id=seller.new_id(26),
        given_name=first,
        family_name=last,
        email_address=f"{first.lower()}.{last.lower()}{len(seller.data.customers) + 1}@example.com",
        phone_number=None,
        created_at=now,
        updated_at=now,
    )
    with seller.lock:
        seller.data.customers[customer.id] = customer
    seller.emit("customer.created", "customer", customer.id, {"customer": customer_json(customer)})
    return customer


def update_customer(seller: SquareSeller, customer: SquareCustomer, phone: str) -> SquareCustomer:
    changed = replace(
        customer, phone_number=phone, updated_at=seller.now(), version=customer.version + 1
    )
    with seller.lock:
        seller.data.customers[changed.id] = changed
    seller.emit("customer.updated", "customer", changed.id, {"customer": customer_json(changed)})
    return changed
