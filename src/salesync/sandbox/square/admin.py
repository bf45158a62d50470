"""``/_sandbox`` controls for tests and the demo: apps and tokens, faults, rate limit,
webhooks, activity. They are not part of Square's API."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from salesync.clock import ManualClock
from salesync.sandbox.controls import attempt_json, delivery_routes, fault_routes
from salesync.sandbox.square.activity import SquareActivity
from salesync.sandbox.square.errors import SquareError
from salesync.sandbox.square.notify import EVENT_TYPES
from salesync.sandbox.square.seller import RateLimit, SquareSeller
from salesync.sandbox.square.views import payout_json, subscription_json


class AppIn(BaseModel):
    client_id: str | None = None
    client_secret: str | None = None
    api_version: str | None = None


class CodeIn(BaseModel):
    redirect_uri: str = "http://localhost/callback"
    code_challenge: str | None = None


class TokenIn(BaseModel):
    short_lived: bool = False


class RevokeIn(BaseModel):
    client_id: str


class RateLimitIn(BaseModel):
    capacity: float = Field(gt=0)
    per_second: float = Field(gt=0)


class SubscriptionIn(BaseModel):
    client_id: str
    notification_url: str
    event_types: list[str] = Field(default_factory=lambda: list(EVENT_TYPES))


class ActivityIn(BaseModel):
    steps: int = Field(default=0, ge=0)
    advance_seconds: float = Field(default=0.0, ge=0)
    seed: int = 7


class FailIn(BaseModel):
    payout_id: str | None = None
    """The payout the bank returns; the newest paid one made before ``made_before`` when
    not given."""
    made_before: datetime | None = None


def add_admin_routes(app: FastAPI, seller: SquareSeller) -> None:
    """Routes that drive ``seller`` from outside, as a test or the demo would."""
    _state_routes(app, seller)
    _credential_routes(app, seller)
    app.include_router(fault_routes(seller.faults))
    app.include_router(delivery_routes(seller.deliveries, "event_type"))
    _rate_limit_routes(app, seller)
    _webhook_routes(app, seller)
    _activity_routes(app, seller)


def _app_or_404(seller: SquareSeller, client_id: str) -> None:
    if client_id not in seller.credentials.apps:
        raise HTTPException(404, f"no app {client_id}")


def _state_routes(app: FastAPI, seller: SquareSeller) -> None:
    @app.get("/_sandbox/state")
    def state() -> dict[str, Any]:
        """Time, counts, apps, subscriptions, deliveries, faults and buckets."""
        with seller.lock:
            counts = {f.name: len(getattr(seller.data, f.name)) for f in fields(seller.data)}
        return {
            "merchant_id": seller.merchant_id,
            "now": seller.now().isoformat(),
            "counts": counts,
            "apps": sorted(seller.credentials.apps),
            "rate_limit": {
                "capacity": seller.rate_limit.capacity,
                "per_second": seller.rate_limit.per_second,
            },
            "pending_deliveries": [
                {
                    "delivery_id": d,
                    "event_type": m.topic,
                    "event_id": m.event_id,
                    "due_at": due.isoformat(),
                }
                for d, m, due in seller.deliveries.pending()
            ],
            "attempts": [attempt_json(a, "event_type") for a in seller.deliveries.attempts],
            "faults_fired": [[op, kind.value] for op, kind in seller.faults.fired],
            "faults_pending": seller.faults.pending(),
            "buckets": seller.buckets.snapshot(),
        }


def _credential_routes(app: FastAPI, seller: SquareSeller) -> None:
    credentials = seller.credentials

    @app.post("/_sandbox/apps")
    def register(body: AppIn) -> dict[str, str]:
        """A new application, pinned to ``api_version`` (the newest by default)."""
        extra = {"api_version": body.api_version} if body.api_version else {}
        made = credentials.register_app(body.client_id, body.client_secret, **extra)
        return {
            "client_id": made.client_id,
            "client_secret": made.client_secret,
            "api_version": made.api_version,
        }

    @app.post("/_sandbox/apps/{client_id}/code")
    def code(client_id: str, body: CodeIn) -> dict[str, str]:
        """The seller's consent: an authorization code, as the redirect would carry."""
        _app_or_404(seller, client_id)
        return {"code": credentials.authorize(client_id, body.redirect_uri, body.code_challenge)}

    @app.post("/_sandbox/apps/{client_id}/token")
    def token(client_id: str, body: TokenIn) -> dict[str, Any]:
        """Tokens for the app without the round trip, as ObtainToken answers them."""
        _app_or_404(seller, client_id)
        return credentials.issue(client_id, short_lived=body.short_lived)

    @app.post("/_sandbox/tokens/revoke")
    def revoke(body: RevokeIn) -> dict[str, bool]:
        """The seller disconnects the app from the Square Dashboard."""
        _app_or_404(seller, body.client_id)
        secret = credentials.apps[body.client_id].client_secret
        try:
            credentials.revoke(body.client_id, f"Client {secret}", None)
        except SquareError as error:
            raise HTTPException(error.status, error.detail) from error
        return {"revoked": True}


