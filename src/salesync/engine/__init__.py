"""The sync engine: documents in, validated, stored once and posted exactly once."""
