"""One R-Series account over HTTP: the bearer token and its refresh, pacing, and retries.

Access tokens live an hour; the client refreshes one that is about to expire, and one that
R-Series refuses with a 401, once, with the connection's refresh token at the token
endpoint (https://developers.lightspeedhq.com/retail/authentication/refresh-token/). The
answer may carry a new refresh token that replaces the old one, so with salesync's token
store (``TokenSupply``) the refresh goes through it, which stores the new pair before it is
used and refreshes once for every worker; without one the pair lives in this client. Calls
are paced by the account's leaky bucket (``bucket.py``); a 429 that comes anyway pauses the
account for its ``Retry-After``, and a 5xx, a timeout or a body cut short is retried after
a doubling wait, within a small budget; past it the ``TransientError`` goes up to the
engine, which owns the longer retry. Every call here only reads, so a retry is safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from salesync.clock import system_clock
from salesync.connectors import capture
from salesync.connectors.lightspeed_r.bucket import (
    DEFAULT_DRIP,
    DEFAULT_SIZE,
    limits_for,
    observe,
)
from salesync.connectors.lightspeed_r.errors import (
    PROVIDER,
    RECONNECT,
    error_for,
    unanswered,
    unreadable,
)
from salesync.connectors.pacing import CallBudget, budget_for
from salesync.connectors.tokens import Grant, OAuthRefresher
from salesync.domain.errors import AuthError, BugError, TransientError

API_URL = "https://api.lightspeedapp.com"
TOKEN_URL = "https://cloud.lightspeedapp.com/auth/oauth/token"  # noqa: S105  a URL, not a secret
REFRESH_MARGIN = timedelta(minutes=1)
Json = dict[str, Any]


class TokenSupply(Protocol):
    def access_token(self) -> str: ...

    def refresh(self, *, stale: str | None = None) -> str: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long one call is retried before its error goes up."""

    attempts: int = 4
    """Tries in all, the first included."""
    first_wait: float = 1.0
    longest_wait: float = 60.0
    """A longer wait is not sat out here: the engine reschedules the work."""

    def wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return min(self.first_wait * 2.0 ** (attempt - 1), self.longest_wait)


def objects(answer: Json, resource: str) -> list[Json]:
    """The objects of a list answer: R-Series gives one object alone, several as a list,
    and leaves the key out when there are none."""
    found = answer.get(resource)
    if isinstance(found, dict):
        return [found]
    return [o for o in found if isinstance(o, dict)] if isinstance(found, list) else []


