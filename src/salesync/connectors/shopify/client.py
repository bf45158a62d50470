"""A connection's Shopify store, opened for reading: the sweep's streams, history for a
backfill, the store's locations and shop details, and its webhook subscriptions.

Records are stored as Shopify gave them, serialised one canonical way (sorted keys), so
reading an unchanged order twice gives the same payload and the inbox keeps one copy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from salesync.connectors.shopify import queries
from salesync.connectors.shopify.admin import ShopifyAdmin
from salesync.connectors.shopify.cursor import SweepCursor, search_time
from salesync.connectors.shopify.orders import legacy_id
from salesync.connectors.shopify.problems import SOURCE
from salesync.connectors.shopify.webhooks import TOPICS
from salesync.connectors.source import Page, SourceRecord
from salesync.domain.errors import BugError, ValidationError
from salesync.domain.validation import Problem

Json = dict[str, Any]
Batch = tuple[list[SourceRecord], list[datetime], bool, str | None]
"""A page read: its records, when each was changed, whether there is more, and where."""

STREAMS = ("orders", "customers", "products", "payouts")


@dataclass(frozen=True, slots=True)
class ShopifyLocation:
    """A location of the store, to map to a salesync location in the settings."""

    id: str
    name: str
    active: bool
    online: bool
    """Whether it fulfils online orders."""


@dataclass(frozen=True, slots=True)
class ShopInfo:
    domain: str
    name: str
    currency: str
    timezone: str


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _field(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...``, or a ``BugError`` naming where the answer is wrong."""
    for i, key in enumerate(path):
        if not isinstance(data, dict) or key not in data:
            where = ".".join(path[: i + 1])
            raise BugError(f"Shopify's answer has no {where}", code="shopify_shape")
        data = data[key]
    return data


def _nodes(connection: Any, what: str) -> tuple[list[Json], bool, str | None]:
    """A connection's nodes, whether it has more, and the cursor to ask for them."""
    nodes = _field(connection, "nodes")
    info = _field(connection, "pageInfo")
    if not isinstance(nodes, list) or not isinstance(info, dict):
        raise BugError(f"Shopify's {what} connection is malformed", code="shopify_shape")
    end = info.get("endCursor")
    return nodes, bool(info.get("hasNextPage")), None if end is None else str(end)


def _changed(node: Json, key: str) -> datetime:
    return datetime.fromisoformat(str(_field(node, key)))


