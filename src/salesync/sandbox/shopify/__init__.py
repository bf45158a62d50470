"""A simulated Shopify shop: OAuth, the GraphQL Admin API with calculated-cost throttling,
a little REST, signed webhooks with clock-driven retries, seeded activity and faults.

Start one with ``create_app(ShopifyStore(clock=ManualClock(...)))`` and drive it through
``/_sandbox`` (see ``admin.py``) or the store object directly.
"""

from salesync.sandbox.shopify.activity import ShopifyActivity
from salesync.sandbox.shopify.app import create_app, oauth_query_hmac
from salesync.sandbox.shopify.notify import sign_webhook, verify_webhook
from salesync.sandbox.shopify.store import ShopifyStore

__all__ = [
    "ShopifyActivity",
    "ShopifyStore",
    "create_app",
    "oauth_query_hmac",
    "sign_webhook",
    "verify_webhook",
]
