"""``PUT .../crm/repairs/{reference}``: a repair or service job's status, set by the
store. Becoming ``complete`` tells the client at once (the message is due now and goes
out with the CRM's next pass), whatever the sales windows."""

from __future__ import annotations

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from salesync.accounts.roles import Action
from salesync.api.auth import Refused
from salesync.api.paging import BAD_BODY, invalid_body, json_body
from salesync.api.rest.common import TENANT, Parts, refusals, route
from salesync.crm.repairs import Repairs, RepairStatus
from salesync.domain.errors import ValidationError


class RepairIn(BaseModel):
    """The repair's status now; a new repair names its client."""

    model_config = ConfigDict(extra="forbid")

    status: str = Field(json_schema_extra={"enum": [s.value for s in RepairStatus]})
    client_id: int | None = Field(default=None, description="Needed for a new repair.")
    description: str = Field(default="", max_length=300, examples=["watch strap"])


class RepairOut(BaseModel):
    reference: str
    client_id: int
    status: str
    message: str | None = Field(
        description="What became of the client's message when it became complete: "
        "`pending` (going out now) or `suppressed` (opted out, no email); null otherwise."
    )


class CrmRepairs:
    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        route(
            app,
            "PUT",
            TENANT + "/crm/repairs/{reference}",
            self.set_status,
            summary="Set a repair's status; `complete` tells the client at once",
            tag="crm",
            model=RepairOut,
            refused=refusals(BAD_BODY),
            body=RepairIn,
        )

    async def set_status(self, tenant_id: str, reference: str, request: Request) -> RepairOut:
        await self.parts.admit_async(tenant_id, request, Action.ENTER_SALES)
        wanted = await json_body(request, RepairIn)
        return await run_in_threadpool(self._store, tenant_id, reference, wanted)

    def _store(self, tenant_id: str, reference: str, wanted: RepairIn) -> RepairOut:
        try:
            with self.parts.factory() as session, session.begin():
                change = Repairs(session, tenant_id, self.parts.clock).set_status(
                    reference,
                    wanted.status,
                    client_id=wanted.client_id,
                    description=wanted.description,
                )
                return RepairOut(
                    reference=change.reference,
                    client_id=change.client_id,
                    status=change.status.value,
                    message=change.message.state if change.message is not None else None,
                )
        except ValidationError as exc:
            raise Refused(invalid_body(list(exc.problems))) from None
