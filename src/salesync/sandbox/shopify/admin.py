"""``/_sandbox`` controls for tests and the demo: apps and tokens, faults, webhooks, activity."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from salesync.clock import ManualClock
from salesync.sandbox.controls import attempt_json
from salesync.sandbox.shopify.activity import ShopifyActivity
from salesync.sandbox.shopify.notify import TOPICS
from salesync.sandbox.shopify.payloads import shop_json
from salesync.sandbox.shopify.store import API_VERSIONS, ShopifyStore

DEFAULT_SCOPES = (
    "read_orders",
    "read_all_orders",
    "read_customers",
    "read_products",
    "read_locations",
    "read_shopify_payments_payouts",
)


class AppIn(BaseModel):
    scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_SCOPES))
    client_id: str | None = None
    client_secret: str | None = None


class TokenIn(BaseModel):
    expiring: bool = False


class RevokeIn(BaseModel):
    access_token: str


class SubscriptionIn(BaseModel):
    client_id: str
    topic: str
    uri: str


class ActivityIn(BaseModel):
    steps: int = Field(default=0, ge=0)
    advance_seconds: float = Field(default=0.0, ge=0)
    seed: int = 7


def admin_router(store: ShopifyStore) -> APIRouter:
    """Routes that drive ``store`` from outside, as a test or the demo would."""
    router = APIRouter(prefix="/_sandbox")
    _state_routes(router, store)
    _credential_routes(router, store)
    _webhook_routes(router, store)
    _activity_routes(router, store)
    return router


def _app_or_404(store: ShopifyStore, client_id: str) -> None:
    if client_id not in store.credentials.apps:
        raise HTTPException(404, f"no app {client_id}")


def _state_routes(router: APIRouter, store: ShopifyStore) -> None:
    @router.get("/state")
    def state() -> dict[str, Any]:
        with store.lock:
            data = store.data
            counts = {
                "locations": len(data.locations),
                "customers": len(data.customers),
                "products": len(data.products),
                "orders": len(data.orders),
                "payouts": len(data.payouts),
                "balance_transactions": len(data.balance_transactions),
            }
            subscriptions = [
                {"id": s.id, "client_id": s.client_id, "topic": s.topic, "uri": s.uri}
                for s in data.subscriptions.values()
            ]
        return {
            "shop": store.domain,
            "now": store.now().isoformat(),
            "plan": store.plan,
            "counts": counts,
            "apps": sorted(store.credentials.apps),
            "subscriptions": subscriptions,
            "pending_deliveries": [
                {
                    "delivery_id": d,
                    "topic": m.topic,
                    "event_id": m.event_id,
                    "due_at": due.isoformat(),
                }
                for d, m, due in store.deliveries.pending()
            ],
            "attempts": [attempt_json(a) for a in store.deliveries.attempts],
            "faults_fired": [[op, kind.value] for op, kind in store.faults.fired],
            "faults_pending": store.faults.pending(),
            "graphql_buckets": store.graphql_buckets.snapshot(),
        }


def _credential_routes(router: APIRouter, store: ShopifyStore) -> None:
    @router.post("/apps")
    def create_app(body: AppIn) -> dict[str, Any]:
        app = store.credentials.register_app(tuple(body.scopes), body.client_id, body.client_secret)
        return {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "scopes": app.scopes,
        }

    @router.post("/apps/{client_id}/code")
    def code(client_id: str) -> dict[str, str]:
        _app_or_404(store, client_id)
        return {"code": store.credentials.issue_code(client_id)}

    @router.post("/apps/{client_id}/token")
    def token(client_id: str, body: TokenIn) -> dict[str, object]:
        _app_or_404(store, client_id)
        app = store.credentials.apps[client_id]
        grant = store.credentials.exchange_code(
            client_id,
            app.client_secret,
            store.credentials.issue_code(client_id),
            expiring=body.expiring,
        )
        return grant.as_json()

    @router.post("/apps/{client_id}/uninstall")
    def uninstall(client_id: str) -> dict[str, str]:
        _app_or_404(store, client_id)
        store.notifier.trigger("app/uninstalled", shop_json(store), client_id=client_id)
        store.credentials.uninstall(client_id)
        return {"uninstalled": client_id}

    @router.post("/tokens/revoke")
    def revoke(body: RevokeIn) -> dict[str, bool]:
        return {"revoked": store.credentials.revoke(body.access_token)}


def _webhook_routes(router: APIRouter, store: ShopifyStore) -> None:
    @router.post("/webhooks")
    def subscribe(body: SubscriptionIn) -> dict[str, Any]:
        _app_or_404(store, body.client_id)
        if body.topic not in TOPICS:
            raise HTTPException(422, f"unknown topic {body.topic}; known: {', '.join(TOPICS)}")
        made = store.subscribe(body.client_id, body.topic, body.uri, API_VERSIONS[-1])
        return {"id": made.id, "topic": made.topic, "uri": made.uri}


def _activity_routes(router: APIRouter, store: ShopifyStore) -> None:
    drivers: list[ShopifyActivity] = []

    @router.post("/activity")
    def generate(body: ActivityIn) -> dict[str, Any]:
        if not drivers:
            drivers.append(ShopifyActivity(store, body.seed))
        driver = drivers[0]
        done: list[str] = [driver.step() for _ in range(body.steps)]
        steps = len(done)
        if body.advance_seconds:
            if not isinstance(store.clock, ManualClock):
                raise HTTPException(409, "advancing time needs the shop to run on a ManualClock")
            end = store.now() + timedelta(seconds=body.advance_seconds)
            steps += driver.run_until(end, store.clock)
        return {"steps": steps, "now": store.now().isoformat(), "done": done}
