"""Who may call a tenant's API: a live API token of that tenant, sent as a bearer token."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from salesync.api.answers import answer
from salesync.api.tokens import tenant_of
from salesync.store.tables import TenantRow

CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if that is what it is."""
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def refusal(
    factory: sessionmaker[Session], tenant_id: str, authorization: str | None
) -> JSONResponse | None:
    """The answer refusing a request for ``tenant_id``'s API, or None to let it through:
    401 without a live token, 404 for a tenant that does not exist, 403 for another
    tenant's token."""
    secret = bearer(authorization)
    if secret is None:
        return answer(
            401,
            "unauthenticated",
            "Send an API token: Authorization: Bearer <token>.",
            headers=CHALLENGE,
        )
    with factory() as session:
        owner = tenant_of(session, secret)
        if owner is None:
            return answer(
                401, "bad_token", "The API token is unknown or revoked.", headers=CHALLENGE
            )
        if owner != tenant_id and session.get(TenantRow, tenant_id) is None:
            return answer(404, "unknown_tenant", f"There is no tenant {tenant_id!r}.")
    if owner != tenant_id:
        return answer(403, "wrong_tenant", f"This API token does not belong to {tenant_id!r}.")
    return None
