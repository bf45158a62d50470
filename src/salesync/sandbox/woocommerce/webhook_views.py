"""The webhooks endpoints: list, create (which pings the delivery URL), read, update and
delete (https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from salesync.sandbox.woocommerce import errors, notify
from salesync.sandbox.woocommerce.errors import WooError
from salesync.sandbox.woocommerce.listing import paged
from salesync.sandbox.woocommerce.store import Json, WooShop

STATUSES = ("active", "paused", "disabled")


def _body(raw: bytes) -> Json:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
    if not isinstance(body, dict):
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
    return body


def _apply(shop: WooShop, webhook: Json, body: Json) -> None:
    if "topic" in body:
        topic = str(body["topic"])
        if topic not in notify.TOPICS:
            raise WooError(
                400, "woocommerce_rest_webhook_invalid_topic", "Webhook topic must be valid."
            )
        resource, event = topic.split(".", 1)
        webhook.update(topic=topic, resource=resource, event=event)
    if "delivery_url" in body:
        url = str(body["delivery_url"])
        if not url.startswith(("http://", "https://")):
            raise WooError(
                400,
                "woocommerce_rest_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            )
        webhook["delivery_url"] = url
    if "status" in body:
        status = str(body["status"])
        if status not in STATUSES:
            raise errors.invalid_param("status", f"status is not one of {', '.join(STATUSES)}.")
        webhook["status"] = status
    if "name" in body:
        webhook["name"] = str(body["name"])
    if "secret" in body:
        shop.data.secrets[webhook["id"]] = str(body["secret"])


def _create(shop: WooShop, raw: bytes) -> Json:
    """A new webhook, pinged at its delivery URL when it is active."""
    body = _body(raw)
    if not body.get("topic"):
        raise WooError(
            400,
            "rest_missing_callback_param",
            "Missing parameter(s): topic",
            {"params": ["topic"]},
        )
    if not body.get("delivery_url"):
        raise WooError(
            400, "rest_missing_callback_param", "Missing parameter(s): delivery_url",
            {"params": ["delivery_url"]},
        )  # fmt: skip
    webhook_id = shop.next_id()
    webhook: Json = {"id": webhook_id, "name": "", "status": "active", "hooks": []}
    # Without a secret WooCommerce signs with a hash of the API user's id.
    shop.data.secrets[webhook_id] = hashlib.md5(b"1", usedforsecurity=False).hexdigest()
    _apply(shop, webhook, {"status": "active", **body})
    webhook["name"] = webhook["name"] or f"Webhook created on {shop.now():%b %d, %Y @ %I:%M %p}"
    shop.stamp(webhook, "created", "modified")
    shop.data.webhooks[webhook_id] = webhook
    shop.failures[webhook_id] = 0
    if webhook["status"] == "active":
        notify.ping(shop, webhook)
    return webhook


def add_webhook_routes(app: FastAPI, shop: WooShop, serve: Any) -> None:
    base = "/wp-json/wc/v3/webhooks"

    @app.get(base)
    async def list_webhooks(request: Request) -> Response:
        def work(query: dict[str, str]) -> tuple[Any, dict[str, str]]:
            status = query.get("status", "all")
            found = [w for w in shop.data.webhooks.values() if status in ("all", w["status"])]
            return paged(
                sorted(found, key=lambda w: -w["id"]), query, str(request.url).split("?")[0]
            )

        response: Response = await serve(request, "webhooks.list", "list", work)
        return response

    @app.post(base)
    async def create_webhook(request: Request) -> Response:
        raw = await request.body()

        def work(_: dict[str, str]) -> tuple[Any, dict[str, str]]:
            return _create(shop, raw), {"status": "201"}

        response: Response = await serve(request, "webhooks.create", "create", work)
        return response

    @app.get(base + "/{webhook_id}")
    async def get_webhook(request: Request, webhook_id: int) -> Response:
        def work(_: dict[str, str]) -> tuple[Any, dict[str, str]]:
            webhook = shop.data.webhooks.get(webhook_id)
            if webhook is None:
                raise errors.invalid_id()
            return webhook, {}

        response: Response = await serve(request, "webhooks.get", "view", work)
        return response

    @app.put(base + "/{webhook_id}")
    async def update_webhook(request: Request, webhook_id: int) -> Response:
        raw = await request.body()

        def work(_: dict[str, str]) -> tuple[Any, dict[str, str]]:
            webhook = shop.data.webhooks.get(webhook_id)
            if webhook is None:
                raise errors.invalid_id()
            changed = dict(webhook)
            _apply(shop, changed, _body(raw))
            webhook.update(changed)
            shop.stamp(webhook, "modified")
            return webhook, {}

        response: Response = await serve(request, "webhooks.update", "edit", work)
        return response

    @app.delete(base + "/{webhook_id}")
    async def delete_webhook(request: Request, webhook_id: int) -> Response:
        def work(query: dict[str, str]) -> tuple[Any, dict[str, str]]:
            webhook = shop.data.webhooks.get(webhook_id)
            if webhook is None:
                raise errors.invalid_id()
            if query.get("force", "").lower() not in ("1", "true"):
                raise WooError(
                    501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
                )
            del shop.data.webhooks[webhook_id]
            return webhook, {}

        response: Response = await serve(request, "webhooks.delete", "delete", work)
        return response