def _rate_limit_routes(app: FastAPI, seller: SquareSeller) -> None:
    @app.post("/_sandbox/rate-limit")
    def rate_limit(body: RateLimitIn) -> dict[str, float]:
        """Resize every token's bucket (Square publishes no numbers to copy)."""
        seller.set_rate_limit(RateLimit(body.capacity, body.per_second))
        return {"capacity": body.capacity, "per_second": body.per_second}


def _webhook_routes(app: FastAPI, seller: SquareSeller) -> None:
    @app.post("/_sandbox/webhooks")
    def subscribe(body: SubscriptionIn) -> dict[str, Any]:
        """A subscription made in the Developer Console, with its signature key."""
        _app_or_404(seller, body.client_id)
        unknown = sorted(set(body.event_types) - set(EVENT_TYPES))
        if unknown:
            raise HTTPException(422, f"unknown event types {unknown}; known: {EVENT_TYPES}")
        made = seller.subscribe(body.client_id, body.notification_url, tuple(body.event_types))
        return subscription_json(made, with_key=True)


def _activity_routes(app: FastAPI, seller: SquareSeller) -> None:
    drivers: list[SquareActivity] = []

    @app.post("/_sandbox/activity")
    def generate(body: ActivityIn) -> dict[str, Any]:
        """Run ``steps`` actions now, then act along ``advance_seconds`` of clock time."""
        if not drivers:
            drivers.append(SquareActivity(seller, body.seed))
        driver = drivers[0]
        done = [driver.step() for _ in range(body.steps)]
        steps = len(done)
        if body.advance_seconds:
            if not isinstance(seller.clock, ManualClock):
                raise HTTPException(409, "advancing time needs the seller to run on a ManualClock")
            end = seller.now() + timedelta(seconds=body.advance_seconds)
            steps += driver.run_until(end, seller.clock)
        return {"steps": steps, "now": seller.now().isoformat(), "done": done}

    @app.post("/_sandbox/payouts/fail")
    def fail(body: FailIn) -> dict[str, Any]:
        """The bank returns a payout: it turns ``FAILED`` and its money waits for the
        location's next payout (see ``ledger``)."""
        if not drivers:
            raise HTTPException(409, "no activity has run yet, so no payout has been made")
        with seller.lock:
            paid = [
                p
                for p in seller.data.payouts.values()
                if p.status == "PAID"
                and (body.made_before is None or p.created_at < body.made_before)
            ]
        if body.payout_id is not None:
            paid = [p for p in paid if p.id == body.payout_id]
        if not paid:
            raise HTTPException(404, "no paid payout matches")
        newest = max(paid, key=lambda p: (p.created_at, p.id))
        return {"payout": payout_json(drivers[0].payouts.fail(newest.id))}
