"""salesync's HTTP API: webhook ingress and manual entry (``create_app``)."""

from salesync.api.app import create_app

__all__ = ["create_app"]
