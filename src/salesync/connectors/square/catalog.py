"""The seller's catalog as order lines need it: a variation's SKU, item and category.

Square's order line items name the variation they sold (``catalog_object_id``) but not its
SKU or category (https://developer.squareup.com/reference/square/objects/OrderLineItem),
and salesync maps income by SKU and category. The catalog is listed once per client and
its facts travel with each order record, so translating the record needs nothing else.
"""

from __future__ import annotations

from typing import Any

from salesync.connectors.square.api import SquareApi

Json = dict[str, Any]


def _data(obj: Json, name: str) -> Json:
    data = obj.get(name)
    return data if isinstance(data, dict) else {}


def category_id(item: Json) -> str | None:
    """The category an item reports under: its reporting category, else its first one."""
    data = _data(item, "item_data")
    reporting = data.get("reporting_category")
    if isinstance(reporting, dict) and reporting.get("id"):
        return str(reporting["id"])
    listed = data.get("categories")
    if isinstance(listed, list) and listed and isinstance(listed[0], dict):
        return str(listed[0].get("id") or "") or None
    legacy = data.get("category_id")
    return str(legacy) if legacy else None


def variations(item: Json) -> list[Json]:
    found = _data(item, "item_data").get("variations")
    return [v for v in found if isinstance(v, dict)] if isinstance(found, list) else []


class SquareCatalog:
    """Categories and variation facts of one seller, each listed on first use."""

    def __init__(self, api: SquareApi) -> None:
        self._api = api
        self._categories: dict[str, str] | None = None
        self._facts: dict[str, Json] | None = None

    def categories(self) -> dict[str, str]:
        """Category names by id."""
        if self._categories is None:
            self._categories = {
                str(c["id"]): str(_data(c, "category_data").get("name") or "")
                for c in self._api.pages(
                    "/v2/catalog/list", "catalog.list", "objects", {"types": "CATEGORY"}
                )
                if c.get("id")
            }
        return self._categories

    def category_of(self, item: Json) -> str:
        found = category_id(item)
        return self.categories().get(found, "") if found else ""

    def facts(self) -> dict[str, Json]:
        """``{"sku", "item", "category"}`` of every variation, by variation id."""
        if self._facts is None:
            facts: dict[str, Json] = {}
            for item in self._api.pages(
                "/v2/catalog/list", "catalog.list", "objects", {"types": "ITEM"}
            ):
                name = str(_data(item, "item_data").get("name") or "")
                category = self.category_of(item)
                for variation in variations(item):
                    if not variation.get("id"):
                        continue
                    sku = _data(variation, "item_variation_data").get("sku")
                    facts[str(variation["id"])] = {
                        "sku": str(sku or variation["id"]),
                        "item": name,
                        "category": category,
                    }
            self._facts = facts
        return self._facts
