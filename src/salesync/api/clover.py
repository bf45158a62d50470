"""Clover's app-level webhook: ``POST /webhooks/clover``.

Clover posts the notifications of every merchant that installed an app to the app's one
webhook URL, as ``{"appId", "merchants": {mId: [updates]}}`` with the app's auth code in
``X-Clover-Auth`` (https://docs.clover.com/docs/webhooks). salesync keeps one URL per
connection, so a message is split here: the code is checked against the app's (the
setting ``clover_webhook_auth_code``), each merchant's updates go to every active Clover
connection of that merchant, whatever its tenant, through the shared writer that
``/webhooks/{connection_id}`` uses (raw kept, the same event keys, so a retried message
and the same update on both routes are duplicates), and the answer is 200 once stored.
Without the app's code configured the route answers 404, and Clover retries until it is.

Clover retries what is not a 2xx, so updates of a merchant no connection reads (not
connected yet, or disconnected) are logged and answered 200: retrying would bring them
to the same nowhere, and the sweep of a connection made later reads the objects anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from salesync.api.answers import answer, database_unavailable, declared
from salesync.api.body import BadLengthError, BodyTooLargeError, read_body
from salesync.api.connections import ConnectionCache, UnknownConnectionError
from salesync.api.ingress import DELIVERY_BODY, stored_outcome
from salesync.api.writer import GroupWriter
from salesync.connectors.clover.webhooks import authentic, notifications, verification_code
from salesync.connectors.source import SourceRecord, WebhookRequest
from salesync.domain.errors import ValidationError
from salesync.engine.inbox import Incoming, Received
from salesync.store.failures import reason, unavailable
from salesync.store.tables import ConnectionRow

log = structlog.get_logger("salesync.ingress")

PROVIDER = "clover"
PATH = "/webhooks/clover"


class CloverIngress:
    """The app-level route and what it needs: the connections, the shared writer, the
    app's auth code (None: the route says it is not set up)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        connections: ConnectionCache,
        writer: GroupWriter,
        clock: Callable[[], datetime],
        max_body_bytes: int,
        *,
        auth_code: str | None,
    ) -> None:
        self.factory = factory
        self.connections = connections
        self.writer = writer
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.auth_code = auth_code

    def register(self, app: FastAPI) -> None:
        """Added before ``/webhooks/{connection_id}``, which would otherwise take the path
        as a connection id."""
        app.add_api_route(
            PATH,
            self.receive,
            methods=["POST"],
            summary="Receive the Clover app's webhook messages, for every merchant",
            tags=["webhooks"],
            response_class=JSONResponse,
            response_model=None,
            responses={
                200: {
                    "description": "Stored for each merchant's connections; merchants no "
                    "connection reads are named in `unknown_merchants`. Clover's "
                    "verification POST is answered 200 and its code logged."
                },
                **declared(
                    {
                        400: "The body is not a Clover message (`unreadable`), or its "
                        "Content-Length is not a number (`bad_content_length`).",
                        401: "`X-Clover-Auth` is not the app's auth code (`webhook_forged`).",
                        404: "No Clover app is set up on this server: its auth code is not "
                        "configured (`clover_app_not_set_up`); Clover retries meanwhile.",
                        413: "The body is over the size cap (`body_too_large`).",
                        503: "Nothing was stored: the database is unavailable.",
                    }
                ),
            },
            openapi_extra={"requestBody": DELIVERY_BODY},
        )

    async def receive(self, request: Request) -> JSONResponse:
        """Check the app's code, split the message by merchant, keep each merchant's
        updates in its connections' inboxes, and acknowledge."""
        try:
            body = await read_body(request, self.max_body_bytes)
        except BodyTooLargeError as exc:
            return answer(413, "body_too_large", f"The body is over {exc.limit} bytes.")
        except BadLengthError as exc:
            return answer(400, "bad_content_length", str(exc))
        code = verification_code(body)
        if code is not None:
            # The developer enters it in the Clover Developer Dashboard, which then
            # shows the auth code to configure; the operator reads it in the log.
            log.warning("clover_verification_code", code=code, path=PATH)
            return JSONResponse({"status": "verification"})
        if self.auth_code is None:
            return answer(
                404,
                "clover_app_not_set_up",
                "Clover's app-level webhook is not set up on this server: set "
                "SALESYNC_CLOVER_WEBHOOK_AUTH_CODE to the app's auth code.",
            )
        delivery = WebhookRequest(
            url=str(request.url),
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]},
            body=body,
        )
        if not authentic(delivery, self.auth_code):
            log.warning(
                "webhook_refused",
                refused="forged",
                provider=PROVIDER,
                path=PATH,
                remote=request.client.host if request.client else None,
            )
            return answer(
                401, "webhook_forged", "The delivery was refused: its code does not match."
            )
        try:
            found = notifications(body)
        except ValidationError as exc:
            log.warning("webhook_unreadable", provider=PROVIDER, path=PATH, reason=exc.message)
            return answer(400, "unreadable", exc.message, problems=exc.problems)
        try:
            stored, unknown = await self._store(found)
        except Exception as exc:
            if unavailable(exc):
                log.warning("webhook_not_stored", provider=PROVIDER, reason=reason(exc))
                return database_unavailable()
            raise
        if unknown:
            log.warning(
                "clover_merchants_unknown",
                merchants=unknown,
                updates=sum(len(found[m]) for m in unknown),
            )
        return JSONResponse({**stored_outcome(stored), "unknown_merchants": unknown})

    async def _store(
        self, found: dict[str, tuple[SourceRecord, ...]]
    ) -> tuple[list[Received], list[str]]:
        """Each merchant's records kept for each of its connections; the merchants no
        active connection reads."""
        routes = await run_in_threadpool(self.connections_of, found)
        stored: list[Received] = []
        for merchant, records in found.items():
            for connection_id in routes.get(merchant, ()):
                try:
                    receiver = await run_in_threadpool(self.connections.get, connection_id)
                except UnknownConnectionError:
                    continue  # paused or removed since it was looked up
                stored += await self.writer.receive(
                    receiver.tenant_id, _incoming(receiver.connection_id, records)
                )
        unknown = sorted(m for m in found if not routes.get(m))
        return stored, unknown

    def connections_of(self, merchants: Iterable[str]) -> dict[str, list[str]]:
        """The active Clover source connections of each merchant, in every tenant."""
        wanted = set(merchants)
        query = select(ConnectionRow.id, ConnectionRow.settings).where(
            ConnectionRow.provider == PROVIDER,
            ConnectionRow.role == "source",
            ConnectionRow.status == "active",
        )
        routes: dict[str, list[str]] = {}
        with self.factory() as session:
            for connection_id, settings in session.execute(query):
                merchant = str((settings or {}).get("merchant_id") or "")
                if merchant in wanted:
                    routes.setdefault(merchant, []).append(connection_id)
        return routes


def _incoming(connection_id: str, records: tuple[SourceRecord, ...]) -> list[Incoming]:
    return [
        Incoming(
            PROVIDER,
            record.record_type,
            record.payload,
            event_id=record.event_id,
            connection_id=connection_id,
        )
        for record in records
    ]
