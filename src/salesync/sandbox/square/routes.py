"""The Square v2 endpoints, each behind the gateway; this module holds the Orders API.

Lists page with ``cursor``; empty results leave their list out of the body, as Square's
answers do. Operation names (for faults) are ``<resource>.<action>``: ``locations.list``,
``customers.list``, ``customers.search``, ``catalog.list``, ``orders.search``,
``orders.batch_retrieve``, ``orders.get``, ``orders.create``, ``payments.list``,
``payments.get``, ``refunds.list``, ``payouts.list``, ``payouts.get``, ``payouts.entries``,
``webhooks.create``, ``webhooks.list``, ``webhooks.delete``; the OAuth endpoints are
``oauth.token`` and ``oauth.revoke``, the retired Transactions API ``transactions``, and
``*`` matches any of them.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from salesync.sandbox.square import errors
from salesync.sandbox.square.bodies import Json, Work, listing, parse_json
from salesync.sandbox.square.credentials import Bearer
from salesync.sandbox.square.directory import add_directory_routes
from salesync.sandbox.square.gateway import ApiCall, SquareGateway
from salesync.sandbox.square.intake import OrderIntake
from salesync.sandbox.square.money import add_money_routes
from salesync.sandbox.square.order_views import order_entry_json, order_json
from salesync.sandbox.square.pages import bounded_limit, fingerprint, paginate
from salesync.sandbox.square.search import OrdersQuery
from salesync.sandbox.square.seller import SquareSeller
from salesync.sandbox.square.subscriptions import add_subscription_routes


def add_api_routes(app: FastAPI, seller: SquareSeller, intake: OrderIntake) -> None:
    """Every v2 endpoint of the sandbox, served for ``seller``."""
    gateway = SquareGateway(seller)
    data = seller.data

    async def serve(request: Request, operation: str, work: Work) -> Response:
        call = ApiCall(
            operation, request.headers.get("authorization"), request.headers.get("square-version")
        )
        return await run_in_threadpool(gateway.handle, call, work)

    @app.post("/v2/orders/search")
    async def search_orders(request: Request) -> Response:
        raw = await request.body()

        def work(_: Bearer) -> tuple[int, Json]:
            body = parse_json(raw)
            query = OrdersQuery.parse(body, data.locations)
            page, cursor = paginate(
                [o for o in data.orders.values() if query.matches(o)],
                query.key,
                descending=query.descending,
                limit=bounded_limit(body.get("limit"), 500, 1000),
                cursor=body.get("cursor"),
                query=fingerprint([body.get("location_ids"), body.get("query")]),
            )
            if body.get("return_entries") is True:
                return listing("order_entries", [order_entry_json(o) for o in page], cursor)
            return listing("orders", [order_json(o) for o in page], cursor)

        return await serve(request, "orders.search", work)

    @app.post("/v2/orders/batch-retrieve")
    async def batch_retrieve(request: Request) -> Response:
        raw = await request.body()

        def work(_: Bearer) -> tuple[int, Json]:
            body = parse_json(raw)
            ids = body.get("order_ids")
            if not ids or not isinstance(ids, list):
                raise errors.missing("order_ids")
            if len(ids) > 100:
                raise errors.invalid("ARRAY_LENGTH_TOO_LONG", "At most 100 order_ids.", "order_ids")
            found = [data.orders[i] for i in map(str, ids) if i in data.orders]
            return listing("orders", [order_json(o) for o in found], None)

        return await serve(request, "orders.batch_retrieve", work)

    @app.get("/v2/orders/{order_id}")
    async def retrieve_order(request: Request, order_id: str) -> Response:
        def work(_: Bearer) -> tuple[int, Json]:
            order = data.orders.get(order_id)
            if order is None:
                raise errors.not_found("Order", order_id)
            return 200, {"order": order_json(order)}

        return await serve(request, "orders.get", work)

    @app.post("/v2/orders")
    async def create_order(request: Request) -> Response:
        raw = await request.body()
        return await serve(
            request,
            "orders.create",
            lambda bearer: intake.create(bearer.client_id, parse_json(raw)),
        )

    add_directory_routes(app, seller, serve)
    add_money_routes(app, seller, serve)
    add_subscription_routes(app, seller, serve)
