"""The HTTP face of the simulated shop: REST API v3 under ``/wp-json/wc/v3`` and the
``/_sandbox`` controls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from salesync.sandbox.controls import ChaosRequest, attempt_json, fault_routes
from salesync.sandbox.delivery import deliver
from salesync.sandbox.faults import BEFORE
from salesync.sandbox.woocommerce import errors, notify
from salesync.sandbox.woocommerce.access import caller
from salesync.sandbox.woocommerce.errors import WooError
from salesync.sandbox.woocommerce.listing import instant, ordered, paged, stamp_of
from salesync.sandbox.woocommerce.store import Json, WooShop
from salesync.sandbox.woocommerce.webhook_views import add_webhook_routes

BASE = "/wp-json/wc/v3"
Work = Callable[[dict[str, str]], tuple[Any, dict[str, str]]]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def create_app(shop: WooShop | None = None) -> FastAPI:
    """A FastAPI app serving ``shop`` (a fresh one when None) the way WooCommerce does."""
    shop = shop or WooShop()
    app = FastAPI(title="WooCommerce sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.shop = shop

    async def serve(request: Request, operation: str, action: str, work: Work) -> Response:
        query = dict(request.query_params)
        authorization = request.headers.get("authorization")
        return await run_in_threadpool(
            lambda: _serve(
                shop,
                work,
                operation=operation,
                action=action,
                authorization=authorization,
                query=query,
            )
        )

    _add_read_routes(app, shop, serve)
    add_webhook_routes(app, shop, serve)
    app.include_router(fault_routes(shop.faults))

    @app.post("/_sandbox/webhooks/deliver")
    def deliver_webhooks() -> list[dict[str, Any]]:
        return [attempt_json(a) for a in notify.deliver_due(shop)]

    @app.post("/_sandbox/webhooks/chaos")
    def chaos(body: ChaosRequest) -> dict[str, int]:
        """Lose, repeat or hold back the next deliveries."""
        shop.deliveries.drop_next(body.drop_next)
        shop.deliveries.duplicate_next(body.duplicate_next)
        shop.deliveries.delay_next(body.delay_next, timedelta(seconds=body.delay_seconds))
        return {"pending": len(shop.deliveries.pending())}

    @app.api_route(f"{BASE}/{{rest:path}}", methods=["GET", "POST", "PUT", "DELETE"])
    async def unknown(rest: str) -> Response:
        return errors.no_route().response()

    return app


def _serve(
    shop: WooShop,
    work: Work,
    *,
    operation: str,
    action: str,
    authorization: str | None,
    query: dict[str, str],
) -> Response:
    now = int(shop.now().timestamp())
    try:
        key = caller(shop, authorization, query, action)
        decision = shop.window.acquire(key.consumer_key)
        wait = max(int(decision.retry_after.total_seconds() + 0.999), 1)
        if not decision.allowed:
            raise errors.rate_limited(shop.rate_limit.limit, wait, now + wait)
    except WooError as error:
        return error.response()
    limits = {
        "RateLimit-Limit": str(shop.rate_limit.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(now + shop.rate_limit.seconds),
    }
    fault = shop.faults.take(operation)
    if fault is not None and fault.kind in BEFORE:
        return errors.before_fault(fault, now)
    with shop.lock:
        try:
            body, headers = work(query)
        except WooError as error:
            error.headers.update(limits)
            return error.response()
        status = int(headers.pop("status", "200"))
        return deliver(fault, JSONResponse(body, status_code=status, headers={**limits, **headers}))


def _changed_between(shop: WooShop, query: dict[str, str], items: list[Json]) -> list[Json]:
    """Filter on ``after``/``before`` (created) and ``modified_after``/``modified_before``."""
    for param, stamp, later in (
        ("after", "created", True),
        ("before", "created", False),
        ("modified_after", "modified", True),
        ("modified_before", "modified", False),
    ):
        bound = instant(shop, query, param)
        if bound is not None:
            items = [
                i
                for i in items
                if (moment := stamp_of(i, stamp)) is not None
                and (moment > bound if later else moment < bound)
            ]
    return items


def _by_date(name: str) -> Callable[[Json], object]:
    return lambda item: stamp_of(item, name) or _EPOCH


def _add_read_routes(app: FastAPI, shop: WooShop, serve: Any) -> None:
    @app.get(f"{BASE}/orders")
    async def list_orders(request: Request) -> Response:
        def work(query: dict[str, str]) -> tuple[Any, dict[str, str]]:
            wanted = query.get("status", "any")
            statuses = set(wanted.split(","))
            orders = [
                o
                for o in shop.data.orders.values()
                if (o["status"] in statuses) or ("any" in statuses and o["status"] != "trash")
            ]
            orders = _changed_between(shop, query, orders)
            orders = ordered(
                orders,
                query,
                {
                    "date": _by_date("created"),
                    "modified": _by_date("modified"),
                    "id": lambda o: o["id"],
                },
            )
            return paged(orders, query, str(request.url).split("?", 1)[0])

        response: Response = await serve(request, "orders.list", "list", work)
        return response

    @app.get(f"{BASE}/orders/{{order_id}}")
    async def get_order(request: Request, order_id: int) -> Response:
        def work(_: dict[str, str]) -> tuple[Any, dict[str, str]]:
            order = shop.data.orders.get(order_id)
            if order is None:
                raise errors.invalid_id("shop_order")
            return order, {}

        response: Response = await serve(request, "orders.get", "view", work)
        return response

    @app.get(f"{BASE}/orders/{{order_id}}/refunds")
    async def list_refunds(request: Request, order_id: int) -> Response:
        def work(query: dict[str, str]) -> tuple[Any, dict[str, str]]:
            if order_id not in shop.data.orders:
                raise errors.invalid_id("shop_order")
            refunds = list(shop.data.refunds.get(order_id, []))
            return paged(refunds, query, str(request.url).split("?", 1)[0])

        response: Response = await serve(request, "refunds.list", "list", work)
        return response

    @app.get(f"{BASE}/customers")
    async def list_customers(request: Request) -> Response:
        def work(query: dict[str, str]) -> tuple[Any, dict[str, str]]:
            customers = ordered(
                list(shop.data.customers.values()),
                {"orderby": "id", "order": "asc", **query},
                {"id": lambda c: c["id"], "registered_date": _by_date("created")},
            )
            return paged(customers, query, str(request.url).split("?", 1)[0])

        response: Response = await serve(request, "customers.list", "list", work)
        return response

    @app.get(f"{BASE}/products")
    async def list_products(request: Request) -> Response:
        def work(query: dict[str, str]) -> tuple[Any, dict[str, str]]:
            products = _changed_between(shop, query, list(shop.data.products.values()))
            products = ordered(
                products,
                query,
                {
                    "date": _by_date("created"),
                    "modified": _by_date("modified"),
                    "id": lambda p: p["id"],
                },
            )
            return paged(products, query, str(request.url).split("?", 1)[0])

        response: Response = await serve(request, "products.list", "list", work)
        return response
