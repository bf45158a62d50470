"""A real Redis server for the scale-out tests, started on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from salesync.sandbox.servers import RedisServer


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a throwaway Redis server for the whole session."""
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.destroy()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()
