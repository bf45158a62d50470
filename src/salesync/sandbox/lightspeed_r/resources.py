"""The resources the sandbox lists, each as R-Series shows it, and the one write it takes.

A list answers ``{"@attributes": {...}, "<Resource>": ...}`` where a page of one object
holds that object and an empty page leaves the key out, as R-Series does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from salesync.sandbox.lightspeed_r import errors
from salesync.sandbox.lightspeed_r.query import list_objects, relations
from salesync.sandbox.lightspeed_r.records import Customer, Json
from salesync.sandbox.lightspeed_r.store import LightspeedAccount
from salesync.sandbox.lightspeed_r.views import line_view, sale_view

Views = Callable[[LightspeedAccount, set[str]], list[Json]]


@dataclass(frozen=True, slots=True)
class Resource:
    id_field: str
    views: Views


def _sales(account: LightspeedAccount, wanted: set[str]) -> list[Json]:
    return [sale_view(s, account.data, wanted) for s in account.data.sales.values()]


def _sale_lines(account: LightspeedAccount, wanted: set[str]) -> list[Json]:
    data = account.data
    return [line_view(s, li, data, wanted) for s in data.sales.values() for li in s.lines]


def _customers(account: LightspeedAccount, wanted: set[str]) -> list[Json]:
    return [c.view(wanted) for c in account.data.customers.values()]


def _items(account: LightspeedAccount, wanted: set[str]) -> list[Json]:
    data = account.data
    return [i.view(data.categories, wanted) for i in data.items.values()]


def _shops(account: LightspeedAccount, wanted: set[str]) -> list[Json]:
    return [s.view() for s in account.data.shops.values()]


def _payment_types(account: LightspeedAccount, wanted: set[str]) -> list[Json]:
    return [p.view() for p in account.data.payment_types.values()]


def _categories(account: LightspeedAccount, wanted: set[str]) -> list[Json]:
    return [c.view() for c in account.data.categories.values()]


def _tax_categories(account: LightspeedAccount, wanted: set[str]) -> list[Json]:
    return [t.view() for t in account.data.tax_categories.values()]


RESOURCES: dict[str, Resource] = {
    "Sale": Resource("saleID", _sales),
    "SaleLine": Resource("saleLineID", _sale_lines),
    "Customer": Resource("customerID", _customers),
    "Item": Resource("itemID", _items),
    "Shop": Resource("shopID", _shops),
    "PaymentType": Resource("paymentTypeID", _payment_types),
    "Category": Resource("categoryID", _categories),
    "TaxCategory": Resource("taxCategoryID", _tax_categories),
}


EVERY_RELATION = (
    "SaleLines",
    "SaleLines.Item",
    "SaleLines.Item.Category",
    "SalePayments",
    "SalePayments.PaymentType",
    "TaxCategory",
    "Customer",
    "Category",
    "ItemPrices",
    "Contact",
)


def _wanted(params: Mapping[str, str]) -> set[str]:
    found = relations(params)
    return set(EVERY_RELATION) if "all" in found else found


def page(
    account: LightspeedAccount,
    resource: str,
    params: Mapping[str, str],
    page_url: Callable[[dict[str, str]], str],
) -> Json:
    """One page of ``resource`` as the API answers it."""
    kind = RESOURCES[resource]
    listing = list_objects(kind.views(account, _wanted(params)), kind.id_field, params, page_url)
    body: Json = {"@attributes": listing.attributes}
    if listing.objects:
        body[resource] = listing.objects[0] if len(listing.objects) == 1 else listing.objects
    return body


def one(
    account: LightspeedAccount, resource: str, object_id: str, params: Mapping[str, str]
) -> Json:
    """One object by id, or R-Series' 404."""
    kind = RESOURCES.get(resource)
    if kind is None:
        raise errors.not_found("Resource", resource)
    for view in kind.views(account, _wanted(params)):
        if view[kind.id_field] == object_id:
            return {resource: view}
    raise errors.not_found(resource, object_id)


def create_customer(account: LightspeedAccount, raw: bytes) -> Json:
    """``POST Customer.json`` with ``firstName``, ``lastName`` and optional ``company``."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise errors.bad_request("The request body is not valid JSON.") from None
    if not isinstance(body, dict) or not (body.get("firstName") or body.get("company")):
        raise errors.bad_request("A customer needs a firstName or a company.")
    now = account.clock()
    customer = Customer(
        account.next_id(),
        str(body.get("firstName") or ""),
        str(body.get("lastName") or ""),
        str(body.get("company") or ""),
        "",
        "",
        now,
        now,
    )
    account.data.customers[customer.id] = customer
    return {"Customer": customer.view({"Contact"})}
