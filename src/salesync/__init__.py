"""salesync: sales from where they happen into where they are counted, exactly once."""

__version__ = "0.1.0"
