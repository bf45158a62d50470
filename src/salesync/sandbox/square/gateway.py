"""The path every Square API call takes: version, token, rate limit, faults, then the work.

``Square-Version`` picks the API version; without it the app's pinned version is used, and
every answer names the version it was served with. A malformed version is refused, and so
is one newer than any release, since asking for a version that does not exist is an error
(https://developer.squareup.com/docs/build-basics/versioning-overview).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response

from salesync.sandbox.delivery import deliver
from salesync.sandbox.faults import BEFORE
from salesync.sandbox.square import errors
from salesync.sandbox.square.credentials import LATEST_VERSION, Bearer
from salesync.sandbox.square.errors import SquareError
from salesync.sandbox.square.seller import SquareSeller

Json = dict[str, Any]
Work = Callable[[Bearer], tuple[int, Json]]
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class ApiCall:
    """What the gateway needs to know about one request."""

    operation: str
    authorization: str | None
    square_version: str | None


def resolve_version(requested: str | None, pinned: str) -> str:
    """The version a request is served with, or Square's error for a bad one."""
    if requested is None or requested == "":
        return pinned
    if not _VERSION.match(requested):
        raise errors.invalid(
            "INVALID_SQUARE_VERSION_FORMAT",
            f"Invalid Square-Version format: {requested!r}. Expected YYYY-MM-DD.",
            "Square-Version",
        )
    if requested > LATEST_VERSION:
        raise errors.invalid(
            "BAD_REQUEST", f"Square-Version {requested} does not exist.", "Square-Version"
        )
    return requested


class SquareGateway:
    """Runs API work for one seller behind Square's checks and the armed faults."""

    def __init__(self, seller: SquareSeller) -> None:
        self.seller = seller

    def handle(self, call: ApiCall, work: Work) -> Response:
        """Answer ``call`` with ``work``'s result or Square's error; never raises SquareError."""
        version = LATEST_VERSION
        try:
            bearer = self.seller.credentials.require(call.authorization)
            app = self.seller.credentials.apps[bearer.client_id]
            version = resolve_version(call.square_version, app.api_version)
            bucket = self.seller.buckets.get(bearer.token)
            if not bucket.try_pour(1):
                raise errors.rate_limited()
        except SquareError as error:
            return error.response({"Square-Version": version})
        headers = {"Square-Version": version}
        fault = self.seller.faults.take(call.operation)
        if fault is not None and fault.kind in BEFORE:
            response = errors.before_fault(fault)
            response.headers.update(headers)
            return response
        with self.seller.lock:
            try:
                status, body = work(bearer)
            except SquareError as error:
                status, body = error.status, error.body()
        return deliver(fault, JSONResponse(body, status_code=status, headers=headers))
