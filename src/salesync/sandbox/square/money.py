"""Payments, refunds, payouts and payout entries: where the money went, read by time window."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from fastapi import FastAPI, Request
from starlette.responses import Response

from salesync.sandbox.square import errors
from salesync.sandbox.square.bodies import Json, Serve, listing
from salesync.sandbox.square.credentials import Bearer
from salesync.sandbox.square.pages import bounded_limit, fingerprint, paginate, sort_key
from salesync.sandbox.square.search import TimeRange, parse_time
from salesync.sandbox.square.seller import SquareSeller
from salesync.sandbox.square.views import (
    payment_json,
    payout_entry_json,
    payout_json,
    refund_json,
)

T = TypeVar("T")


def _sort_order(params: Mapping[str, str]) -> bool:
    order = params.get("sort_order") or "DESC"
    if order not in ("ASC", "DESC"):
        raise errors.invalid("INVALID_SORT_ORDER", "sort_order must be ASC or DESC.", "sort_order")
    return order == "DESC"


def _window(params: Mapping[str, str], now: datetime) -> TimeRange:
    """``begin_time`` (default a year ago) to ``end_time`` (default now), as list calls take."""
    begin = params.get("begin_time")
    end = params.get("end_time")
    return TimeRange(
        parse_time(begin, "begin_time") if begin else now - timedelta(days=365),
        parse_time(end, "end_time") if end else now,
    )


def add_money_routes(app: FastAPI, seller: SquareSeller, serve: Serve) -> None:
    data = seller.data

    def timed_list(
        params: Mapping[str, str],
        rows: Sequence[T],
        *,
        at: Callable[[T], datetime],
        ident: Callable[[T], str],
        name: str,
        render: Callable[[T], Json],
    ) -> tuple[int, Json]:
        window = _window(params, seller.now())
        chosen = [r for r in rows if window.holds(at(r))]
        location = params.get("location_id")
        if location:
            chosen = [r for r in chosen if getattr(r, "location_id", None) == location]
        query = fingerprint({k: v for k, v in params.items() if k not in ("cursor", "limit")})
        page, cursor = paginate(
            chosen,
            lambda r: sort_key(at(r), ident(r)),
            descending=_sort_order(params),
            limit=bounded_limit(params.get("limit"), 100, 100),
            cursor=params.get("cursor"),
            query=query,
        )
        return listing(name, [render(r) for r in page], cursor)

    @app.get("/v2/payments")
    async def list_payments(request: Request) -> Response:
        params = request.query_params
        return await serve(
            request,
            "payments.list",
            lambda _: timed_list(
                params,
                list(data.payments.values()),
                at=lambda p: p.created_at,
                ident=lambda p: p.id,
                name="payments",
                render=payment_json,
            ),
        )

    @app.get("/v2/payments/{payment_id}")
    async def get_payment(request: Request, payment_id: str) -> Response:
        def work(_: Bearer) -> tuple[int, Json]:
            payment = data.payments.get(payment_id)
            if payment is None:
                raise errors.not_found("Payment", payment_id)
            return 200, {"payment": payment_json(payment)}

        return await serve(request, "payments.get", work)

    @app.get("/v2/refunds")
    async def list_refunds(request: Request) -> Response:
        params = request.query_params
        return await serve(
            request,
            "refunds.list",
            lambda _: timed_list(
                params,
                list(data.refunds.values()),
                at=lambda r: r.created_at,
                ident=lambda r: r.id,
                name="refunds",
                render=refund_json,
            ),
        )

    add_payout_routes(app, seller, serve)


def add_payout_routes(app: FastAPI, seller: SquareSeller, serve: Serve) -> None:
    data = seller.data

    @app.get("/v2/payouts")
    async def list_payouts(request: Request) -> Response:
        params = request.query_params

        def work(_: Bearer) -> tuple[int, Json]:
            main = seller.main_location()
            location = params.get("location_id") or (main.id if main else "")
            window = _window(params, seller.now())
            rows = [
                p
                for p in data.payouts.values()
                if p.location_id == location and window.holds(p.created_at)
            ]
            status = params.get("status")
            if status and status not in ("SENT", "FAILED", "PAID"):
                raise errors.invalid("INVALID_ENUM_VALUE", f"Unknown status {status}.", "status")
            if status:
                rows = [p for p in rows if p.status == status]
            page, cursor = paginate(
                rows,
                lambda p: sort_key(p.created_at, p.id),
                descending=_sort_order(params),
                limit=bounded_limit(params.get("limit"), 100, 100),
                cursor=params.get("cursor"),
                query=fingerprint(
                    [location, status, params.get("begin_time"), params.get("end_time")]
                ),
            )
            return listing("payouts", [payout_json(p) for p in page], cursor)

        response: Response = await serve(request, "payouts.list", work)
        return response

    @app.get("/v2/payouts/{payout_id}")
    async def get_payout(request: Request, payout_id: str) -> Response:
        def work(_: Bearer) -> tuple[int, Json]:
            payout = data.payouts.get(payout_id)
            if payout is None:
                raise errors.not_found("Payout", payout_id)
            return 200, {"payout": payout_json(payout)}

        response: Response = await serve(request, "payouts.get", work)
        return response

    @app.get("/v2/payouts/{payout_id}/payout-entries")
    async def list_payout_entries(request: Request, payout_id: str) -> Response:
        params = request.query_params

        def work(_: Bearer) -> tuple[int, Json]:
            if payout_id not in data.payouts:
                raise errors.not_found("Payout", payout_id)
            page, cursor = paginate(
                [e for e in data.payout_entries.values() if e.payout_id == payout_id],
                lambda e: sort_key(e.effective_at, e.id),
                descending=_sort_order(params),
                limit=bounded_limit(params.get("limit"), 100, 100),
                cursor=params.get("cursor"),
                query=fingerprint(payout_id),
            )
            return listing("payout_entries", [payout_entry_json(e) for e in page], cursor)

        response: Response = await serve(request, "payouts.entries", work)
        return response
