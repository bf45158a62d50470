"""A simulated Clover: merchants with their inventory, customers and orders, the v3 REST
API with Clover's rate and concurrency limits, expiring OAuth tokens, webhooks with their
verification code and ``X-Clover-Auth``, seeded activity and faults.

Start one with ``create_app(CloverPlatform(clock=ManualClock(...)))`` and drive it through
``/_sandbox`` or the platform object directly.
"""

from salesync.sandbox.clover.activity import CloverActivity
from salesync.sandbox.clover.app import create_app
from salesync.sandbox.clover.platform import CloverMerchant, CloverPlatform, RateLimits

__all__ = ["CloverActivity", "CloverMerchant", "CloverPlatform", "RateLimits", "create_app"]