class ShopifyClient:
    """A ``SourceClient`` on one Shopify store."""

    def __init__(self, admin: ShopifyAdmin) -> None:
        self.admin = admin
        self._streams: dict[str, tuple[str, Callable[[str | None, str | None], Batch]]] = {
            "orders": ("updated_at", lambda q, a: self._orders(q, a, "UPDATED_AT")),
            "customers": ("updated_at", self._customers),
            "products": ("updated_at", self._products),
            "payouts": ("issued_at", self._payouts),
        }

    @property
    def name(self) -> str:
        return SOURCE

    @property
    def connection_id(self) -> str | None:
        return self.admin.connection_id

    def close(self) -> None:
        self.admin.close()

    # -- the Source protocol ---------------------------------------------------------------

    def fetch(self, stream: str, cursor: str | None) -> Page:
        """The next page of ``stream`` changed since ``cursor``; see ``cursor.py``."""
        known = self._streams.get(stream)
        if known is None:
            raise ValidationError(
                f"Shopify has no stream {stream!r}",
                code="unknown_stream",
                provider=SOURCE,
                problems=(
                    Problem("unknown_stream", f"streams are {', '.join(STREAMS)}", "stream"),
                ),
            )
        field, read = known
        position = SweepCursor.decode(cursor)
        records, changed, more, after = read(position.search(field), position.after)
        return Page(tuple(records), position.next(changed, after, more).encode(), more)

    def history(self, start: datetime, end: datetime) -> Iterator[SourceRecord]:
        """Orders processed in ``[start, end)`` with all their refunds so far, then the
        payouts issued in it."""
        for field, read in (
            ("processed_at", lambda q, a: self._orders(q, a, "PROCESSED_AT")),
            ("issued_at", self._payouts),
        ):
            search = f"{field}:>='{search_time(start)}' {field}:<'{search_time(end)}'"
            after: str | None = None
            while True:
                records, _, more, after = read(search, after)
                yield from records
                if not more:
                    break

    # -- streams -------------------------------------------------------------------------

    def _orders(self, search: str | None, after: str | None, sort: str) -> Batch:
        variables = {"first": queries.ORDERS_PAGE, "after": after, "query": search, "sortKey": sort}
        data = self.admin.graphql("SalesyncOrders", queries.ORDERS, variables)
        nodes, more, end = _nodes(_field(data, "orders"), "orders")
        records: list[SourceRecord] = []
        for node in nodes:
            order = self._whole_order(node)
            records.append(SourceRecord("order_node", canonical(order)))
            for refund in order.get("refunds") or []:
                wrapped = {"refund_id": _field(refund, "legacyResourceId"), "order": order}
                records.append(SourceRecord("order_node_refund", canonical(wrapped)))
        return records, [_changed(n, "updatedAt") for n in nodes], more, end

    def _whole_order(self, node: Json) -> Json:
        """The order with every line item and refund line, paged in when Shopify's first
        page held only part of them."""
        lines = _field(node, "lineItems")
        items, more, after = _nodes(lines, "line items")
        while more:
            data = self.admin.graphql(
                "SalesyncOrderLines", queries.MORE_LINE_ITEMS, {"id": node["id"], "after": after}
            )
            if data.get("order") is None:
                break
            page, more, after = _nodes(_field(data, "order", "lineItems"), "line items")
            items = items + page
        whole = dict(node)
        whole["lineItems"] = {"nodes": items, "pageInfo": {"hasNextPage": more}}
        refunds = node.get("refunds") or []
        if any(
            _nodes(_field(r, part), "refund")[1]
            for r in refunds
            for part in ("refundLineItems", "transactions")
        ):
            data = self.admin.graphql(
                "SalesyncOrderRefunds", queries.MORE_REFUNDS, {"id": node["id"]}
            )
            if data.get("order") is not None:
                whole["refunds"] = _field(data, "order", "refunds")
        return whole

    def _customers(self, search: str | None, after: str | None) -> Batch:
        variables = {"first": queries.CUSTOMERS_PAGE, "after": after, "query": search}
        data = self.admin.graphql("SalesyncCustomers", queries.CUSTOMERS, variables)
        nodes, more, end = _nodes(_field(data, "customers"), "customers")
        records = [SourceRecord("customer_node", canonical(n)) for n in nodes]
        return records, [_changed(n, "updatedAt") for n in nodes], more, end

    def _products(self, search: str | None, after: str | None) -> Batch:
        variables = {"first": queries.PRODUCTS_PAGE, "after": after, "query": search}
        data = self.admin.graphql("SalesyncProducts", queries.PRODUCTS, variables)
        nodes, more, end = _nodes(_field(data, "products"), "products")
        records: list[SourceRecord] = []
        for node in nodes:
            product = self._whole_product(node)
            for variant in product["variants"]["nodes"]:
                wrapped = {"variant_id": _field(variant, "legacyResourceId"), "product": product}
                records.append(SourceRecord("product_node", canonical(wrapped)))
        return records, [_changed(n, "updatedAt") for n in nodes], more, end

    def _whole_product(self, node: Json) -> Json:
        variants, more, after = _nodes(_field(node, "variants"), "variants")
        while more:
            data = self.admin.graphql(
                "SalesyncProductVariants", queries.MORE_VARIANTS, {"id": node["id"], "after": after}
            )
            if data.get("product") is None:
                break
            page, more, after = _nodes(_field(data, "product", "variants"), "variants")
            variants = variants + page
        return {**node, "variants": {"nodes": variants, "pageInfo": {"hasNextPage": more}}}

    def _payouts(self, search: str | None, after: str | None) -> Batch:
        variables = {"first": queries.PAYOUTS_PAGE, "after": after, "query": search}
        data = self.admin.graphql("SalesyncPayouts", queries.PAYOUTS, variables)
        account = _field(data, "shopifyPaymentsAccount")
        if account is None:
            return [], [], False, None
        nodes, more, end = _nodes(_field(account, "payouts"), "payouts")
        records = [SourceRecord("payout", canonical(self._whole_payout(n))) for n in nodes]
        return records, [_changed(n, "issuedAt") for n in nodes], more, end

    def _whole_payout(self, node: Json) -> Json:
        """The payout with every balance transaction it swept and, for each refunded
        order transaction among them, the refund it belongs to."""
        rows: list[Json] = []
        search = f"payments_transfer_id:{_field(node, 'legacyResourceId')}"
        after: str | None = None
        while True:
            variables = {"first": queries.BALANCE_PAGE, "after": after, "query": search}
            data = self.admin.graphql("SalesyncBalance", queries.BALANCE_TRANSACTIONS, variables)
            balance = _field(data, "shopifyPaymentsAccount", "balanceTransactions")
            page, more, after = _nodes(balance, "balance transactions")
            rows += page
            if not more:
                break
        orders = sorted(
            {
                _field(r, "associatedOrder", "id")
                for r in rows
                if r.get("type") == "REFUND" and r.get("associatedOrder")
            }
        )
        refunds: dict[str, str] = {}
        for order_id in orders:
            data = self.admin.graphql(
                "SalesyncRefundTransactions", queries.REFUND_TRANSACTIONS, {"id": order_id}
            )
            for refund in (data.get("order") or {}).get("refunds") or []:
                for txn in _field(refund, "transactions", "nodes"):
                    refunds[legacy_id(_field(txn, "id"))] = str(refund["legacyResourceId"])
        return {"payout": node, "balance_transactions": rows, "refunds": refunds}

    # -- the store -------------------------------------------------------------------------

    def locations(self) -> tuple[ShopifyLocation, ...]:
        """Every location of the store, active or not."""
        found: list[ShopifyLocation] = []
        after: str | None = None
        while True:
            variables = {"first": queries.LOCATIONS_PAGE, "after": after}
            data = self.admin.graphql("SalesyncLocations", queries.LOCATIONS, variables)
            nodes, more, after = _nodes(_field(data, "locations"), "locations")
            found += [
                ShopifyLocation(
                    str(_field(n, "legacyResourceId")),
                    str(n.get("name") or ""),
                    bool(n.get("isActive")),
                    bool(n.get("fulfillsOnlineOrders")),
                )
                for n in nodes
            ]
            if not more:
                return tuple(found)

    def shop(self) -> ShopInfo:
        """The store's domain, name, currency and time zone (REST ``shop.json``)."""
        shop = _field(self.admin.rest("shop.json", "rest.shop"), "shop")
        return ShopInfo(
            domain=str(_field(shop, "myshopify_domain")),
            name=str(_field(shop, "name")),
            currency=str(_field(shop, "currency")),
            timezone=str(_field(shop, "iana_timezone")),
        )

    def subscribe(self, uri: str, topics: tuple[str, ...] = TOPICS) -> list[str]:
        """Subscribe ``uri`` to ``topics``; returns the ids of new subscriptions (one that
        exists already is left as it is). ``ValidationError`` lists Shopify's refusals."""
        created: list[str] = []
        problems: list[Problem] = []
        for topic in topics:
            variables = {"topic": topic.replace("/", "_").upper(), "uri": uri}
            data = self.admin.graphql("SalesyncSubscribe", queries.SUBSCRIBE, variables)
            result = _field(data, "webhookSubscriptionCreate")
            errors = result.get("userErrors") or []
            for error in errors:
                message = str(error.get("message", ""))
                if "already been taken" not in message:
                    path = ".".join(str(p) for p in error.get("field") or []) or topic
                    problems.append(Problem("shopify_refused", f"{topic}: {message}", path))
            subscription = result.get("webhookSubscription")
            if not errors and subscription:
                created.append(str(subscription["id"]))
        if problems:
            raise ValidationError(
                f"Shopify refused {len(problems)} webhook subscription(s) for {uri}",
                user_message="Shopify refused to send salesync its webhooks: "
                + "; ".join(p.message for p in problems),
                code="shopify_subscription_refused",
                provider=SOURCE,
                problems=tuple(problems),
            )
        return created
