"""Manual sales entry: a sale or refund keyed in by hand, processed at once.

``POST /api/v1/tenants/{tenant_id}/sales`` (and ``/refunds``) takes salesync's document
JSON (as ``store.codec`` writes it) from a caller who may enter sales there
(``enter_sales``: the tenant's API token, its owners and bookkeepers, and admins; support
staff do not key sales into a merchant's books). A signed-in browser sends the session's
CSRF token in ``X-CSRF-Token``. ``id``,
``tenant_id`` and ``source`` may be left out: they are the tenant's, ``manual``, and the id
salesync derives from ``external_id``. The body is kept in the inbox first, whatever it
holds; then, in the same request, it is normalized and validated, and a valid entry (whose
policy is realtime) is planned and sent, so the answer says where it ended: posted with
its key, queued for a daily summary, parked until its sale arrives, or refused (422) with
every problem and the field it is about.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from salesync.accounts.roles import Action
from salesync.api.answers import (
    AUTH_REFUSALS,
    ProblemRow,
    answer,
    database_unavailable,
    declared,
)
from salesync.api.auth import request_refusal
from salesync.api.body import BadLengthError, BodyTooLargeError, read_body
from salesync.connectors.registry import SourceRegistry
from salesync.domain.documents import DocumentKind, document_id
from salesync.domain.validation import Problem, problem_rows
from salesync.engine.inbox import Inbox, Received, RecordState, as_problems
from salesync.engine.intake import Intake
from salesync.engine.outbox import PostingState
from salesync.engine.policies import MANUAL_SOURCE as MANUAL
from salesync.engine.runner import Engine
from salesync.engine.runs import recorded
from salesync.store.failures import reason, unavailable
from salesync.store.repositories import Locations
from salesync.store.tables import (
    DocumentRow,
    InboxRecordRow,
    PostingDocumentRow,
    PostingRow,
    QueuedDocumentRow,
)

log = structlog.get_logger("salesync.manual")

SETTLE_SECONDS = 10.0
"""How long an entry's answer waits for a send another worker started (a sender's own
calls are bounded by their timeouts; past this the answer says "sending")."""
SETTLE_POLL = 0.05

_STATUS = {
    RecordState.NORMALIZED: 201,
    RecordState.PARKED: 202,
    RecordState.RECEIVED: 202,
    RecordState.QUARANTINED: 422,
}


ENTRY_BODY: dict[str, Any] = {
    "required": True,
    "description": "The sale or refund in salesync's document JSON; `id`, `tenant_id` and "
    "`source` may be left out. Whatever arrives is kept; what cannot be booked is refused "
    "with 422 and every problem found.",
    "content": {"application/json": {"schema": {"type": "object"}}},
}


class EntryRecord(BaseModel):
    """The inbox record that keeps the entry."""

    id: int
    state: str
    duplicate_of: int | None


class EntryOutcome(BaseModel):
    """Where an entry ended: its record, the problems found, and the document with its
    queue place and postings once it has one."""

    record: EntryRecord
    problems: list[ProblemRow]
    document: dict[str, Any] | None = None


class Unauthorized(Exception):  # noqa: N818 -- an outcome carried to the handler
    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def entry_payload(tenant_id: str, kind: DocumentKind, body: bytes) -> tuple[str, list[Problem]]:
    """What to keep in the inbox for ``body``, and the problems that stop it being read.

    A JSON object gets the fields the API fills (``tenant_id``, ``source``, ``id``) where
    they are missing; anything else is kept as it came, for the normalizer to explain.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = Problem("not_utf8", f"byte {exc.start} is not UTF-8; send JSON in UTF-8", "")
        return body.decode("utf-8", errors="backslashreplace"), [problem]
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text, []
    except ValueError:  # an integer past the digits Python converts
        problem = Problem("unreadable_json", "a number in the body has too many digits", "")
        return text, [problem]
    except RecursionError:
        return text, [Problem("unreadable_json", "the JSON is nested too deeply", "")]
    halves = [
        Problem(
            "lone_surrogate", "a \\u escape is half of a UTF-16 pair; send whole characters", path
        )
        for path in sorted(lone_surrogates(data))
    ]
    nuls = [
        Problem("nul_character", "a \\u0000 (NUL) character cannot be stored; remove it", path)
        for path in sorted(nul_characters(data))
    ]
    if halves or nuls:
        return text, halves + nuls
    if not isinstance(data, dict):
        return text, []
    filled: dict[str, Any] = {"tenant_id": tenant_id, "source": MANUAL}
    external_id = data.get("external_id")
    if isinstance(external_id, str) and external_id:
        filled["id"] = document_id(tenant_id, MANUAL, kind, external_id)
    return json.dumps({**filled, **data}, ensure_ascii=False), []


