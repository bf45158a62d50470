"""A simulated Lightspeed Retail (R-Series) account: OAuth with hour-long access tokens and
refresh tokens, API V3's Sale, SaleLine, Customer, Item, Shop and PaymentType resources with
``load_relations``, query operators and ``@attributes.next`` pages, the per-app leaky bucket
with its headers and 429s, R-Series' error bodies, seeded trading and faults.

R-Series sends no webhooks for sales, so neither does this: a client polls.

Start one with ``create_app(LightspeedAccount(clock=ManualClock(...)))`` and drive it
through ``/_sandbox`` (see ``admin.py``) or the account object directly.
"""

from salesync.sandbox.lightspeed_r.activity import LightspeedActivity
from salesync.sandbox.lightspeed_r.app import create_app
from salesync.sandbox.lightspeed_r.store import Bucket, LightspeedAccount

__all__ = ["Bucket", "LightspeedAccount", "LightspeedActivity", "create_app"]
