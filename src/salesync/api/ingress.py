"""Webhook ingress: verify, keep in the inbox, acknowledge; processing comes later.

``POST /webhooks/{connection_id}`` reads the raw body under a size cap, verifies it with
the connection's secret, stores every record it carries in one shared transaction (see
``writer``) and answers 200 as soon as that has committed, in milliseconds; the engine's
runner takes the records in afterwards. Providers retry what is not acknowledged, so the
answers are chosen for them:

- 200: stored, a repeat of an event already stored (providers retry; that is no attack),
  or a genuine body its connector cannot read, kept and quarantined with the reason (a
  retry would bring the same bytes again);
- 401: a forged signature, or a delivery triggered longer ago than the source's replay
  horizon; logged with the connection and the sender's address, never stored;
- 404: no active source connection with this id; 413: over the size cap;
- 503: the database is unavailable, so the provider retries later.

Refusals that need someone to look (forged, replayed, unverifiable, no connector) are
incidents too, throttled per connection (``alarms``); bodies kept unreadable are
quarantined with theirs, like records the engine cannot take in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from salesync.api.alarms import IngressAlarms
from salesync.api.answers import (
    RETRY_AFTER_SECONDS,
    answer,
    database_unavailable,
    declared,
)
from salesync.api.body import BadLengthError, BodyTooLargeError, read_body
from salesync.api.connections import ConnectionCache, Receiver, UnknownConnectionError
from salesync.api.writer import GroupWriter
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.source import ForgedWebhookError, Source, Webhook, WebhookRequest
from salesync.domain.errors import AuthError, BugError, SyncError, ValidationError
from salesync.domain.validation import Problem
from salesync.engine.inbox import Inbox, Incoming, Received
from salesync.engine.incidents import IncidentLog
from salesync.store.failures import reason, unavailable

log = structlog.get_logger("salesync.ingress")

VERIFY_INLINE_BYTES = 64 * 1024
"""Bodies up to this size are verified on the event loop (microseconds of HMAC and JSON);
larger ones in a worker thread, so one big body does not hold up every other request."""


DELIVERY_BODY: dict[str, Any] = {
    "required": True,
    "description": "The provider's delivery exactly as it signed it; the signature is "
    "checked on these bytes.",
    "content": {"application/json": {"schema": {}}},
}


class Acknowledged(BaseModel):
    """A delivery taken: stored, a repeat, nothing to keep, or kept unreadable (then with
    the error shape's ``error``, ``message`` and ``problems`` and the record kept)."""

    model_config = ConfigDict(extra="allow")

    status: Literal["accepted", "duplicate", "ignored", "quarantined"]


class Refused(Exception):  # noqa: N818 -- an outcome carried to the handler, not a fault
    """A delivery answered with ``response`` before anything was stored; ``alarm`` is the
    failure to record as an incident of ``receiver``'s connection, if it is one."""

    def __init__(
        self,
        response: JSONResponse,
        *,
        receiver: Receiver | None = None,
        alarm: SyncError | None = None,
    ) -> None:
        super().__init__(response.status_code)
        self.response = response
        self.receiver = receiver
        self.alarm = alarm


@dataclass(frozen=True, slots=True)
class Delivery:
    """A verified delivery on its way to the inbox."""

    receiver: Receiver
    source: Source
    webhook: Webhook


class Ingress:
    """The webhook endpoint and what it needs: connections, sources, the shared writer."""

    def __init__(
        self,
        connections: ConnectionCache,
        registry: SourceRegistry,
        writer: GroupWriter,
        clock: Callable[[], datetime],
        max_body_bytes: int,
        *,
        incidents: IncidentLog | None = None,
    ) -> None:
        self.connections = connections
        self.registry = registry
        self.writer = writer
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.incidents = incidents or IncidentLog(clock)
        self.alarms = IngressAlarms(writer, self.incidents, clock)

    def register(self, app: FastAPI) -> None:
        # On the app itself, not through an included router: each router layer costs
        # every delivery a few more microseconds.
        app.add_api_route(
            "/webhooks/{connection_id}",
            self.receive,
            methods=["POST"],
            summary="Receive a provider's webhook delivery",
            tags=["webhooks"],
            response_class=JSONResponse,
            response_model=None,
            responses={
                200: {"model": Acknowledged, "description": "The delivery is taken."},
                **declared(
                    {
                        400: "The Content-Length header is not a number (`bad_content_length`).",
                        401: "A forged signature, or a delivery older than the provider's "
                        "retries (`webhook_forged`, `webhook_replayed`).",
                        404: "No active source connection with this id, or one that takes "
                        "no webhooks (`unknown_connection`, `no_webhooks`).",
                        413: "The body is over the size cap (`body_too_large`).",
                        503: "Nothing was stored: the database is unavailable, the source's "
                        "connector is not installed, or the connection cannot check "
                        "signatures. The provider delivers again later.",
                    }
                ),
            },
            openapi_extra={"requestBody": DELIVERY_BODY},
        )

    async def receive(self, connection_id: str, request: Request) -> JSONResponse:
        """Verify a delivery, keep its records, and acknowledge it."""
        try:
            body = await read_body(request, self.max_body_bytes)
            receiver = await self._receiver(connection_id)
            source = self._source(receiver)
            verified = await self._verify(request, body, receiver, source)
            if isinstance(verified, ValidationError):
                return await self._keep_unreadable(body, receiver, verified)
            self._check_age(request, verified)
            stored = await self.writer.receive(
                verified.receiver.tenant_id, self._incoming(verified)
            )
        except Refused as refused:
            if refused.alarm is not None and refused.receiver is not None:
                remote = request.client.host if request.client else None
                await self.alarms.sound(refused.receiver, refused.alarm, remote)
            return refused.response
        except BodyTooLargeError as exc:
            return answer(413, "body_too_large", f"The body is over {exc.limit} bytes.")
        except BadLengthError as exc:
            return answer(400, "bad_content_length", str(exc))
        except Exception as exc:
            if unavailable(exc):
                log.warning("webhook_not_stored", connection=connection_id, reason=reason(exc))
                return database_unavailable()
            raise
        return JSONResponse(
            {
                **stored_outcome(stored),
                "topic": verified.webhook.topic,
                "event_id": verified.webhook.event_id,
            }
        )

    async def _receiver(self, connection_id: str) -> Receiver:
        kept = self.connections.cached(connection_id)
        if kept is not None:
            return kept
        try:
            return await run_in_threadpool(self.connections.get, connection_id)
        except UnknownConnectionError as exc:
            raise Refused(answer(404, "unknown_connection", str(exc))) from None
        except SyncError as exc:  # its credentials cannot be opened (a vault key is gone)
            raise self._cannot_verify(connection_id, None, exc) from None

    def _source(self, receiver: Receiver) -> Source:
        try:
            source = self.registry.get(receiver.provider)
        except SyncError as exc:
            log.error(
                "webhook_source_missing",
                connection=receiver.connection_id,
                provider=receiver.provider,
                reason=exc.message,
            )
            raise Refused(
                answer(
                    503,
                    "source_not_installed",
                    f"The {receiver.provider} connector is not available on this server.",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                ),
                receiver=receiver,
                alarm=BugError(
                    f"webhooks for {receiver.provider} arrive but its connector is not "
                    "installed on this server",
                    user_message="salesync received your store's updates but could not read "
                    "them yet; they will be read again, nothing is lost.",
                    code="source_not_installed",
                ),
            ) from None
        if not source.capabilities.webhooks:
            raise Refused(
                answer(404, "no_webhooks", f"{receiver.provider} connections take no webhooks.")
            )
        return source

    async def _verify(
        self, request: Request, body: bytes, receiver: Receiver, source: Source
    ) -> Delivery | ValidationError:
        """The verified delivery, or why a genuine body cannot be read."""
        delivery = WebhookRequest(
            url=str(request.url),
            # ASGI servers give header names in lower case already.
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]},
            body=body,
        )
        try:
            try:
                webhook = await self._check(source, delivery, receiver)
            except ForgedWebhookError:
                # The kept secret may be stale (rotated, reconnected): try the stored one.
                fresh = await run_in_threadpool(self.connections.changed, receiver)
                if fresh is None:
                    raise
                receiver = fresh
                webhook = await self._check(source, delivery, receiver)
        except ForgedWebhookError as exc:
            raise self._refusal(request, receiver, "forged", exc.message, alarm=exc) from None
        except UnknownConnectionError as exc:
            raise Refused(answer(404, "unknown_connection", str(exc))) from None
        except ValidationError as exc:
            return exc
        except SyncError as exc:  # the connection cannot check signatures (no secret...)
            refused = self._cannot_verify(receiver.connection_id, receiver.provider, exc)
            refused.receiver, refused.alarm = receiver, exc
            raise refused from None
        return Delivery(receiver, source, webhook)

    @staticmethod
    def _cannot_verify(connection_id: str, provider: str | None, exc: SyncError) -> Refused:
        """503: nothing can be verified until the connection is fixed; the provider keeps
        retrying meanwhile, and the sweep catches up on whatever it gives up on."""
        log.error(
            "webhook_not_verifiable",
            connection=connection_id,
            provider=provider,
            code=exc.code,
            reason=exc.message,
        )
        return Refused(
            answer(
                503,
                exc.code or "cannot_verify",
                exc.user_message,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        )

    @staticmethod
    async def _check(source: Source, delivery: WebhookRequest, receiver: Receiver) -> Webhook:
        if len(delivery.body) <= VERIFY_INLINE_BYTES:
            return source.verify(delivery, receiver.connection)
        return await run_in_threadpool(source.verify, delivery, receiver.connection)

    def _check_age(self, request: Request, delivery: Delivery) -> None:
        """Refuse a delivery triggered before the source's replay horizon: the provider
        stopped retrying long ago, so it is someone sending an old message again."""
        horizon = delivery.source.capabilities.replay_horizon
        triggered = delivery.webhook.triggered_at
        if horizon is None or triggered is None:
            return
        age = self.clock() - triggered
        if age > horizon:
            reason = f"it was triggered {age} ago, longer than the provider retries ({horizon})"
            alarm = AuthError(
                f"a delivery triggered {age} ago was sent again",
                user_message="A webhook delivery older than the provider's retries was "
                "refused as a replay.",
                code="webhook_replayed",
            )
            raise self._refusal(request, delivery.receiver, "replayed", reason, alarm=alarm)

    def _refusal(
        self,
        request: Request,
        receiver: Receiver,
        what: str,
        reason: str,
        *,
        alarm: SyncError | None = None,
    ) -> Refused:
        """Log a refused delivery (never its body) and the 401 that answers it."""
        log.warning(
            "webhook_refused",
            refused=what,
            connection=receiver.connection_id,
            tenant=receiver.tenant_id,
            provider=receiver.provider,
            remote=request.client.host if request.client else None,
            reason=reason,
        )
        message = "its signature does not match" if what == "forged" else reason
        return Refused(
            answer(401, f"webhook_{what}", f"The delivery was refused: {message}."),
            receiver=receiver,
            alarm=alarm,
        )

    @staticmethod
    def _incoming(delivery: Delivery) -> list[Incoming]:
        receiver, webhook = delivery.receiver, delivery.webhook
        records = webhook.records

        def event_id(i: int, own: str | None) -> str | None:
            # Records without an id of their own share the delivery's; several of them
            # are told apart by position, so they do not dedupe against each other.
            if own is not None or webhook.event_id is None or len(records) == 1:
                return own or webhook.event_id
            return f"{webhook.event_id}#{i}"

        return [
            Incoming(
                receiver.provider,
                record.record_type,
                record.payload,
                event_id=event_id(i, record.event_id),
                connection_id=receiver.connection_id,
            )
            for i, record in enumerate(records)
        ]

    async def _keep_unreadable(
        self, body: bytes, receiver: Receiver, error: ValidationError
    ) -> JSONResponse:
        """Keep a genuine body its connector cannot read, quarantined with the reason, and
        say so with a 200: the provider would only send the same bytes again."""
        problems = tuple(p for p in error.problems if isinstance(p, Problem)) or (
            Problem(error.code or "unreadable", error.message, ""),
        )
        # Kept as text; bytes that are not UTF-8 are written as escapes, not lost.
        payload = body.decode("utf-8", errors="backslashreplace")

        def work(session: Session) -> Received:
            inbox = Inbox(session, receiver.tenant_id, self.clock, incidents=self.incidents)
            return inbox.refuse(
                receiver.provider, payload, problems, connection_id=receiver.connection_id
            )

        kept = await self.writer.run(work)
        log.warning(
            "webhook_unreadable",
            connection=receiver.connection_id,
            tenant=receiver.tenant_id,
            provider=receiver.provider,
            record=kept.record_id,
            reason=error.message,
        )
        return answer(
            200,
            "unreadable",
            f"The delivery is genuine but cannot be read: {error.message}. It is kept, "
            "quarantined with the reason, and the source's sweep will bring the event again.",
            problems=problems,
            status="quarantined",
            record=kept.record_id,
        )


def stored_outcome(stored: list[Received]) -> dict[str, Any]:
    """What a delivery's answer says of the records it stored: ``accepted``, all
    ``duplicate``, or ``ignored`` (nothing to store), with the counts."""
    if not stored:
        return {"status": "ignored", "records": 0, "duplicates": 0}
    duplicates = sum(r.is_duplicate for r in stored)
    status = "duplicate" if duplicates == len(stored) else "accepted"
    return {"status": status, "records": len(stored) - duplicates, "duplicates": duplicates}
