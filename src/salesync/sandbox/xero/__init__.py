"""A simulated Xero organisation (Accounting API 2.0) with Xero's OAuth 2.0 and limits.

``create_app()`` serves it; ``XeroOrganisation`` is its in-memory state. Faults are armed
with a ``FaultPlan`` per operation name: "token", "get:Organisation", "get:<Collection>",
"put:<Collection>", "post:<Collection>" and "put:Allocations" (or over HTTP with
POST /_sandbox/faults).
"""

from salesync.sandbox.xero.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from salesync.sandbox.xero.organisation import XeroOrganisation
from salesync.sandbox.xero.service import XeroSandbox

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "XeroOrganisation",
    "XeroSandbox",
    "create_app",
]
