"""Reading a Lightspeed R-Series record: every problem in it, with its field path, raised together
(``salesync.connectors.records``)."""

from __future__ import annotations

from salesync.connectors import records

READER = records.RecordReader("lightspeed_r", "Lightspeed", code="lightspeed_record_unreadable")
PROVIDER = READER.provider
parse = READER.parse
refused = READER.refused


class Problems(records.Problems):
    reader = READER


__all__ = ["PROVIDER", "READER", "Problems", "parse", "refused"]
