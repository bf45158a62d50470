"""Changes people make in the CRM.

``PATCH .../crm/clients/{client_id}``: an edit of a client's name, email or phone. An
edited value wins over the sources from then on (they never overwrite it), and an email
or phone is added to the client's contact methods, never swapped for one.

``PUT .../crm/repairs/{reference}``: a repair or service job's status, set by the store.
Becoming ``complete`` tells the client at once (the message is due now and goes out with
the CRM's next pass), whatever the sales windows."""

from __future__ import annotations

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from salesync.accounts.roles import Action
from salesync.api.answers import answer
from salesync.api.auth import Refused
from salesync.api.paging import BAD_BODY, MAX_ID, invalid_body, json_body
from salesync.api.rest.common import TENANT, Parts, refusals, route
from salesync.api.rest.crm import ClientOut, client_out
from salesync.crm.clients import Clients
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


_UNKNOWN = {404: "There is no such tenant (`unknown_tenant`) or client (`unknown_client`)."}


def _unknown_client(tenant_id: str, client_id: str) -> Refused:
    return Refused(answer(404, "unknown_client", f"{tenant_id} has no client {client_id}."))


def _client_number(tenant_id: str, client_id: str) -> int:
    try:
        number = int(client_id)
    except ValueError:
        raise _unknown_client(tenant_id, client_id) from None
    if not 1 <= number <= MAX_ID:
        raise _unknown_client(tenant_id, client_id)
    return number


class ClientEdit(BaseModel):
    """The fields to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)


class CrmChanges:
    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        route(
            app,
            "PATCH",
            TENANT + "/crm/clients/{client_id}",
            self.edit_client,
            summary="Edit a client; edited values win over the sources from now on",
            tag="crm",
            model=ClientOut,
            refused=refusals(BAD_BODY, _UNKNOWN),
            body=ClientEdit,
        )
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

    async def edit_client(self, tenant_id: str, client_id: str, request: Request) -> ClientOut:
        await self.parts.admit_async(tenant_id, request, Action.ENTER_SALES)
        number = _client_number(tenant_id, client_id)
        wanted = await json_body(request, ClientEdit)
        return await run_in_threadpool(self._edit, tenant_id, number, wanted)

    def _edit(self, tenant_id: str, client_id: int, wanted: ClientEdit) -> ClientOut:
        with self.parts.factory() as session, session.begin():
            clients = Clients(session, tenant_id, self.parts.clock)
            try:
                clients.resolve(client_id)
            except ValidationError:
                raise _unknown_client(tenant_id, str(client_id)) from None
            try:
                edited = clients.edit(
                    client_id, name=wanted.name, email=wanted.email, phone=wanted.phone
                )
            except ValidationError as exc:
                raise Refused(invalid_body(list(exc.problems))) from None
            return client_out(clients.get(edited.id))

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
