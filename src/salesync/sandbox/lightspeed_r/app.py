"""The HTTP face of the simulated R-Series account: OAuth, API V3 and ``/_sandbox``.

Every API call goes the same way: the bearer token, the account it may read, the leaky
bucket (a read pours 1, a write 10; an overflow answers 429 with ``Retry-After``), the
armed faults, then the work. Every answer, 429 included, carries the bucket's state in
``X-LS-API-Bucket-Level`` (``level/size``) and ``X-LS-API-Drip-Rate``
(https://developers.lightspeedhq.com/retail/introduction/ratelimits/).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from salesync.sandbox.delivery import deliver
from salesync.sandbox.faults import BEFORE
from salesync.sandbox.lightspeed_r import errors
from salesync.sandbox.lightspeed_r.admin import add_admin_routes
from salesync.sandbox.lightspeed_r.errors import LightspeedError
from salesync.sandbox.lightspeed_r.records import Json
from salesync.sandbox.lightspeed_r.resources import RESOURCES, create_customer, one, page
from salesync.sandbox.lightspeed_r.store import READ_COST, WRITE_COST, LightspeedAccount
from salesync.sandbox.oauth import OAuthError

Work = Callable[[], tuple[int, Json]]


def create_app(account: LightspeedAccount | None = None) -> FastAPI:
    """A FastAPI app serving ``account`` (a fresh, empty one when None) as R-Series does."""
    account = account or LightspeedAccount()
    app = FastAPI(
        title="Lightspeed R-Series sandbox", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.account = account
    _add_oauth_routes(app, account)
    _add_api_routes(app, account)
    add_admin_routes(app, account)
    return app


def _bucket_headers(account: LightspeedAccount, token: str) -> dict[str, str]:
    bucket = account.buckets.get(token)
    return {
        "X-LS-API-Bucket-Level": f"{round(bucket.level, 3):g}/{bucket.capacity:g}",
        "X-LS-API-Drip-Rate": f"{bucket.rate:g}",
        "X-LS-Acct-Id": account.account_id,
    }


def handle(
    account: LightspeedAccount,
    authorization: str | None,
    account_id: str | None,
    *,
    operation: str,
    cost: int,
    work: Work,
) -> Response:
    """Answer one API call with ``work``'s result or R-Series' refusal; never raises."""
    bearer = account.credentials.check(authorization)
    if bearer.status == "expired":
        return errors.expired_token().response()
    if bearer.status != "ok":
        return errors.invalid_token().response()
    if account_id is not None and account_id != account.account_id:
        return errors.forbidden(account_id).response()
    # The bucket is the app's on this account: every token of the app pours into it.
    bucket = account.buckets.get(bearer.client_id)
    if not bucket.try_pour(cost):
        wait = bucket.seconds_until_room(cost)
        headers = _bucket_headers(account, bearer.client_id)
        return errors.rate_limited(max(wait, 1.0)).response(headers)
    headers = _bucket_headers(account, bearer.client_id)
    headers["X-LS-API-Request-Cost"] = str(cost)
    fault = account.faults.take(operation)
    if fault is not None and fault.kind in BEFORE:
        response = errors.before_fault(fault)
        response.headers.update(headers)
        return response
    with account.lock:
        try:
            status, body = work()
        except LightspeedError as error:
            status, body = error.status, error.body()
    return deliver(fault, JSONResponse(body, status_code=status, headers=headers))


def _add_oauth_routes(app: FastAPI, account: LightspeedAccount) -> None:
    credentials = account.credentials

    @app.get("/auth/oauth/authorize")
    def authorize(client_id: str, redirect_uri: str, state: str = "", scope: str = "") -> Response:
        """The retailer's consent, already given: back to the app with a code."""
        try:
            code = credentials.authority.issue_code(client_id, redirect_uri, account.account_id)
        except OAuthError as error:
            return errors.oauth_error(error.error, error.description, error.status)
        query = urlencode({"code": code, "state": state})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)

    @app.post("/auth/oauth/token")
    async def token(request: Request) -> Response:
        """The token endpoint: a form with the client's id and secret in the body."""
        fields = dict(parse_qsl((await request.body()).decode(errors="replace")))

        def work() -> Response:
            fault = account.faults.take("oauth.token")
            if fault is not None and fault.kind in BEFORE:
                return errors.before_fault(fault)
            try:
                answer = credentials.token(fields)
            except OAuthError as error:
                return errors.oauth_error(error.error, error.description, error.status)
            return deliver(fault, JSONResponse(answer))

        return await run_in_threadpool(work)


def _add_api_routes(app: FastAPI, account: LightspeedAccount) -> None:
    @app.get("/API/V3/Account.json")
    async def accounts(request: Request) -> Response:
        """The accounts the token may read: this one."""

        def work() -> tuple[int, Json]:
            found = {"accountID": account.account_id, "name": account.name}
            return 200, {"@attributes": {"count": "1"}, "Account": found}

        authorization = request.headers.get("authorization")
        return await run_in_threadpool(
            lambda: handle(
                account, authorization, None, operation="account.list", cost=READ_COST, work=work
            )
        )

    @app.get("/API/V3/Account/{account_id}/{resource}.json")
    async def listing(request: Request, account_id: str, resource: str) -> Response:
        """A page of one resource: Sale, SaleLine, Customer, Item, Shop, PaymentType..."""
        params = dict(request.query_params)
        base = str(request.url.replace(query=""))

        def work() -> tuple[int, Json]:
            if resource not in RESOURCES:
                raise errors.not_found("Resource", resource)
            return 200, page(account, resource, params, lambda q: f"{base}?{urlencode(q)}")

        authorization = request.headers.get("authorization")
        operation = f"{resource.lower()}.list"
        return await run_in_threadpool(
            lambda: handle(
                account, authorization, account_id, operation=operation, cost=READ_COST, work=work
            )
        )

    @app.get("/API/V3/Account/{account_id}/{resource}/{object_id}.json")
    async def single(request: Request, account_id: str, resource: str, object_id: str) -> Response:
        """One object of a resource by its id."""
        params = dict(request.query_params)

        def work() -> tuple[int, Json]:
            return 200, one(account, resource, object_id, params)

        authorization = request.headers.get("authorization")
        operation = f"{resource.lower()}.get"
        return await run_in_threadpool(
            lambda: handle(
                account, authorization, account_id, operation=operation, cost=READ_COST, work=work
            )
        )

    @app.post("/API/V3/Account/{account_id}/Customer.json")
    async def new_customer(request: Request, account_id: str) -> Response:
        """Create a customer: a write, so it pours 10 into the bucket."""
        raw = await request.body()

        def work() -> tuple[int, Json]:
            return 200, create_customer(account, raw)

        authorization = request.headers.get("authorization")
        return await run_in_threadpool(
            lambda: handle(
                account,
                authorization,
                account_id,
                operation="customer.create",
                cost=WRITE_COST,
                work=work,
            )
        )
