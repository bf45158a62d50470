"""The account a retailer starts with: two shops in two tax regions, a catalog, tenders and
a few customers."""

from __future__ import annotations

from decimal import Decimal

from salesync.sandbox.lightspeed_r.records import (
    Category,
    Customer,
    Item,
    PaymentType,
    Shop,
    TaxCategory,
)
from salesync.sandbox.lightspeed_r.store import LightspeedAccount

SHOPS = (
    ("Harbour Street", "America/New_York", ("NY State", "0.04"), ("NYC", "0.04875")),
    ("Riverside", "America/Chicago", ("IL State", "0.0625"), ("Chicago", "0.04")),
)
CATALOG = (
    ("Apparel", "Merino crew sweater", "89.00", True),
    ("Apparel", "Canvas work shirt", "54.50", True),
    ("Apparel", "Rain shell jacket", "149.99", True),
    ("Footwear", "Trail runner", "119.00", True),
    ("Footwear", "Wool hiking socks", "18.75", True),
    ("Accessories", "Leather belt", "42.00", True),
    ("Accessories", "Knit beanie", "24.00", True),
    ("Accessories", "Insulated bottle", "32.95", True),
    ("Books", "Regional trail guide", "27.50", False),
    ("Services", "Boot resoling", "65.00", False),
)
TENDERS = (
    ("Cash", "cash"),
    ("Credit Card", "credit card"),
    ("Debit Card", "debit card"),
    ("Check", "check"),
    ("Gift Card", "gift card"),
)
PEOPLE = (
    ("Ada", "Okafor", "", "ada.okafor@example.com", "+1 212 555 0101"),
    ("Bruno", "Silva", "", "bruno@example.com", ""),
    ("Chen", "Wei", "", "", "+1 312 555 0199"),
    ("", "", "Northwind Guides", "orders@northwind.example.com", ""),
    ("Dana", "Kowalski", "", "dana.k@example.com", "+1 646 555 0144"),
    ("Emeka", "Obi", "", "", ""),
)


def seed_account(account: LightspeedAccount) -> None:
    """Fill an empty account with its shops, catalog, tenders and first customers."""
    now = account.clock()
    data = account.data
    for name, zone, (name1, rate1), (name2, rate2) in SHOPS:
        tax = TaxCategory(account.next_id(), name1, Decimal(rate1), name2, Decimal(rate2))
        data.tax_categories[tax.id] = tax
        shop = Shop(account.next_id(), name, zone, tax.id, now)
        data.shops[shop.id] = shop
    categories: dict[str, Category] = {}
    for category_name, description, price, taxable in CATALOG:
        if category_name not in categories:
            categories[category_name] = Category(account.next_id(), category_name)
            data.categories[categories[category_name].id] = categories[category_name]
        item_id = account.next_id()
        data.items[item_id] = Item(
            item_id,
            system_sku=f"21000000{item_id:04d}",
            custom_sku=f"HO-{item_id:04d}",
            description=description,
            category_id=categories[category_name].id,
            price=Decimal(price),
            taxable=taxable,
            time_stamp=now,
        )
    for tender, kind in TENDERS:
        payment = PaymentType(account.next_id(), tender, kind)
        data.payment_types[payment.id] = payment
    for person in PEOPLE:
        add_customer(account, person)


def add_customer(account: LightspeedAccount, person: tuple[str, str, str, str, str]) -> Customer:
    """A customer of (first name, last name, company, email, phone)."""
    first, last, company, email, phone = person
    now = account.clock()
    customer = Customer(account.next_id(), first, last, company, email, phone, now, now)
    account.data.customers[customer.id] = customer
    return customer
