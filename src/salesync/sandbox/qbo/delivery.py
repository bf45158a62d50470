"""How QBO answers reach the client under after-work faults: the shared sandbox delivery.

Nothing in it is particular to Intuit (its gateway times out with the plain load-balancer
page), so the QBO sandbox uses ``salesync.sandbox.delivery``; this module keeps the names
importable where QBO code and its tests have always found them.
"""

from __future__ import annotations

from salesync.sandbox.delivery import ConnectionDroppedError, deliver

__all__ = ["ConnectionDroppedError", "deliver"]
