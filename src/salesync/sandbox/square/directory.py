"""Locations, customers and the catalog: the seller's reference data, read with cursors."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from salesync.sandbox.square import errors
from salesync.sandbox.square.bodies import Json, Serve, listing, parse_json
from salesync.sandbox.square.credentials import Bearer
from salesync.sandbox.square.pages import SortKey, bounded_limit, fingerprint, paginate
from salesync.sandbox.square.search import CustomersQuery
from salesync.sandbox.square.seller import SquareSeller
from salesync.sandbox.square.views import (
    category_json,
    customer_json,
    item_json,
    location_json,
    tax_json,
    variation_json,
)

CATALOG_PAGE = 100
CATALOG_TYPES = ("CATEGORY", "TAX", "ITEM", "ITEM_VARIATION")


def add_directory_routes(app: FastAPI, seller: SquareSeller, serve: Serve) -> None:
    data = seller.data

    @app.get("/v2/locations")
    async def list_locations(request: Request) -> Response:
        rows = [location_json(loc, seller.merchant_id) for loc in data.locations.values()]
        return await serve(request, "locations.list", lambda _: listing("locations", rows, None))

    @app.get("/v2/customers")
    async def list_customers(request: Request) -> Response:
        params = request.query_params

        def work(_: Bearer) -> tuple[int, Json]:
            query = CustomersQuery.of(
                field=params.get("sort_field") or "DEFAULT", order=params.get("sort_order") or "ASC"
            )
            shape = [params.get("sort_field"), params.get("sort_order")]
            return _customers(query, params.get("cursor"), params.get("limit"), shape)

        return await serve(request, "customers.list", work)

    def _customers(
        query: CustomersQuery, cursor: str | None, limit: object, shape: object
    ) -> tuple[int, Json]:
        page, after = paginate(
            [c for c in data.customers.values() if query.matches(c)],
            query.key,
            descending=query.descending,
            limit=bounded_limit(limit, 100, 100),
            cursor=cursor,
            query=fingerprint(shape),
        )
        return listing("customers", [customer_json(c) for c in page], after)

    @app.post("/v2/customers/search")
    async def search_customers(request: Request) -> Response:
        raw = await request.body()

        def work(_: Bearer) -> tuple[int, Json]:
            body = parse_json(raw)
            shape = body.get("query") or {}
            return _customers(
                CustomersQuery.parse(body), body.get("cursor"), body.get("limit"), shape
            )

        return await serve(request, "customers.search", work)

    @app.get("/v2/catalog/list")
    async def list_catalog(request: Request) -> Response:
        params = request.query_params

        def work(_: Bearer) -> tuple[int, Json]:
            types = [t.strip().upper() for t in (params.get("types") or "").split(",") if t.strip()]
            for kind in types:
                if kind not in CATALOG_TYPES:
                    raise errors.invalid("INVALID_ENUM_VALUE", f"Unsupported type {kind}.", "types")
            wanted = set(types or ("CATEGORY", "TAX", "ITEM"))
            rows: list[tuple[SortKey, Json]] = []
            if "CATEGORY" in wanted:
                rows += [(("CATEGORY", c.id), category_json(c)) for c in data.categories.values()]
            if "TAX" in wanted:
                rows += [(("TAX", t.id), tax_json(t)) for t in data.taxes.values()]
            if "ITEM" in wanted:
                rows += [(("ITEM", i.id), item_json(i)) for i in data.items.values()]
            if "ITEM_VARIATION" in wanted:
                rows += [
                    (("ITEM_VARIATION", v.id), variation_json(v))
                    for i in data.items.values()
                    for v in i.variations
                ]
            page, cursor = paginate(
                rows,
                lambda r: r[0],
                descending=False,
                limit=CATALOG_PAGE,
                cursor=params.get("cursor"),
                query=fingerprint(sorted(wanted)),
            )
            return listing("objects", [body for _, body in page], cursor)

        return await serve(request, "catalog.list", work)
