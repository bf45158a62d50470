"""A simulated Lightspeed Retail (X-Series) retailer: the OAuth token endpoint with
rotating refresh tokens, API 2.0 collections paged by version, the per-retailer rate
limit that grows with registers, signed form-encoded webhooks, faults, and a week of
trading at two outlets.

Start one with ``create_app(LightspeedRetailer(clock=ManualClock(...)))`` and drive it
through ``/_sandbox`` or the retailer object directly.
"""

from salesync.sandbox.lightspeed_x.activity import LightspeedActivity
from salesync.sandbox.lightspeed_x.app import create_app
from salesync.sandbox.lightspeed_x.notify import SIGNATURE_HEADER, TOPICS, sign
from salesync.sandbox.lightspeed_x.retailer import App, LightspeedRetailer, RateLimit

__all__ = [
    "SIGNATURE_HEADER",
    "TOPICS",
    "App",
    "LightspeedActivity",
    "LightspeedRetailer",
    "RateLimit",
    "create_app",
    "sign",
]