class LightspeedApi:
    """Calls on one account with a connection's tokens; the caller closes it."""

    def __init__(
        self,
        credentials: Mapping[str, Any],
        *,
        account_id: str | None = None,
        base_url: str = API_URL,
        token_url: str = TOKEN_URL,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = system_clock,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
        connection_id: str | None = None,
        tokens: TokenSupply | None = None,
    ) -> None:
        self.clock = clock
        self.tokens = tokens
        self.sleep = sleep
        self.retry = retry or RetryPolicy()
        self.connection_id = connection_id
        self.grant = Grant.of(credentials)
        self._refresher = (
            OAuthRefresher(
                token_url,
                str(credentials["client_id"]),
                str(credentials["client_secret"]),
                client_auth="body",
                encoding="form",
                provider=PROVIDER,
                transport=transport,
            )
            if tokens is None and credentials.get("client_id") and credentials.get("client_secret")
            else None
        )
        self._http = httpx.Client(
            event_hooks=capture.HOOKS,
            base_url=base_url,
            transport=transport,
            timeout=30.0,
            headers={"Accept": "application/json"},
        )
        self._account_id = account_id
        self._budget: CallBudget | None = None

    def close(self) -> None:
        self._http.close()
        if self._refresher is not None:
            self._refresher.close()

    @property
    def account_id(self) -> str:
        """The account the token reads, asked of R-Series once when not configured."""
        if self._account_id is None:
            found = objects(self._call("/API/V3/Account.json", "account.list", None), "Account")
            if not found or not found[0].get("accountID"):
                raise BugError(
                    "lightspeed_r Account.json named no account",
                    code="no_account",
                    provider=PROVIDER,
                    operation="account.list",
                    connection=self.connection_id,
                )
            self._account_id = str(found[0]["accountID"])
        return self._account_id

    def budget(self) -> CallBudget:
        """The account's pacing, shared by every client of the account in this process."""
        if self._budget is None:
            key = f"{PROVIDER}:{self._account_id or self.connection_id}"
            self._budget = budget_for(
                key,
                lambda: CallBudget(
                    limits_for(DEFAULT_SIZE, DEFAULT_DRIP),
                    clock=lambda: self.clock().timestamp(),
                    sleep=self.sleep,
                    max_wait=self.retry.longest_wait,
                ),
            )
        return self._budget

    def get(self, resource: str, operation: str, params: Mapping[str, str]) -> Json:
        """A page of ``Account/{accountID}/{resource}.json``."""
        return self._call(f"/API/V3/Account/{self.account_id}/{resource}.json", operation, params)

    def follow(self, url: str, operation: str) -> Json:
        """The page an ``@attributes.next`` link names."""
        return self._call(url, operation, None)

    def pages(self, resource: str, operation: str, params: Mapping[str, str]) -> Iterator[Json]:
        """Every object of a listing, following ``@attributes.next`` to the end."""
        answer = self.get(resource, operation, params)
        while True:
            yield from objects(answer, resource)
            following = next_link(answer)
            if following is None:
                return
            answer = self.follow(following, operation)

    # -- one call ------------------------------------------------------------------------

    def _call(self, url: str, operation: str, params: Mapping[str, str] | None) -> Json:
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            token = self._token()
            try:
                return self._once(url, operation, params, token)
            except AuthError as exc:
                renewable = self.tokens is not None or self._refresher is not None
                if refreshed or not renewable or _status(exc) == 403:
                    raise
                self._refresh(stale=token)
                refreshed = True
            except TransientError as exc:
                wait = self.retry.wait(attempt, exc.retry_after)
                if attempt >= self.retry.attempts or wait > self.retry.longest_wait:
                    exc.retry_after = wait
                    raise
                if _status(exc) == 429:
                    self.budget().pause(wait)
                else:
                    self.sleep(wait)

    def _token(self) -> str:
        """A token good for the next call, renewed first when it is about to expire."""
        if self.tokens is not None:
            return self.tokens.access_token()
        if self.grant.expires_at is not None and not self.grant.fresh(self.clock(), REFRESH_MARGIN):
            self._refresh(stale=self.grant.access_token)
        return self.grant.access_token

    def _once(self, url: str, operation: str, params: Mapping[str, str] | None, token: str) -> Json:
        budget = self.budget()
        with budget.call():
            try:
                request = self._http.build_request(
                    "GET",
                    url,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                )
                response = self._http.send(request)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise unanswered(
                    exc, url, operation=operation, connection=self.connection_id
                ) from exc
        observe(budget, response)
        if response.status_code >= 400:
            raise error_for(response, operation=operation, connection=self.connection_id)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise unreadable(response, operation=operation, connection=self.connection_id)
        return answer

    def _refresh(self, *, stale: str) -> None:
        if self.tokens is not None:
            self.tokens.refresh(stale=stale)
            return
        if self._refresher is None:
            raise AuthError(
                "the lightspeed_r connection's access token expired and it holds no refresh "
                "token and app credentials to renew it",
                user_message=RECONNECT,
                code="no_refresh_token",
                provider=PROVIDER,
                connection=self.connection_id,
            )
        try:
            self.grant = self._refresher(self.grant, self.clock())
        except AuthError as exc:
            exc.user_message = RECONNECT
            exc.connection = self.connection_id
            raise


def _status(exc: AuthError | TransientError) -> object:
    return exc.details.get("status")


def next_link(answer: Json) -> str | None:
    """The URL of the next page, from the answer's ``@attributes.next`` (None at the end)."""
    attributes = answer.get("@attributes")
    found = attributes.get("next") if isinstance(attributes, dict) else None
    return str(found) if found else None
