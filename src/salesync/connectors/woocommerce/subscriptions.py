"""Keeping salesync's webhooks alive in the shop.

WooCommerce disables a webhook by itself after repeated failed deliveries (more than
``woocommerce_max_webhook_delivery_failures``, 5 by default: class-wc-webhook.php,
``failed_delivery``), and says so to no one: its status becomes ``disabled`` and the
shop stops sending. A merchant can also pause or delete one. Each sweep therefore reads
the shop's webhooks (``GET /webhooks``) for the connection's delivery URL: a disabled one
is turned back on (``PUT status=active``, with the connection's secret), a missing topic
is subscribed again, and a paused one is left for the merchant, who paused it. The sweep
that follows brings in what the lost deliveries would have.
"""

from __future__ import annotations

from salesync.connectors.source import SubscriptionRepair
from salesync.connectors.woocommerce.api import WooApi

TOPICS = (
    "order.created",
    "order.updated",
    "order.deleted",
    "customer.created",
    "customer.updated",
    "product.created",
    "product.updated",
)


def keep_webhooks(
    api: WooApi, delivery_url: str, secret: str, topics: tuple[str, ...] = TOPICS
) -> tuple[SubscriptionRepair, ...]:
    """Repair salesync's webhooks in the shop; returns what was found stopped."""
    hooks = [
        h
        for h in api.listed("/webhooks", "webhooks.list", {"status": "all"})
        if str(h.get("delivery_url", "")).rstrip("/") == delivery_url.rstrip("/")
    ]
    repairs: list[SubscriptionRepair] = []
    for topic in topics:
        mine = [h for h in hooks if h.get("topic") == topic]
        if any(h.get("status") == "active" for h in mine):
            continue
        disabled = [h for h in mine if h.get("status") == "disabled"]
        if disabled:
            api.call(
                "PUT",
                f"/webhooks/{disabled[0]['id']}",
                "webhooks.update",
                body={"status": "active", "secret": secret},
            )
            repairs.append(
                SubscriptionRepair(
                    topic,
                    "disabled",
                    "reactivated",
                    f"WooCommerce had turned off salesync's {topic} webhook after repeated "
                    "failed deliveries; salesync turned it back on.",
                )
            )
        elif mine:
            repairs.append(
                SubscriptionRepair(
                    topic,
                    str(mine[0].get("status")),
                    "none",
                    f"salesync's {topic} webhook is paused in WooCommerce. Set it to Active "
                    "(WooCommerce > Settings > Advanced > Webhooks) for changes to arrive "
                    "within seconds; until then they arrive with each sweep.",
                )
            )
        else:
            api.call(
                "POST",
                "/webhooks",
                "webhooks.create",
                body={
                    "name": f"salesync {topic}",
                    "topic": topic,
                    "delivery_url": delivery_url,
                    "secret": secret,
                    "status": "active",
                },
            )
            repairs.append(
                SubscriptionRepair(
                    topic,
                    "deleted",
                    "recreated",
                    f"salesync's {topic} webhook was missing from WooCommerce; salesync "
                    "created it again.",
                )
            )
    return tuple(repairs)
