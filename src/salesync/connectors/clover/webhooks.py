"""Clover webhook messages: the app's auth code checked, then the updates read.

Clover proves a message's origin with a shared code, not a signature over the body: once
the webhook URL is verified (Clover POSTs ``{"verificationCode": ...}`` to it and the code
is entered in the Developer Dashboard), every message carries the app's auth code in
``X-Clover-Auth`` (https://docs.clover.com/docs/webhooks). The code is compared in
constant time with the connection's ``webhook_auth_code``. The body cannot be checked
for changes the way an HMAC allows, which is why salesync keeps nothing from it but
object ids: each named object is fetched from Clover's API with the merchant's token.

A message is ``{"appId", "merchants": {mId: [{"objectId": "O:<id>", "type":
"CREATE|UPDATE|DELETE", "ts": <ms>}]}}`` and may hold several merchants; a connection
keeps only its own merchant's updates. Clover gives no event id, so each update is keyed
by merchant, object, type and time, which a retried message repeats.

Clover posts every merchant's updates of one app to the app's one URL; salesync's
``POST /webhooks/clover`` (``salesync.api.clover``) checks the app's code and hands each
merchant's records to its connections, with the same keys as here.
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from salesync.connectors.clover.payloads import Notification, instant
from salesync.connectors.clover.problems import parse
from salesync.connectors.source import (
    ForgedWebhookError,
    SourceConnection,
    SourceRecord,
    Webhook,
    WebhookRequest,
)
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem

AUTH_HEADER = "x-clover-auth"
AUTH_CODE = "webhook_auth_code"
"""The credential holding the app's Clover auth code."""
VERIFICATION = "verification"
UPDATES = "updates"


class _Update(BaseModel):
    model_config = ConfigDict(extra="ignore")
    objectId: str = Field(min_length=3)  # noqa: N815  Clover's field
    type: str
    ts: int


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    appId: str = ""  # noqa: N815
    merchants: dict[str, list[_Update]]


def verification_code(body: bytes) -> str | None:
    """The code of Clover's verification POST, when the body is exactly that."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return None
    if isinstance(parsed, dict) and set(parsed) == {"verificationCode"}:
        return str(parsed["verificationCode"])
    return None


def authentic(delivery: WebhookRequest, code: str) -> bool:
    """Whether the delivery carries ``code`` in ``X-Clover-Auth`` (compared in constant
    time)."""
    given = delivery.headers.get(AUTH_HEADER)
    return bool(given) and hmac.compare_digest(code.encode(), str(given).strip().encode())


def notifications(body: bytes) -> dict[str, tuple[SourceRecord, ...]]:
    """Each merchant's updates in a message, as notification records keyed by merchant,
    object, type and time (a retried message repeats those keys, so it dedupes).
    ``ValidationError`` when the body is not a Clover message."""
    message = parse(_Message, "webhook", body.decode("utf-8", errors="replace"))
    return {
        merchant: tuple(
            SourceRecord(
                "notification",
                Notification(
                    merchant_id=merchant, objectId=u.objectId, type=u.type, ts=u.ts
                ).model_dump_json(),
                f"{merchant}:{u.objectId}:{u.type}:{u.ts}",
            )
            for u in updates
        )
        for merchant, updates in message.merchants.items()
    }


def triggered(records: tuple[SourceRecord, ...]) -> datetime | None:
    """When the earliest of the notifications happened."""
    times = [int(json.loads(r.payload)["ts"]) for r in records]
    return instant(min(times)) if times else None


def check_auth(delivery: WebhookRequest, connection: SourceConnection) -> None:
    """Raise ``ForgedWebhookError`` unless the delivery carries the connection's auth code."""
    expected = connection.credentials.get(AUTH_CODE)
    if not expected:
        raise ForgedWebhookError(
            f"connection {connection.connection_id} has no {AUTH_CODE}; a Clover message "
            "cannot be checked without it",
            code="webhook_auth_code_missing",
        )
    if not delivery.headers.get(AUTH_HEADER):
        raise ForgedWebhookError(f"the delivery has no {AUTH_HEADER} header")
    if not authentic(delivery, str(expected)):
        raise ForgedWebhookError(f"{AUTH_HEADER} is not this connection's Clover auth code")


def read_delivery(delivery: WebhookRequest, connection: SourceConnection) -> Webhook:
    """A verified message: its updates for the connection's merchant, as notification
    records; or the verification code Clover sends when the URL is set up."""
    code = verification_code(delivery.body)
    if code is not None:
        # Sent before any auth code exists, so it cannot carry one; it holds no data, only
        # the code the developer enters in the Dashboard, kept so they can read it.
        record = SourceRecord(
            "notification",
            json.dumps({"merchant_id": "", "objectId": f"V:{code}", "type": "VERIFY", "ts": 0}),
            f"verification:{code}",
        )
        return Webhook(VERIFICATION, f"verification:{code}", None, (record,))
    check_auth(delivery, connection)
    found = notifications(delivery.body)
    merchant = connection.settings.get("merchant_id")
    if not merchant:
        raise ValidationError(
            f"clover connection {connection.connection_id} has no merchant_id setting",
            user_message="Set the Clover merchant id of this connection so its updates "
            "can be told from other merchants'.",
            code="bad_setting",
            provider="clover",
            problems=(Problem("bad_setting", "set the Clover merchant id", "merchant_id"),),
        )
    records = found.get(str(merchant), ())
    return Webhook(UPDATES, None, triggered(records), records)
