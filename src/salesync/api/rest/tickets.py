"""Working a ticket over the API: replay or retry its failed units, comment, assign,
resolve with the explanation the merchant will read, or close it.

Replaying and retrying need ``replay`` (Tier 2 and admins: they re-run records through
code that was just fixed); the rest need ``act_on_tickets`` (support staff). Every action
lands on the ticket's timeline under the caller's name: the user's email, or
``api-token:<id>``. Resolving is refused (409) with what still differs until every
affected document is in the books exactly as the source has it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from salesync.accounts.roles import Action
from salesync.api.answers import answer
from salesync.api.auth import Caller, Refused
from salesync.api.paging import BAD_BODY, MAX_ID, json_body
from salesync.api.rest.common import TENANT, Parts, refusals, route
from salesync.monitor.desk import DeskError, TicketDesk
from salesync.store.tables import TicketRow

_UNKNOWN = {
    404: "There is no such tenant (`unknown_tenant`), or it has no such ticket (`unknown_ticket`)."
}
_STATE = {
    409: "The ticket's state does not allow this (`ticket_state`), or, to resolve, its "
    "failures are not all repaired yet (`not_verified`, with `differences`)."
}
_TEXT = 5000


class TicketOut(BaseModel):
    """Where a ticket stands after an action."""

    id: int
    title: str
    state: str
    assignee: str | None
    team: str | None
    resolved_at: datetime | None
    resolution: str | None


class ReplayOut(BaseModel):
    """What was sent through again."""

    ticket: TicketOut
    postings: int
    records: int
    documents: int
    waiting_on_merchant: list[str] = Field(
        description="Connections the merchant must reconnect before anything can move."
    )


class ResolveOut(BaseModel):
    ticket: TicketOut
    verified_documents: int


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=_TEXT, pattern=r"\S")


class Assignment(BaseModel):
    """Who takes the ticket, and optionally the team it moves to."""

    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=200, pattern=r"\S")
    team: str | None = Field(default=None, min_length=1, max_length=100)


class Resolution(BaseModel):
    """What happened and what was done, in words the merchant will read."""

    model_config = ConfigDict(extra="forbid")

    explanation: str = Field(min_length=10, max_length=_TEXT, pattern=r"\S")


class Closing(BaseModel):
    """Why the ticket closes without a fix (won't fix, duplicate, ...)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=_TEXT, pattern=r"\S")


class Reply(BaseModel):
    """What the merchant answered, for the timeline (optional)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="", max_length=_TEXT)


class Tickets:
    """``POST .../tickets/{id}/replay``, ``/retry``, ``/comment``, ``/assign``,
    ``/resolve``, ``/close``, ``/wait`` and ``/replied``."""

    def __init__(self, parts: Parts, desks: Callable[[str], TicketDesk]) -> None:
        """``desks`` gives a tenant's ticket desk (``create_app`` builds it, with the mail
        settings resolution notices link with)."""
        self.parts = parts
        self.desks = desks

    def register(self, app: FastAPI) -> None:
        path = TENANT + "/tickets/{ticket_id}/"
        for name, endpoint, summary, model, body in (
            (
                "replay",
                self.replay,
                "Send the ticket's failed units through again",
                ReplayOut,
                None,
            ),
            ("retry", self.retry, "Retry the ticket's failed postings now", ReplayOut, None),
            ("comment", self.comment, "Comment on the ticket", TicketOut, Comment),
            ("assign", self.assign, "Give the ticket to someone", TicketOut, Assignment),
            ("resolve", self.resolve, "Resolve the ticket once verified", ResolveOut, Resolution),
            ("close", self.close, "Close the ticket without a fix", TicketOut, Closing),
            (
                "wait",
                self.wait,
                "Wait on the merchant: the SLA clocks pause",
                TicketOut,
                Comment,
            ),
            (
                "replied",
                self.replied,
                "The merchant replied: the SLA clocks run again, later by the wait",
                TicketOut,
                Reply,
            ),
        ):
            route(
                app,
                "POST",
                path + name,
                endpoint,
                summary=summary,
                tag="tickets",
                model=model,
                refused=refusals(BAD_BODY if body else {}, _UNKNOWN, _STATE),
                body=body,
            )

    async def replay(self, tenant_id: str, ticket_id: str, request: Request) -> ReplayOut:
        """Replay exactly the records, documents and postings the ticket's incidents name."""
        return await self._replay(tenant_id, ticket_id, request, retry_only=False)

    async def retry(self, tenant_id: str, ticket_id: str, request: Request) -> ReplayOut:
        """Retry the ticket's postings now (after an outage: no input changed)."""
        return await self._replay(tenant_id, ticket_id, request, retry_only=True)

    async def comment(self, tenant_id: str, ticket_id: str, request: Request) -> TicketOut:
        """Add a comment to the ticket's timeline."""
        caller, number = await self._admit(tenant_id, ticket_id, request)
        body = await json_body(request, Comment)
        return await self._act(
            tenant_id, number, lambda desk: desk.comment(number, caller.actor, body.text)
        )

    async def assign(self, tenant_id: str, ticket_id: str, request: Request) -> TicketOut:
        """Give an open ticket to ``assignee`` (and ``team``)."""
        caller, number = await self._admit(tenant_id, ticket_id, request)
        body = await json_body(request, Assignment)
        return await self._act(
            tenant_id,
            number,
            lambda desk: desk.assign(number, body.assignee.strip(), caller.actor, team=body.team),
        )

    async def close(self, tenant_id: str, ticket_id: str, request: Request) -> TicketOut:
        """Close the ticket with the reason."""
        caller, number = await self._admit(tenant_id, ticket_id, request)
        body = await json_body(request, Closing)
        return await self._act(
            tenant_id, number, lambda desk: desk.close(number, caller.actor, body.reason)
        )

    async def wait(self, tenant_id: str, ticket_id: str, request: Request) -> TicketOut:
        """Wait on the merchant (``text`` says for what): the SLA clocks pause."""
        caller, number = await self._admit(tenant_id, ticket_id, request)
        body = await json_body(request, Comment)
        return await self._act(
            tenant_id, number, lambda desk: desk.wait_on_merchant(number, caller.actor, body.text)
        )

    async def replied(self, tenant_id: str, ticket_id: str, request: Request) -> TicketOut:
        """The merchant answered: the clocks run again, their due times later by the wait."""
        caller, number = await self._admit(tenant_id, ticket_id, request)
        body = await json_body(request, Reply)
        return await self._act(
            tenant_id,
            number,
            lambda desk: desk.merchant_replied(number, caller.actor, body.text),
        )

    async def resolve(self, tenant_id: str, ticket_id: str, request: Request) -> ResolveOut:
        """Resolve the ticket, telling the merchant, once verification passes."""
        caller, number = await self._admit(tenant_id, ticket_id, request)
        body = await json_body(request, Resolution)
        return await run_in_threadpool(
            self._resolve, tenant_id, number, caller.actor, body.explanation
        )

    # -- helpers -------------------------------------------------------------------

    def desk(self, tenant_id: str) -> TicketDesk:
        return self.desks(tenant_id)

    async def _admit(
        self,
        tenant_id: str,
        ticket_id: str,
        request: Request,
        action: Action = Action.ACT_ON_TICKETS,
    ) -> tuple[Caller, int]:
        caller = await self.parts.admit_async(tenant_id, request, action)
        number = _number(tenant_id, ticket_id)
        await run_in_threadpool(self._ticket, tenant_id, number)
        return caller, number

    async def _replay(
        self, tenant_id: str, ticket_id: str, request: Request, *, retry_only: bool
    ) -> ReplayOut:
        caller, number = await self._admit(tenant_id, ticket_id, request, Action.REPLAY)

        def replay() -> ReplayOut:
            report = self._guarded(
                tenant_id,
                number,
                lambda desk: desk.replay(number, caller.actor, retry_only=retry_only),
            )
            return ReplayOut(
                ticket=self._ticket(tenant_id, number),
                postings=report.postings,
                records=report.records,
                documents=report.documents,
                waiting_on_merchant=report.waiting_on_merchant,
            )

        return await run_in_threadpool(replay)

    async def _act(
        self, tenant_id: str, number: int, action: Callable[[TicketDesk], object]
    ) -> TicketOut:
        def act() -> TicketOut:
            self._guarded(tenant_id, number, action)
            return self._ticket(tenant_id, number)

        return await run_in_threadpool(act)

    def _resolve(self, tenant_id: str, number: int, actor: str, explanation: str) -> ResolveOut:
        desk = self.desk(tenant_id)
        verification = desk.verify(number)
        if not verification.clean:
            raise Refused(
                answer(
                    409,
                    "not_verified",
                    "The ticket's failures are not all repaired yet; replay the ticket "
                    "(after the fix) and resolve it again. Still different: "
                    + "; ".join(verification.differences[:10]),
                    differences=verification.differences,
                )
            )
        done = self._guarded(tenant_id, number, lambda d: d.resolve(number, actor, explanation))
        return ResolveOut(ticket=self._ticket(tenant_id, number), verified_documents=done.documents)

    def _guarded(self, tenant_id: str, number: int, action: Callable[[TicketDesk], Any]) -> Any:
        """Run ``action`` on the tenant's desk; a refused move is 409, a ticket gone 404."""
        try:
            return action(self.desk(tenant_id))
        except DeskError as exc:
            raise Refused(answer(409, "ticket_state", f"{exc}.")) from None
        except KeyError:
            raise _unknown(tenant_id, str(number)) from None

    def _ticket(self, tenant_id: str, number: int) -> TicketOut:
        with self.parts.factory() as session:
            row = session.get(TicketRow, number)
            if row is None or row.tenant_id != tenant_id:
                raise _unknown(tenant_id, str(number))
            return TicketOut(
                id=row.id,
                title=row.title,
                state=row.state,
                assignee=row.assignee,
                team=row.team,
                resolved_at=row.resolved_at,
                resolution=row.resolution,
            )


def _number(tenant_id: str, ticket_id: str) -> int:
    try:
        number = int(ticket_id)
    except ValueError:
        raise _unknown(tenant_id, ticket_id) from None
    if not 1 <= number <= MAX_ID:  # past any stored id, and past what SQLite can compare
        raise _unknown(tenant_id, ticket_id)
    return number


def _unknown(tenant_id: str, ticket_id: str) -> Refused:
    return Refused(answer(404, "unknown_ticket", f"{tenant_id} has no ticket {ticket_id}."))
