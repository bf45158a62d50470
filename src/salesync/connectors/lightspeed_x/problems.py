"""Reading a Lightspeed X-Series record: every problem in it, with its field path, raised together
(``salesync.connectors.records``). X-Series writes amounts as JSON numbers; they are
read as decimals, never floats."""

from __future__ import annotations

from decimal import Decimal

from salesync.connectors import records
from salesync.connectors.lightspeed_x.errors import PROVIDER

READER = records.RecordReader(PROVIDER, "Lightspeed", parse_float=Decimal)
parse = READER.parse
refused = READER.refused


class Problems(records.Problems):
    reader = READER


__all__ = ["PROVIDER", "READER", "Problems", "parse", "refused"]
