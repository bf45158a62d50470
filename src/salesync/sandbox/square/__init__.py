"""A simulated Square seller account: OAuth, the v2 Orders, Customers, Catalog, Locations,
Payments, Refunds, Payouts and Webhook Subscriptions APIs, signed webhooks with
clock-driven retries, a per-token rate limit, seeded activity and faults.

Start one with ``create_app(SquareSeller(clock=ManualClock(...)))`` and drive it through
``/_sandbox`` (see ``admin.py``) or the seller object directly.
"""

from salesync.sandbox.square.activity import SquareActivity
from salesync.sandbox.square.app import create_app
from salesync.sandbox.square.credentials import pkce_challenge
from salesync.sandbox.square.notify import sign_webhook, verify_webhook
from salesync.sandbox.square.seller import RateLimit, SquareSeller

__all__ = [
    "RateLimit",
    "SquareActivity",
    "SquareSeller",
    "create_app",
    "pkce_challenge",
    "sign_webhook",
    "verify_webhook",
]
