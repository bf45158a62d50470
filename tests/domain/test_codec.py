"""The codec reads a document's JSON text to the very document the stored data gives."""

from __future__ import annotations

import json

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesync.domain.documents import Payout, Refund, Sale
from salesync.domain.errors import ValidationError
from salesync.engine.normalize import salesync_json
from salesync.store import codec

from .strategies import payouts, sales, sales_with_refund

documents = st.one_of(sales(), sales_with_refund().map(lambda pair: pair[1]), payouts())


@settings(max_examples=150, deadline=None)
@given(documents)
def test_text_and_data_decode_to_the_same_document(document: Sale | Refund | Payout) -> None:
    text = json.dumps(codec.encode(document))
    from_text = codec.decode_json(document.kind, text)
    assert from_text == codec.decode(document.kind, json.loads(text))
    # Compared as stored: a time in a DST gap never equals one in another zone (PEP 495).
    assert codec.encode(from_text) == codec.encode(document)
    assert codec.decode_stored(document.kind, text) == from_text
    assert codec.decode_stored(document.kind, json.loads(text)) == from_text


def test_text_that_is_not_the_document_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        codec.decode_json("sale", '{"id": "s-1"}')
    with pytest.raises(pydantic.ValidationError):
        codec.decode_json("sale", "{not json")


@pytest.mark.parametrize(
    ("payload", "code"),
    [("{not json", "malformed_json"), ('{"id": 5}', "malformed_field"), ("[]", "malformed_field")],
)
def test_a_bad_payload_is_still_explained_field_by_field(payload: str, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        salesync_json("sale", payload)
    assert {p.code for p in caught.value.problems} == {code}
