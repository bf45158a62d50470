"""The ``salesync`` command line."""
