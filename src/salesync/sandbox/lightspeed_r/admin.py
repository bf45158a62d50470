"""``/_sandbox`` controls for tests and the demo: apps and tokens, faults, the bucket and
trading. They are not part of Lightspeed's API."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from salesync.sandbox.controls import fault_routes
from salesync.sandbox.lightspeed_r.activity import LightspeedActivity
from salesync.sandbox.lightspeed_r.store import Bucket, LightspeedAccount


class BucketIn(BaseModel):
    size: float = Field(gt=0)
    drip_rate: float = Field(gt=0)


class TokenIn(BaseModel):
    client_id: str


class ActivityIn(BaseModel):
    steps: int = Field(default=0, ge=0)
    seed: int = 7


def add_admin_routes(app: FastAPI, account: LightspeedAccount) -> None:
    """Routes that drive ``account`` from outside, as a test or the demo would."""
    app.include_router(fault_routes(account.faults))
    activity: dict[str, LightspeedActivity] = {}

    @app.get("/_sandbox/state")
    def state() -> dict[str, Any]:
        """Time, counts, apps and bucket levels."""
        data = account.data
        with account.lock:
            counts = {
                "shops": len(data.shops),
                "items": len(data.items),
                "customers": len(data.customers),
                "sales": len(data.sales),
            }
        return {
            "now": account.clock().isoformat(),
            "account_id": account.account_id,
            "counts": counts,
            "apps": sorted(account.credentials.apps),
            "bucket": {"size": account.bucket.size, "drip_rate": account.bucket.drip_rate},
            "levels": account.buckets.snapshot(),
        }

    @app.post("/_sandbox/apps")
    def register() -> dict[str, str]:
        """A new app with its client id and secret."""
        found = account.credentials.register_app()
        return {"client_id": found.client_id, "client_secret": found.client_secret}

    @app.post("/_sandbox/tokens")
    def issue(body: TokenIn) -> dict[str, Any]:
        """Tokens for an app, as if the retailer had just said yes."""
        if body.client_id not in account.credentials.apps:
            raise HTTPException(404, f"no app {body.client_id}")
        return account.credentials.issue(body.client_id)

    @app.put("/_sandbox/bucket")
    def resize(body: BucketIn) -> dict[str, float]:
        """Change the bucket's size and drip rate (more registers, off-peak hours)."""
        account.set_bucket(Bucket(body.size, body.drip_rate))
        return {"size": body.size, "drip_rate": body.drip_rate}

    @app.post("/_sandbox/activity")
    def trade(body: ActivityIn) -> dict[str, Any]:
        """Take ``steps`` trading steps now (sales, returns, customers...)."""
        driver = activity.setdefault("driver", LightspeedActivity(account, body.seed))
        driver.setup()
        done = [driver.step() for _ in range(body.steps)]
        return {"steps": len(done), "sales": len(account.data.sales)}
