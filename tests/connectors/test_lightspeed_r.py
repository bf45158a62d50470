"""The Lightspeed R-Series source: the shared contract against a simulated retailer, and what
is R-Series' own: polling only, the leaky bucket and its headers, hour-long tokens and their
refresh, returns as negative sales linked to the sales they came from, and a week of two
shops' trading through the engine into books that balance and reconcile."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from contract import (
    HistoryContract,
    SourceContract,
    SourceHarness,
    StreamContract,
    sweep_stream,
)
from lightspeed_r_harness import LOCATIONS, START, LightspeedWorld, lightspeed_world

from salesync.connectors.lightspeed_r import LightspeedRSource
from salesync.connectors.source import SourceRecord, Translated

WEEK = timedelta(days=7)


@pytest.fixture(scope="module")
def traded() -> Iterator[LightspeedWorld]:
    """A week of trading at two shops."""
    with lightspeed_world(seed=7) as world:
        world.trade(START + WEEK)
        yield world


def translate_all(
    world: LightspeedWorld, records: list[SourceRecord]
) -> list[tuple[SourceRecord, Translated]]:
    context = world.connection().context("lightspeed_r")
    source = LightspeedRSource()
    return [(r, source.translate(r.record_type, r.payload, context)) for r in records]


def sweep_all(world: LightspeedWorld, streams: tuple[str, ...] | None = None) -> list[SourceRecord]:
    client = world.source().connect(world.connection(), world.transport)
    try:
        records: list[SourceRecord] = []
        for stream in streams or LightspeedRSource.capabilities.streams:
            records += sweep_stream(client.fetch, stream, None)[0]
        return records
    finally:
        client.close()


def malformed() -> list[SourceRecord]:
    sale = {
        "saleID": "9001",
        "timeStamp": "2026-03-02T15:00:00+00:00",
        "completeTime": "2026-03-02T15:00:00+00:00",
        "completed": "true",
        "calcTotal": "twelve",
        "shopID": "nowhere",
        "SaleLines": {"SaleLine": {"saleLineID": "1", "unitQuantity": "1", "unitPrice": "5"}},
    }
    unlinked_return = {
        **sale,
        "calcTotal": "-5.00",
        "SaleLines": {
            "SaleLine": {
                "saleLineID": "2",
                "unitQuantity": "-1",
                "unitPrice": "5.00",
                "calcSubtotal": "-5.00",
                "parentSaleLineID": "0",
            }
        },
    }
    return [
        SourceRecord("sale", json.dumps({"sale": sale})),
        SourceRecord("sale", json.dumps({"sale": unlinked_return})),
        SourceRecord("customer", "[]"),
        SourceRecord("item", json.dumps({"description": "no id"})),
        SourceRecord("register_shift", "{}"),
    ]


class TestLightspeedRSource(SourceContract, StreamContract, HistoryContract):
    @pytest.fixture
    def harness(self, traded: LightspeedWorld) -> SourceHarness:
        return SourceHarness(
            source=LightspeedRSource(),
            connection=traded.connection(),
            locations=LOCATIONS,
            now=traded.clock(),
            transport=traded.transport,
            history_window=(START + timedelta(days=1), START + timedelta(days=3)),
            malformed=malformed(),
        )
