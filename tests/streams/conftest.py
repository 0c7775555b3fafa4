"""Fixtures for the Redis Streams tests: a redis-server per test, the skip when there is none."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port

from .redis_server import REDIS_SERVER, RedisServer

pytestmark = pytest.mark.skipif(
    not os.path.exists(REDIS_SERVER), reason="needs Debian's redis-server (.ci/run installs it)"
)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if not os.path.exists(REDIS_SERVER):
        pytest.skip("needs Debian's redis-server (.ci/run installs it)")
    server = RedisServer(tmp_path / "redis", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
