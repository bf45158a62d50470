"""A simulated QuickBooks Online company (Accounting API v3) with Intuit's OAuth 2.0.

``create_app()`` serves it; ``QboCompany`` is its in-memory state. Faults are armed with a
``FaultPlan`` per operation name: "token", "query", "batch", "batch:Customer",
"read:<Entity>", "create:<Entity>", "update:<Entity>" (or over HTTP with POST
/_sandbox/faults). "batch:Customer" is a batch whose every item is a Customer operation
(the customers a connector creates ahead of its postings); every other batch is "batch".
Both are batch calls to the limits, and the request log names both "batch".
"""

from salesync.sandbox.qbo.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from salesync.sandbox.qbo.company import QboCompany, QboSettings
from salesync.sandbox.qbo.service import QboSandbox

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "QboCompany",
    "QboSandbox",
    "QboSettings",
    "create_app",
]
