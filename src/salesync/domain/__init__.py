"""Pure business model: money, documents, validation, journals and errors. No I/O."""
