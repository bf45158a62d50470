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


def test_woocommerce_and_clover_credentials_are_removed() -> None:
    """WooCommerce's consumer key and secret (in a query string, a body or a field) and
    the webhook signature headers of WooCommerce and Clover never reach a ticket."""
    redactor = Redactor.of()
    url = "GET https://shop.example/wp-json/wc/v3/orders?consumer_key=ck_live1234&consumer_secret=cs_live5678&page=2"
    shown = redactor.text(url)
    assert "ck_live1234" not in shown
    assert "cs_live5678" not in shown
    assert "page=2" in shown
    assert "cs_9999" not in redactor.text('{"consumer_secret": "cs_9999abc"}')
    fields = redactor.value(
        {
            "consumer_secret": "cs_x",
            "headers": {"X-WC-Webhook-Signature": "abc=", "X-Clover-Auth": "f00d"},
        }
    )
    assert fields["consumer_secret"] == SECRET
    assert fields["headers"] == {"X-WC-Webhook-Signature": SECRET, "X-Clover-Auth": SECRET}
