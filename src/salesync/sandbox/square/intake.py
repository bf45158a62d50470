"""CreateOrder: the request checked field by field, priced, stored once per idempotency key.

The same ``idempotency_key`` with the same request returns the first response again; with a
different request it is refused with ``IDEMPOTENCY_KEY_REUSED``
(https://developer.squareup.com/docs/working-with-apis/idempotency,
https://developer.squareup.com/reference/square/enums/ErrorCode).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from salesync.sandbox.square import errors
from salesync.sandbox.square.order_views import order_json
from salesync.sandbox.square.orders import (
    Order,
    OrderDiscount,
    OrderServiceCharge,
    OrderTax,
    Scope,
)
from salesync.sandbox.square.pricing import LineDraft
from salesync.sandbox.square.records import ItemVariation
from salesync.sandbox.square.sales import SquareTill
from salesync.sandbox.square.seller import Remembered, SquareSeller

Json = dict[str, Any]
IDEMPOTENCY_KEY_MAX = 192


def _list(value: object, field: str) -> list[Json]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise errors.invalid("EXPECTED_ARRAY", f"Expected a list of objects for '{field}'.", field)
    return value


def _decimal(value: object, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation as error:
        raise errors.invalid("INVALID_VALUE", f"Not a decimal: {value!r}.", field) from error
    if not number.is_finite() or number < 0:
        raise errors.invalid("INVALID_VALUE", f"Not a valid percentage: {value!r}.", field)
    return number


def _amount(value: object, currency: str, field: str) -> int:
    if not isinstance(value, dict) or not isinstance(value.get("amount"), int):
        raise errors.invalid(
            "INVALID_VALUE", "Expected a Money object with an integer amount.", field
        )
    if value.get("currency", currency) != currency:
        raise errors.invalid(
            "INVALID_VALUE",
            f"The currency must be the location's ({currency}).",
            f"{field}.currency",
        )
    amount: int = value["amount"]
    if amount < 0:
        raise errors.invalid("VALUE_TOO_LOW", "Amounts must not be negative.", f"{field}.amount")
    return amount


class OrderIntake:
    """Turns CreateOrder requests into orders for one seller."""

    def __init__(self, seller: SquareSeller, till: SquareTill) -> None:
        self.seller = seller
        self.till = till

    def create(self, client_id: str, body: Json) -> tuple[int, Json]:
        """Answer one CreateOrder request, replaying the first answer for a repeated key."""
        key = body.get("idempotency_key")
        if key is not None and (not isinstance(key, str) or len(key) > IDEMPOTENCY_KEY_MAX):
            raise errors.invalid(
                "VALUE_TOO_LONG", "idempotency_key must be a string of at most 192 characters.",
                "idempotency_key",
            )  # fmt: skip
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if key:
            remembered = self.seller.idempotency.get((client_id, key))
            if remembered is not None:
                if remembered.request_digest != digest:
                    raise errors.invalid(
                        "IDEMPOTENCY_KEY_REUSED",
                        "The idempotency key can only be retried with the same request data.",
                        "idempotency_key",
                    )
                return remembered.status, remembered.body
        order = self._order(body.get("order"))
        answer: Json = {"order": order_json(order)}
        if key:
            self.seller.idempotency[(client_id, key)] = Remembered(digest, 200, answer)
        return 200, answer

    def _order(self, raw: object) -> Order:
        if not isinstance(raw, dict):
            raise errors.missing("order")
        location_id = raw.get("location_id")
        if not location_id:
            raise errors.missing("order.location_id")
        location = self.seller.data.locations.get(str(location_id))
        if location is None:
            raise errors.not_found("Location", str(location_id))
        if raw.get("state", "OPEN") != "OPEN":
            raise errors.invalid(
                "INVALID_VALUE", "A new order without payments must be OPEN.", "order.state"
            )
        currency = location.currency
        raw_lines = _list(raw.get("line_items"), "order.line_items")
        taxes = self._taxes(raw, raw_lines)
        discounts = self._discounts(raw, currency)
        lines = [
            self._line(line, f"order.line_items[{i}]", currency, taxes, discounts)
            for i, line in enumerate(raw_lines)
        ]
        charges = [
            OrderServiceCharge(
                uid=str(c.get("uid") or self.till.uid()),
                name=str(c.get("name") or "Service charge"),
                percentage=_decimal(c["percentage"], f"order.service_charges[{i}].percentage")
                if c.get("percentage") is not None
                else None,
                amount=_amount(c.get("amount_money"), currency, f"order.service_charges[{i}]")
                if c.get("percentage") is None
                else 0,
            )
            for i, c in enumerate(_list(raw.get("service_charges"), "order.service_charges"))
        ]
        customer_id = raw.get("customer_id")
        if customer_id and customer_id not in self.seller.data.customers:
            raise errors.invalid("CUSTOMER_NOT_FOUND", "Unknown customer_id.", "order.customer_id")
        return self.till.create(
            location.id,
            lines,
            list(taxes.values()),
            list(discounts.values()),
            charges,
            customer_id=str(customer_id) if customer_id else None,
            reference_id=raw.get("reference_id"),
            source_name=str((raw.get("source") or {}).get("name") or "salesync"),
        )

    def _taxes(self, raw: Json, lines: list[Json]) -> dict[str, OrderTax]:
        referenced = {
            str(a.get("tax_uid")) for line in lines for a in _list(line.get("applied_taxes"), "")
        }
        taxes: dict[str, OrderTax] = {}
        for i, tax in enumerate(_list(raw.get("taxes"), "order.taxes")):
            field = f"order.taxes[{i}]"
            uid = str(tax.get("uid") or self.till.uid())
            scope: Scope = "LINE_ITEM" if uid in referenced else "ORDER"
            catalog_id = tax.get("catalog_object_id")
            if catalog_id:
                found = self.seller.data.taxes.get(str(catalog_id))
                if found is None:
                    raise errors.not_found("Tax", str(catalog_id))
                taxes[uid] = OrderTax(
                    uid, found.name, found.percentage, found.inclusion_type, scope, found.id
                )
                continue
            kind = tax.get("type", "ADDITIVE")
            if kind not in ("ADDITIVE", "INCLUSIVE"):
                raise errors.invalid("INVALID_ENUM_VALUE", f"Unknown tax type {kind!r}.", field)
            if tax.get("percentage") is None:
                raise errors.missing(f"{field}.percentage")
            percentage = _decimal(tax["percentage"], f"{field}.percentage")
            taxes[uid] = OrderTax(uid, str(tax.get("name") or "Tax"), percentage, kind, scope)
        return taxes

    def _discounts(self, raw: Json, currency: str) -> dict[str, OrderDiscount]:
        discounts: dict[str, OrderDiscount] = {}
        for i, discount in enumerate(_list(raw.get("discounts"), "order.discounts")):
            field = f"order.discounts[{i}]"
            uid = str(discount.get("uid") or self.till.uid())
            scope: Scope = "LINE_ITEM" if discount.get("scope") == "LINE_ITEM" else "ORDER"
            name = str(discount.get("name") or "Discount")
            if discount.get("percentage") is not None:
                percentage = _decimal(discount["percentage"], f"{field}.percentage")
                discounts[uid] = OrderDiscount(uid, name, "FIXED_PERCENTAGE", scope, percentage)
            else:
                amount = _amount(discount.get("amount_money"), currency, f"{field}.amount_money")
                discounts[uid] = OrderDiscount(uid, name, "FIXED_AMOUNT", scope, amount=amount)
        return discounts

    def _line(
        self,
        line: Json,
        field: str,
        currency: str,
        taxes: dict[str, OrderTax],
        discounts: dict[str, OrderDiscount],
    ) -> LineDraft:
        quantity = str(line.get("quantity") or "")
        if not quantity.isdigit() or int(quantity) < 1:
            raise errors.invalid(
                "INVALID_VALUE", "quantity must be a positive whole number as a string.",
                f"{field}.quantity",
            )  # fmt: skip
        tax_uids = tuple(str(a.get("tax_uid")) for a in _list(line.get("applied_taxes"), field))
        discount_uids = tuple(
            str(a.get("discount_uid")) for a in _list(line.get("applied_discounts"), field)
        )
        for uid in tax_uids:
            if uid not in taxes:
                raise errors.invalid(
                    "INVALID_VALUE", f"No tax with uid {uid}.", f"{field}.applied_taxes"
                )
        for uid in discount_uids:
            if uid not in discounts:
                raise errors.invalid(
                    "INVALID_VALUE", f"No discount with uid {uid}.", f"{field}.applied_discounts"
                )
        variation = self._variation(line.get("catalog_object_id"))
        if variation is None and line.get("base_price_money") is None:
            raise errors.missing(f"{field}.base_price_money")
        price = (
            _amount(line["base_price_money"], currency, f"{field}.base_price_money")
            if line.get("base_price_money") is not None
            else variation.price
            if variation
            else 0
        )
        item = self.seller.data.items.get(variation.item_id) if variation else None
        return LineDraft(
            uid=str(line.get("uid") or self.till.uid()),
            name=str(line.get("name") or (item.name if item else "Custom Amount")),
            quantity=int(quantity),
            base_price=price,
            catalog_object_id=variation.id if variation else None,
            variation_name=variation.name if variation else None,
            tax_uids=tax_uids,
            discount_uids=discount_uids,
        )

    def _variation(self, catalog_object_id: object) -> ItemVariation | None:
        if not catalog_object_id:
            return None
        for item in self.seller.data.items.values():
            for variation in item.variations:
                if variation.id == catalog_object_id:
                    return variation
        raise errors.not_found("Item variation", str(catalog_object_id))
