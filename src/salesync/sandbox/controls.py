"""Controls every sandbox shares under ``/_sandbox``: arming, listing and clearing faults.

They are not part of any provider's API; tests and the demo drive the sandboxes with them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from salesync.sandbox.faults import Fault, FaultKind, FaultPlan


class FaultRequest(BaseModel):
    """Arm ``times`` faults of ``kind`` for ``operation`` (a sandbox's operation name, or "*")."""

    operation: str
    kind: FaultKind
    times: int = Field(default=1, ge=1)
    status: int = 503
    retry_after: float = 1.0
    delay: float = 0.0


def fault_routes(faults: FaultPlan) -> APIRouter:
    """POST, GET and DELETE ``/_sandbox/faults`` for one sandbox's fault plan."""
    router = APIRouter(prefix="/_sandbox")

    @router.post("/faults")
    def arm(request: FaultRequest) -> dict[str, int]:
        fault = Fault(request.kind, request.status, request.retry_after, request.delay)
        faults.arm(request.operation, fault, request.times)
        return {"pending": faults.pending()}

    @router.get("/faults")
    def listed() -> dict[str, Any]:
        fired = [{"operation": op, "kind": kind.value} for op, kind in faults.fired]
        return {"pending": faults.pending(), "fired": fired}

    @router.delete("/faults")
    def clear() -> dict[str, int]:
        faults.clear()
        return {"pending": 0}

    return router
