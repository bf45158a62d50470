"""Root resolvers of the GraphQL Admin API, for one authorized app.

Access scopes are enforced field by field with Shopify's ``ACCESS_DENIED`` error
(https://shopify.dev/docs/api/usage/access-scopes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from graphql import GraphQLError, GraphQLResolveInfo

from salesync.sandbox.shopify.credentials import AccessToken
from salesync.sandbox.shopify.notify import topic_from_enum
from salesync.sandbox.shopify.order_views import OrderViews
from salesync.sandbox.shopify.records import Order, gid
from salesync.sandbox.shopify.search import SearchField, paginate, search
from salesync.sandbox.shopify.store import ShopifyStore
from salesync.sandbox.shopify.views import keyed, page_args

T = TypeVar("T")
Json = dict[str, Any]

# Without read_all_orders an app sees only the last 60 days of orders
# (https://shopify.dev/docs/api/usage/access-scopes#orders-permissions).
RECENT_ORDERS = timedelta(days=60)


def _time_fields(**extra: SearchField) -> dict[str, SearchField]:
    return {
        "created_at": SearchField("time", lambda r: r.created_at),
        "updated_at": SearchField("time", lambda r: r.updated_at),
        "processed_at": SearchField("time", lambda r: getattr(r, "processed_at", None)),
        "id": SearchField("id", lambda r: r.id),
    } | extra


ORDER_SEARCH = _time_fields(
    financial_status=SearchField("string", lambda o: o.financial_status),
    name=SearchField("string", lambda o: o.name),
    source_name=SearchField("string", lambda o: o.source_name),
    location_id=SearchField("id", lambda o: o.location_id),
    test=SearchField("bool", lambda o: o.test),
)
RESOURCE_SEARCH = _time_fields()
PAYOUT_SEARCH = {
    "issued_at": SearchField("time", lambda p: p.issued_at),
    "status": SearchField("string", lambda p: p.status),
    "id": SearchField("id", lambda p: p.id),
}
BALANCE_SEARCH = {
    "processed_at": SearchField("time", lambda b: b.processed_at),
    "payments_transfer_id": SearchField("id", lambda b: b.payout_id),
    "transaction_type": SearchField("string", lambda b: b.type),
    "id": SearchField("id", lambda b: b.id),
}
SORT_KEYS: dict[str, Callable[[Any], object]] = {
    "CREATED_AT": lambda r: r.created_at,
    "UPDATED_AT": lambda r: r.updated_at,
    "PROCESSED_AT": lambda r: r.processed_at,
    "ID": lambda r: r.id,
    "ORDER_NUMBER": lambda r: r.number,
    "NAME": lambda r: r.name if hasattr(r, "name") else f"{r.first_name} {r.last_name}",
    "TITLE": lambda r: r.title,
    "ISSUED_AT": lambda r: r.issued_at,
}


def _legacy_id(value: str, kind: str) -> int:
    prefix = f"gid://shopify/{kind}/"
    number = value[len(prefix) :]
    if not value.startswith(prefix) or not number.isdigit():
        raise GraphQLError(f"Invalid global id '{value}'", extensions={"code": "INVALID"})
    return int(number)


class ShopifyGraph:
    """Root values for one request, scoped to the calling app's access token."""

    def __init__(self, store: ShopifyStore, token: AccessToken, api_version: str) -> None:
        self.store = store
        self.token = token
        self.api_version = api_version
        self.views = OrderViews(store)

    def _require(self, scope: str, field: str) -> None:
        granted = set(self.token.scopes)
        write = scope.replace("read_", "write_", 1)
        if scope not in granted and write not in granted:
            needed = f"`{scope}` access scope."
            raise GraphQLError(
                f"Access denied for {field} field. Required access: {needed}",
                extensions={
                    "code": "ACCESS_DENIED",
                    "documentation": "https://shopify.dev/api/usage/access-scopes",
                    "requiredAccess": needed,
                },
            )

    def root(self) -> Json:
        """Resolvers of every query root field."""
        data, views = self.store.data, self.views
        return {
            "shop": self._shop,
            "order": self._by_id("read_orders", "Order", self._visible_orders, views.order),
            "orders": self._orders,
            "customer": self._by_id(
                "read_customers", "Customer", lambda: list(data.customers.values()), views.customer
            ),
            "customers": self._listing(
                "read_customers", lambda: list(data.customers.values()), views.customer
            ),
            "product": self._by_id(
                "read_products", "Product", lambda: list(data.products.values()), views.product
            ),
            "products": self._listing(
                "read_products", lambda: list(data.products.values()), views.product
            ),
            "location": self._location,
            "locations": self._locations,
            "shopifyPaymentsAccount": self._payments_account,
            "webhookSubscriptions": self._subscriptions,
        }

    # -- root fields ---------------------------------------------------------------------

    def _shop(self, _info: object) -> Json:
        plan = self.store.plan
        return {
            "id": gid("Shop", 1),
            "name": self.store.name,
            "email": f"owner@{self.store.domain}",
            "myshopifyDomain": self.store.domain,
            "currencyCode": self.store.currency,
            "ianaTimezone": self.store.timezone,
            "plan": {
                "displayName": plan.capitalize(),
                "partnerDevelopment": False,
                "shopifyPlus": plan in ("plus", "enterprise"),
            },
        }

    def _visible_orders(self) -> list[Order]:
        with self.store.lock:
            orders = list(self.store.data.orders.values())
        if "read_all_orders" in self.token.scopes:
            return orders
        since = self.store.now() - RECENT_ORDERS
        return [o for o in orders if o.created_at >= since]

    def _by_id(
        self,
        scope: str,
        kind: str,
        records: Callable[[], Iterable[T]],
        view: Callable[[T], Json],
    ) -> Callable[..., Json | None]:
        def resolve(info: GraphQLResolveInfo[Any], id: str) -> Json | None:
            self._require(scope, info.field_name)
            number = _legacy_id(id, kind)
            with self.store.lock:
                found = next((r for r in records() if getattr(r, "id", None) == number), None)
            return None if found is None else view(found)

        return resolve

    def _listing(
        self, scope: str, records: Callable[[], list[T]], view: Callable[[T], Json]
    ) -> Callable[..., Json]:
        def resolve(info: GraphQLResolveInfo[Any], **args: Any) -> Json:
            self._require(scope, info.field_name)
            with self.store.lock:
                snapshot = records()
            found = search(snapshot, args.get("query"), RESOURCE_SEARCH)
            key = keyed(SORT_KEYS[args.get("sortKey") or "ID"])
            return paginate(found, key=key, node=view, **page_args(args))

        return resolve

    def _orders(self, _info: object, **args: Any) -> Json:
        self._require("read_orders", "orders")
        found = search(self._visible_orders(), args.get("query"), ORDER_SEARCH)
        key = keyed(SORT_KEYS[args.get("sortKey") or "PROCESSED_AT"])
        return paginate(found, key=key, node=self.views.order, **page_args(args))

    def _location(self, _info: object, id: str | None = None) -> Json | None:
        self._require("read_locations", "location")
        with self.store.lock:
            locations = sorted(self.store.data.locations.values(), key=lambda loc: loc.id)
        if id is None:
            online = [loc for loc in locations if loc.fulfills_online_orders]
            return self.views.location(online[0]) if online else None
        wanted = _legacy_id(id, "Location")
        return next((self.views.location(loc) for loc in locations if loc.id == wanted), None)

    def _locations(self, _info: object, **args: Any) -> Json:
        self._require("read_locations", "locations")
        with self.store.lock:
            locations = list(self.store.data.locations.values())
        if not args.get("includeInactive"):
            locations = [loc for loc in locations if loc.is_active]
        found = search(locations, args.get("query"), RESOURCE_SEARCH)
        key = keyed(SORT_KEYS[args.get("sortKey") or "NAME"])
        return paginate(found, key=key, node=self.views.location, **page_args(args))

    def _payments_account(self, _info: object) -> Json:
        self._require("read_shopify_payments_payouts", "shopifyPaymentsAccount")
        with self.store.lock:
            unpaid = [
                b for b in self.store.data.balance_transactions.values() if b.payout_id is None
            ]
        balance = sum((b.net for b in unpaid), Decimal(0))
        return {
            "id": gid("ShopifyPaymentsAccount", 1),
            "activated": True,
            "country": "US",
            "defaultCurrency": self.store.currency,
            "balance": [self.views.money(balance)],
            "payouts": self._payouts,
            "balanceTransactions": self._balance_transactions,
        }

    def _payouts(self, _info: object, **args: Any) -> Json:
        with self.store.lock:
            payouts = list(self.store.data.payouts.values())
        if args.get("transactionType"):
            payouts = [p for p in payouts if p.transaction_type == args["transactionType"]]
        found = search(payouts, args.get("query"), PAYOUT_SEARCH)
        key = keyed(SORT_KEYS[args.get("sortKey") or "ISSUED_AT"])
        return paginate(found, key=key, node=self.views.payout, **page_args(args))

    def _balance_transactions(self, _info: object, **args: Any) -> Json:
        with self.store.lock:
            rows = list(self.store.data.balance_transactions.values())
        if args.get("hideTransfers"):
            rows = [b for b in rows if b.type != "TRANSFER"]
        found = search(rows, args.get("query"), BALANCE_SEARCH)
        key = keyed(SORT_KEYS[args.get("sortKey") or "PROCESSED_AT"])
        return paginate(found, key=key, node=self.views.balance_transaction, **page_args(args))

    def _subscriptions(self, _info: object, **args: Any) -> Json:
        with self.store.lock:
            mine = [
                s
                for s in self.store.data.subscriptions.values()
                if s.client_id == self.token.client_id
            ]
        if args.get("topics"):
            wanted = {topic_from_enum(t) for t in args["topics"]}
            mine = [s for s in mine if s.topic in wanted]
        return paginate(
            mine, key=keyed(lambda s: s.id), node=self.views.subscription, **page_args(args)
        )

    # -- mutations -----------------------------------------------------------------------

    def mutation_root(self) -> Json:
        return {
            "webhookSubscriptionCreate": self._subscription_create,
            "webhookSubscriptionDelete": self._subscription_delete,
        }

    def _subscription_create(self, _info: object, topic: str, webhookSubscription: Json) -> Json:  # noqa: N803
        uri = webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl")
        if not uri or not str(uri).startswith(("http://", "https://")):
            return {
                "webhookSubscription": None,
                "userErrors": [
                    {
                        "field": ["webhookSubscription", "callbackUrl"],
                        "message": "Address is invalid",
                    }
                ],
            }
        rest_topic = topic_from_enum(topic)
        with self.store.lock:
            taken = any(
                s.client_id == self.token.client_id and s.topic == rest_topic and s.uri == uri
                for s in self.store.data.subscriptions.values()
            )
        if taken:
            return {
                "webhookSubscription": None,
                "userErrors": [
                    {
                        "field": ["webhookSubscription", "callbackUrl"],
                        "message": "Address for this topic has already been taken",
                    }
                ],
            }
        created = self.store.subscribe(self.token.client_id, rest_topic, str(uri), self.api_version)
        return {"webhookSubscription": self.views.subscription(created), "userErrors": []}

    def _subscription_delete(self, _info: object, id: str) -> Json:
        number = _legacy_id(id, "WebhookSubscription")
        with self.store.lock:
            found = self.store.data.subscriptions.get(number)
            mine = found is not None and found.client_id == self.token.client_id
        if not mine or not self.store.unsubscribe(number):
            return {
                "deletedWebhookSubscriptionId": None,
                "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
            }
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}
