"""Reading a Clover record: every problem in it, with the path to the field, raised together
(``salesync.connectors.records``)."""

from __future__ import annotations

from salesync.connectors import records

READER = records.RecordReader("clover", "Clover")
PROVIDER = READER.provider
parse = READER.parse
refused = READER.refused


class Problems(records.Problems):
    reader = READER


__all__ = ["PROVIDER", "READER", "Problems", "parse", "refused"]
