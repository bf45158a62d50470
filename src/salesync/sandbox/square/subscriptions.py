"""The Webhook Subscriptions API: subscribe a notification URL to event types, list, delete."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from salesync.sandbox.square import errors
from salesync.sandbox.square.bodies import Json, Serve, listing, parse_json
from salesync.sandbox.square.credentials import Bearer
from salesync.sandbox.square.notify import EVENT_TYPES
from salesync.sandbox.square.seller import SquareSeller
from salesync.sandbox.square.views import subscription_json


def add_subscription_routes(app: FastAPI, seller: SquareSeller, serve: Serve) -> None:
    @app.post("/v2/webhooks/subscriptions")
    async def create_subscription(request: Request) -> Response:
        raw = await request.body()

        def work(bearer: Bearer) -> tuple[int, Json]:
            body = parse_json(raw)
            wanted = body.get("subscription")
            if not isinstance(wanted, dict):
                raise errors.missing("subscription")
            url = wanted.get("notification_url")
            if not url:
                raise errors.missing("subscription.notification_url")
            events = tuple(wanted.get("event_types") or ())
            unknown = [e for e in events if e not in EVENT_TYPES]
            if not events or unknown:
                raise errors.invalid(
                    "INVALID_VALUE",
                    f"Unsupported event types: {', '.join(unknown) or 'none given'}.",
                    "subscription.event_types",
                )
            made = seller.subscribe(
                bearer.client_id,
                str(url),
                events,
                name=str(wanted.get("name") or "salesync"),
                api_version=str(
                    wanted.get("api_version")
                    or seller.credentials.apps[bearer.client_id].api_version
                ),
            )
            return 200, {"subscription": subscription_json(made, with_key=True)}

        response: Response = await serve(request, "webhooks.create", work)
        return response

    @app.get("/v2/webhooks/subscriptions")
    async def list_subscriptions(request: Request) -> Response:
        def work(bearer: Bearer) -> tuple[int, Json]:
            mine = [
                subscription_json(s, with_key=False)
                for s in seller.data.subscriptions.values()
                if s.client_id == bearer.client_id
            ]
            return listing("subscriptions", mine, None)

        response: Response = await serve(request, "webhooks.list", work)
        return response

    @app.delete("/v2/webhooks/subscriptions/{subscription_id}")
    async def delete_subscription(request: Request, subscription_id: str) -> Response:
        def work(_: Bearer) -> tuple[int, Json]:
            if not seller.unsubscribe(subscription_id):
                raise errors.not_found("Subscription", subscription_id)
            return 200, {}

        response: Response = await serve(request, "webhooks.delete", work)
        return response
