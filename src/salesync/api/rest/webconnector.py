"""The QuickBooks Web Connector of a QuickBooks Desktop connection: its password set up,
how it stands (when it last checked in, which company file it opened), and the .qwc file
the merchant adds to the Web Connector. The .qwc file's AppURL is this server's ``/qbwc``
as the caller reached it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from salesync.accounts.errors import WeakPasswordError
from salesync.accounts.roles import Action
from salesync.api.answers import answer
from salesync.api.auth import Refused
from salesync.api.paging import BAD_BODY, json_body, known
from salesync.api.rest.common import TENANT, Parts, refusals, route
from salesync.connectors.qbd.companies import QbdCompanies
from salesync.connectors.qbd.qwc import QwcFile
from salesync.connectors.qbd.settings import read_settings
from salesync.connectors.qbd.soap import PATH
from salesync.domain.errors import ValidationError
from salesync.store.tables import ConnectionRow, QbdCompanyFileRow

PROVIDER = "qbd"
_UNKNOWN = {
    404: "There is no such tenant (`unknown_tenant`), it has no such QuickBooks Desktop "
    "connection (`unknown_connection`), or its Web Connector is not set up yet "
    "(`web_connector_not_set_up`)."
}
_TAKEN = {
    409: "Another QuickBooks Desktop connection signs in with that user name (`username_taken`).",
    422: "The body does not say what it must (`invalid_body`), or the password is too weak "
    "(`weak_password`).",
}
_NOT_POSSIBLE = {
    409: "The Web Connector could not use the file: this server was not reached over HTTPS "
    "(`qwc_not_possible`); `problems` names what to fix.",
}
_QWC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The .qwc file to add to the QuickBooks Web Connector.",
        "content": {"application/xml": {"schema": {"type": "string"}}},
    }
}


class WebConnectorIn(BaseModel):
    """The user name and password the Web Connector will sign in with."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=120, examples=["harbor-books"])
    password: str = Field(min_length=1, max_length=256)


class WebConnectorOut(BaseModel):
    """How the connection's Web Connector stands; never its password."""

    username: str
    owner_id: str
    file_id: str
    company_file: str = Field(description="The company file it last opened; empty before.")
    last_checkin_at: datetime | None


class WebConnector:
    """``PUT``/``GET .../connections/{id}/web-connector`` and ``GET …/web-connector.qwc``."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def register(self, app: FastAPI) -> None:
        base = TENANT + "/connections/{connection_id}/web-connector"
        route(
            app, "PUT", base, self.set_up,
            summary="Set up (or reset) the Web Connector's user name and password",
            tag="connections", model=WebConnectorOut, refused=refusals(BAD_BODY, _UNKNOWN, _TAKEN),
            body=WebConnectorIn,
        )  # fmt: skip
        route(
            app, "GET", base, self.standing,
            summary="When the Web Connector last checked in, and its company file",
            tag="connections", model=WebConnectorOut, refused=refusals(_UNKNOWN),
        )  # fmt: skip
        route(
            app, "GET", base + ".qwc", self.qwc,
            summary="The .qwc file to add to the QuickBooks Web Connector",
            tag="connections", model=None, refused=refusals(_UNKNOWN, _NOT_POSSIBLE),
            answers=_QWC,
        )  # fmt: skip

    async def set_up(self, tenant_id: str, connection_id: str, request: Request) -> WebConnectorOut:
        await self.parts.admit_async(tenant_id, request, Action.MANAGE_CONNECTIONS)
        wanted = await json_body(request, WebConnectorIn)
        return await run_in_threadpool(self._set_up, tenant_id, connection_id, wanted)

    def _set_up(
        self, tenant_id: str, connection_id: str, wanted: WebConnectorIn
    ) -> WebConnectorOut:
        with self.parts.factory() as session, session.begin():
            self._connection(session, tenant_id, connection_id)
            try:
                row = QbdCompanies(session).register(
                    tenant_id, connection_id, wanted.username, wanted.password
                )
            except WeakPasswordError as exc:
                raise Refused(answer(422, "weak_password", " ".join(exc.problems))) from None
            except ValidationError as exc:
                raise Refused(answer(409, "username_taken", exc.user_message)) from None
            return _out(row)

    def standing(self, tenant_id: str, connection_id: str, request: Request) -> WebConnectorOut:
        self.parts.admit(tenant_id, request, Action.VIEW_TENANT)
        with self.parts.factory() as session:
            self._connection(session, tenant_id, connection_id)
            return _out(self._company(session, connection_id))

    def qwc(self, tenant_id: str, connection_id: str, request: Request) -> Response:
        self.parts.admit(tenant_id, request, Action.MANAGE_CONNECTIONS)
        with self.parts.factory() as session:
            connection = self._connection(session, tenant_id, connection_id)
            company = self._company(session, connection_id)
            base = str(request.base_url).rstrip("/")
            minutes = read_settings(connection.settings or {}).run_every_minutes
            file = QwcFile(
                app_name=f"salesync - {connection.name}",
                app_url=base + PATH,
                support_url=base + "/help",
                username=company.username,
                owner_id=company.owner_id,
                file_id=company.file_id,
                run_every_minutes=minutes,
            )
        try:
            text = file.render()
        except ValidationError as exc:
            raise Refused(
                answer(409, "qwc_not_possible", exc.user_message, problems=exc.problems)
            ) from None
        filename = f"salesync-{connection_id}.qwc"
        return Response(
            text,
            media_type="application/xml",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )

    def _connection(self, session: Session, tenant_id: str, connection_id: str) -> ConnectionRow:
        row = session.get(ConnectionRow, connection_id) if known(connection_id) else None
        if row is None or row.tenant_id != tenant_id or row.provider != PROVIDER:
            raise Refused(
                answer(
                    404,
                    "unknown_connection",
                    f"{tenant_id} has no QuickBooks Desktop connection {connection_id!r}.",
                )
            )
        return row

    def _company(self, session: Session, connection_id: str) -> QbdCompanyFileRow:
        row = session.get(QbdCompanyFileRow, connection_id)
        if row is None:
            raise Refused(
                answer(
                    404,
                    "web_connector_not_set_up",
                    "Set the Web Connector's user name and password first (PUT .../web-connector).",
                )
            )
        return row


def _out(row: QbdCompanyFileRow) -> WebConnectorOut:
    return WebConnectorOut(
        username=row.username,
        owner_id=row.owner_id,
        file_id=row.file_id,
        company_file=row.company_file,
        last_checkin_at=row.last_checkin_at,
    )