def _strings(data: Any) -> Iterator[tuple[str, str]]:
    """Every string in parsed JSON, keys included, with its path (``lines[0].sku``)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, dict):
            for key, item in value.items():
                shown = _escaped(key).replace("\x00", "\\u0000")
                inner = f"{path}.{shown}" if path else shown
                yield inner, key
                stack.append((inner, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))


def lone_surrogates(data: Any) -> Iterator[str]:
    """The paths of the strings in parsed JSON that hold half of a UTF-16 surrogate pair:
    JSON's ``\\u`` escapes allow one, but no database can store it."""
    return (path for path, text in _strings(data) if _escaped(text) != text)


def nul_characters(data: Any) -> Iterator[str]:
    """The paths of the strings in parsed JSON holding a NUL character, which
    PostgreSQL's text cannot hold."""
    return (path for path, text in _strings(data) if "\x00" in text)


def _escaped(text: str) -> str:
    """``text`` with each half of a surrogate pair written as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where an entry ended, as the answer shows it."""

    status: int
    body: dict[str, Any]


class ManualEntry:
    """The manual entry endpoints and what they need."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        engine: Engine,
        registry: SourceRegistry,
        max_body_bytes: int,
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.engine = engine
        self.registry = registry
        self.max_body_bytes = max_body_bytes

    def register(self, app: FastAPI) -> None:
        prefix = "/api/v1/tenants/{tenant_id}"
        for path, endpoint, summary in (
            ("/sales", self.sale, "Enter a sale by hand"),
            ("/refunds", self.refund, "Enter a refund by hand"),
        ):
            app.add_api_route(
                prefix + path,
                endpoint,
                methods=["POST"],
                summary=summary,
                tags=["manual entry"],
                response_model=None,
                responses={
                    200: {
                        "model": EntryOutcome,
                        "description": "The same entry was sent before; its first outcome.",
                    },
                    201: {"model": EntryOutcome, "description": "Booked, or queued for a summary."},
                    202: {"model": EntryOutcome, "description": "Kept, waiting for its sale."},
                    **declared(
                        {
                            400: "The Content-Length header is not a number "
                            "(`bad_content_length`).",
                            **AUTH_REFUSALS,
                            413: "The body is over the size cap (`body_too_large`).",
                            422: "The entry is kept but cannot be booked (`invalid_entry`); "
                            "`problems` names every problem and its field.",
                        }
                    ),
                },
                openapi_extra={"requestBody": ENTRY_BODY},
            )

    async def sale(self, tenant_id: str, request: Request) -> JSONResponse:
        """Keep, validate and post a sale entered by hand."""
        return await self._enter(tenant_id, DocumentKind.SALE, request)

    async def refund(self, tenant_id: str, request: Request) -> JSONResponse:
        """Keep, validate and post a refund entered by hand."""
        return await self._enter(tenant_id, DocumentKind.REFUND, request)

    async def _enter(self, tenant_id: str, kind: DocumentKind, request: Request) -> JSONResponse:
        try:
            await run_in_threadpool(self._authenticate, tenant_id, request)
            body = await read_body(request, self.max_body_bytes)
            outcome = await run_in_threadpool(self._process, tenant_id, kind, body)
        except Unauthorized as refused:
            return refused.response
        except BodyTooLargeError as exc:
            return answer(413, "body_too_large", f"The body is over {exc.limit} bytes.")
        except BadLengthError as exc:
            return answer(400, "bad_content_length", str(exc))
        except Exception as exc:
            if unavailable(exc):
                return database_unavailable()
            raise
        return JSONResponse(outcome.body, status_code=outcome.status)

    def _authenticate(self, tenant_id: str, request: Request) -> None:
        refused = request_refusal(
            self.factory, self.clock, tenant_id, request, action=Action.ENTER_SALES
        )
        if refused is not None:
            raise Unauthorized(refused)

    def _process(self, tenant_id: str, kind: DocumentKind, body: bytes) -> Outcome:
        """Keep the entry, take it in, and plan and send it if it went through."""
        payload, refusal = entry_payload(tenant_id, kind, body)
        with recorded(self.factory, self.clock, "intake", tenant_id, origin="api") as run:
            received, state = self._take_in(tenant_id, kind, payload, refusal)
            if state is not None:
                run[state.value] = 1
        if state is RecordState.NORMALIZED:
            try:
                self.engine.plan(tenant_id)
                self.engine.send(tenant_id)
            except Exception as exc:
                # A destination that fails, or a runner planning the same tenant at this
                # moment: the answer shows the entry queued, and the runner posts it.
                log.warning("manual_entry_not_sent", tenant=tenant_id, reason=reason(exc))
        return self._settled(tenant_id, received)

    def _settled(self, tenant_id: str, received: Received) -> Outcome:
        """The entry's answer once no posting of it is mid-send. The runner may have
        claimed a posting between this request's planning and its sending; the request
        then waits, up to ``SETTLE_SECONDS``, for that send to finish, so the caller
        learns the outcome rather than "sending"."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            outcome = self._describe(tenant_id, received)
            postings = (outcome.body.get("document") or {}).get("postings") or []
            sending = any(p.get("state") == PostingState.SENDING.value for p in postings)
            if not sending or time.monotonic() >= deadline:
                return outcome
            time.sleep(SETTLE_POLL)

    def _take_in(
        self, tenant_id: str, kind: DocumentKind, payload: str, refusal: list[Problem]
    ) -> tuple[Received, RecordState | None]:
        """Keep the entry and take it in, in one transaction: the record is never seen
        waiting by a runner, and an unforeseen failure of its intake rolls back only the
        intake (the record stays received, for the runner), then is raised."""
        with self.factory() as session:
            with session.begin():
                intake = Intake(
                    session,
                    tenant_id,
                    Locations(session, tenant_id).all(),
                    self.clock,
                    self.registry,
                    incidents=self.engine.incidents,
                )
                inbox: Inbox = intake.inbox
                if refusal:
                    return inbox.refuse(MANUAL, payload, refusal), RecordState.QUARANTINED
                received = inbox.receive(MANUAL, kind.value, payload)
                if received.is_duplicate:
                    return received, None
                row = inbox.get(received.record_id)
                if row is None:
                    raise RuntimeError(f"inbox record {received.record_id} vanished")
                taken = intake.process_all([row])
            if taken.failure is not None:
                raise taken.failure
        return received, taken.states[0]

    def _describe(self, tenant_id: str, received: Received) -> Outcome:
        record_id = received.duplicate_of or received.record_id
        with self.factory() as session:
            row = session.get(InboxRecordRow, record_id)
            if row is None or row.tenant_id != tenant_id:
                raise RuntimeError(f"inbox record {record_id} vanished")
            state = RecordState(row.state)
            body: dict[str, Any] = {
                "record": {
                    "id": received.record_id,
                    "state": state.value,
                    "duplicate_of": received.duplicate_of,
                },
                "problems": problem_rows(as_problems(row.problems)),
            }
            if row.document_id is not None:
                body["document"] = self._document(session, tenant_id, row.document_id)
        status = _STATUS.get(state, 200)
        if received.is_duplicate and status == 201:
            status = 200
        if state is RecordState.QUARANTINED:
            body = {
                "error": "invalid_entry",
                "message": "The entry is kept but cannot be booked: "
                + "; ".join(f"{p['path'] or 'body'}: {p['message']}" for p in body["problems"]),
                **body,
            }
        return Outcome(status, body)

    @staticmethod
    def _document(session: Session, tenant_id: str, document_id: str) -> dict[str, Any]:
        stored = session.get(DocumentRow, document_id)
        queued = session.get(QueuedDocumentRow, document_id)
        postings = session.scalars(
            select(PostingRow)
            .join(PostingDocumentRow, PostingDocumentRow.posting_id == PostingRow.id)
            .where(
                PostingDocumentRow.tenant_id == tenant_id,
                PostingDocumentRow.document_id == document_id,
            )
            .order_by(PostingRow.id)
        ).all()
        return {
            "id": document_id,
            "kind": stored.kind if stored else None,
            "external_id": stored.external_id if stored else None,
            "revision": stored.revision if stored else None,
            "queue": None
            if queued is None
            else {
                "due_at": queued.due_at.isoformat() if queued.due_at else None,
                "planned": queued.planned,
                "held": queued.held,
                "problems": queued.problems,
            },
            "postings": [
                {
                    "id": p.id,
                    "destination": p.destination,
                    "key": p.key,
                    "mode": p.mode,
                    "kind": p.kind,
                    "state": p.state,
                    "posted_at": p.posted_at.isoformat() if p.posted_at else None,
                }
                for p in postings
            ],
        }
