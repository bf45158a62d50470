"""Controls the sandboxes share under ``/_sandbox``: faults, and webhook delivery.

They are not part of any provider's API; tests and the demo drive the sandboxes with them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from salesync.sandbox.faults import Fault, FaultKind, FaultPlan
from salesync.sandbox.oauth import TokenAuthority
from salesync.sandbox.webhooks import DeliveryAttempt, DeliveryQueue


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


class ConsentRequest(BaseModel):
    """Make the user decline the next ``decline_next`` consent screens."""

    decline_next: int = Field(default=1, ge=1)


def consent_routes(authority: TokenAuthority) -> APIRouter:
    """POST ``/_sandbox/consent``: the user's next answers on the consent screen."""
    router = APIRouter(prefix="/_sandbox")

    @router.post("/consent")
    def consent(request: ConsentRequest) -> dict[str, int]:
        authority.decline_next(request.decline_next)
        return {"declines": request.decline_next}

    return router


class ChaosRequest(BaseModel):
    """Drop, duplicate or hold back the next webhook deliveries."""

    drop_next: int = Field(default=0, ge=0)
    duplicate_next: int = Field(default=0, ge=0)
    delay_next: int = Field(default=0, ge=0)
    delay_seconds: float = 300.0


def attempt_json(attempt: DeliveryAttempt, topic_field: str = "topic") -> dict[str, Any]:
    """One delivery attempt as the admin endpoints show it; ``topic_field`` is the
    provider's own word for the event's type."""
    return {
        "delivery_id": attempt.delivery_id,
        topic_field: attempt.topic,
        "event_id": attempt.event_id,
        "attempt": attempt.attempt,
        "status": attempt.status,
        "error": attempt.error,
    }


def delivery_routes(deliveries: DeliveryQueue, topic_field: str = "topic") -> APIRouter:
    """POST ``/_sandbox/webhooks/deliver`` (send what is due) and ``.../chaos``."""
    router = APIRouter(prefix="/_sandbox/webhooks")

    @router.post("/deliver")
    def deliver() -> list[dict[str, Any]]:
        return [attempt_json(a, topic_field) for a in deliveries.deliver_due()]

    @router.post("/chaos")
    def chaos(body: ChaosRequest) -> dict[str, int]:
        deliveries.drop_next(body.drop_next)
        deliveries.duplicate_next(body.duplicate_next)
        deliveries.delay_next(body.delay_next, timedelta(seconds=body.delay_seconds))
        return {"pending": len(deliveries.pending())}

    return router
