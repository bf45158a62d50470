"""A simulated WooCommerce shop: REST API v3 orders (with refunds), customers, products
and webhooks, consumer-key auth, WordPress pagination headers, WooCommerce's error shape,
a rate limiter, signed webhook deliveries that disable a webhook after repeated failures,
fault injection and seeded trading at two outlets.

Start one with ``create_app(WooShop(clock=ManualClock(...)))``; drive it through
``/_sandbox`` or the shop object directly.
"""

from salesync.sandbox.woocommerce.activity import WooActivity
from salesync.sandbox.woocommerce.app import create_app
from salesync.sandbox.woocommerce.notify import deliver_due, sign
from salesync.sandbox.woocommerce.store import ApiKey, RateLimit, WooShop

__all__ = ["ApiKey", "RateLimit", "WooActivity", "WooShop", "create_app", "deliver_due", "sign"]
