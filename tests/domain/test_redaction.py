"""Redaction keeps secrets out of everything shown, without blanking error codes."""

from __future__ import annotations

from salesync.domain.redaction import SECRET, Redactor


def test_an_oauth_code_is_removed_but_an_error_code_is_kept() -> None:
    redactor = Redactor.of()
    shown = redactor.value(
        {
            "callback": {"code": "AB11700000aZ9xQ-secretish", "state": "x"},
            "problems": [{"code": "unmapped_value", "path": "lines[0].category"}],
            "fault": {"code": "6240", "kind": "mapping"},
            "combined": {"code": "unmapped_value+inactive_account"},
            "number": {"code": 401},
        }
    )
    assert shown["callback"]["code"] == SECRET
    assert shown["problems"][0]["code"] == "unmapped_value"
    assert shown["fault"]["code"] == "6240"
    assert shown["combined"]["code"] == "unmapped_value+inactive_account"
    assert shown["number"]["code"] == 401


def test_secret_fields_and_bearer_tokens_are_removed() -> None:
    redactor = Redactor.of()
    shown = redactor.value(
        {"access_token": "abc", "headers": {"Authorization": "Bearer eyJhbGciOi.abc.def"}}
    )
    assert shown["access_token"] == SECRET
    assert shown["headers"]["Authorization"] == SECRET
    assert "eyJ" not in redactor.text("sent Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")
