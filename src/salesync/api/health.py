"""Probes for load balancers and orchestrators.

``GET /healthz`` answers while the process serves requests (liveness: restart it if
not). ``GET /readyz`` answers 200 only when the database answers and its schema is one
this release runs on (readiness: send it traffic). During a rolling upgrade a process
of the new release is ready once it has migrated; one of the previous release stays
ready on the newer schema while the schema's floor allows it (``salesync.store.schema``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from salesync.api.answers import ApiError, answer
from salesync.store.schema import status


class Live(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    schema_revision: str | None
    release_revision: str
    detail: str


class Health:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def register(self, app: FastAPI) -> None:
        not_ready: dict[int | str, dict[str, Any]] = {
            503: {
                "model": ApiError,
                "description": "The database does not answer, or its schema is not one "
                "this release runs on (`detail` says what to do).",
            }
        }

        @app.get("/healthz", tags=["health"])
        def healthz() -> Live:
            """The process is up and serving requests."""
            return Live(status="ok")

        @app.get("/readyz", tags=["health"], response_model=Ready, responses=not_ready)
        def readyz() -> Any:
            """The database answers and its schema is current for this release."""
            engine = self.factory.kw["bind"]
            assert isinstance(engine, Engine)
            try:
                found = status(engine)
            except SQLAlchemyError:
                return _not_ready("database_unavailable", "The database does not answer.")
            if not found.usable:
                return _not_ready("schema_not_ready", found.describe())
            return Ready(
                status="ready",
                schema_revision=found.current,
                release_revision=found.head,
                detail=found.describe(),
            )


def _not_ready(code: str, message: str) -> JSONResponse:
    return answer(503, code, message, headers={"Retry-After": "5"})
