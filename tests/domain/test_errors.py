"""Errors: one root, a kind that decides retry or fail, and context ready for an incident."""

from __future__ import annotations

import pytest

from salesync.domain.errors import (
    AuthError,
    BugError,
    ConflictError,
    ErrorKind,
    MappingError,
    SyncError,
    TransientError,
    ValidationError,
)


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        (TransientError, ErrorKind.TRANSIENT),
        (AuthError, ErrorKind.AUTH),
        (MappingError, ErrorKind.MAPPING),
        (ValidationError, ErrorKind.VALIDATION),
        (ConflictError, ErrorKind.CONFLICT),
        (BugError, ErrorKind.BUG),
        (SyncError, ErrorKind.BUG),
    ],
)
def test_each_error_class_carries_its_kind_under_one_root(
    error_type: type[SyncError], kind: ErrorKind
) -> None:
    """Every error is a SyncError whose kind says what the engine does; unknown means bug."""
    error = error_type("boom")
    assert isinstance(error, SyncError)
    assert error.kind is kind


def test_kind_can_be_given_when_raising_the_root() -> None:
    """A translator may raise the root error with the kind it classified."""
    assert SyncError("rate limited", kind=ErrorKind.TRANSIENT).kind is ErrorKind.TRANSIENT
    assert SyncError("boom").kind is ErrorKind.BUG


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_only_transient_errors_are_retryable(kind: ErrorKind) -> None:
    """Retrying helps a timeout or a 429, never a revoked token or a bad document."""
    assert kind.retryable is (kind is ErrorKind.TRANSIENT)


def test_context_carries_user_message_and_everything_an_incident_needs() -> None:
    """context() is plain data: kind, both messages, where it happened and the details."""
    error = MappingError(
        "no account mapped for SKU TEE-001",
        user_message="Choose an income account for 'Organic cotton tee'.",
        code="unmapped_sku",
        help_url="https://docs.example/mapping",
        tenant="harbor",
        location="brooklyn",
        connection="qbo-1",
        provider="quickbooks_online",
        operation="post_sales_receipt",
        documents=("doc-1", "doc-2"),
        details={"sku": "TEE-001"},
    )
    assert error.context() == {
        "kind": "mapping",
        "code": "unmapped_sku",
        "message": "no account mapped for SKU TEE-001",
        "user_message": "Choose an income account for 'Organic cotton tee'.",
        "help_url": "https://docs.example/mapping",
        "tenant": "harbor",
        "location": "brooklyn",
        "connection": "qbo-1",
        "provider": "quickbooks_online",
        "operation": "post_sales_receipt",
        "documents": ["doc-1", "doc-2"],
        "details": {"sku": "TEE-001"},
    }
    assert str(error) == "no account mapped for SKU TEE-001"


def test_user_message_defaults_to_the_message() -> None:
    """Without a separate user message the merchant sees the message itself."""
    error = AuthError("token revoked")
    assert error.user_message == "token revoked"
    assert error.context()["user_message"] == "token revoked"


def test_details_are_a_read_only_snapshot() -> None:
    """Changing the dict passed as details later does not change the error, nor can it be edited."""
    details = {"status": 503}
    error = TransientError("upstream down", details=details)
    details["status"] = 200
    assert error.details["status"] == 503
    with pytest.raises(TypeError):
        error.details["status"] = 500


def test_transient_error_keeps_retry_after_and_context() -> None:
    """A 429 keeps the provider's Retry-After alongside the usual context."""
    error = TransientError("429 Too Many Requests", retry_after=2.5, provider="shopify")
    assert error.retry_after == 2.5
    assert error.context()["provider"] == "shopify"
    assert error.kind.retryable


def test_validation_error_lists_every_problem() -> None:
    """A validation error keeps all the problems found, not only the first."""
    error = ValidationError("sale S-1 is invalid", problems=("a", "b"), documents=("S-1",))
    assert error.problems == ("a", "b")
    assert error.context()["documents"] == ["S-1"]
