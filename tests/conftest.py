"""Shared fixtures: real Tansu and real redis-server processes, no mocks.

Nothing starts unless a test asks for it, so pure unit tests stay fast.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.stream.topics import Topics


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[TansuBroker]:
    """One in-memory Tansu per test session; isolate tests with `topic_prefix`."""
    with TansuBroker() as broker:
        yield broker


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server (AOF, appendfsync always) per test, in its own temp dir."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def redis_server_module() -> Iterator[RedisServer]:
    """One redis-server per test module, for modules that FLUSHALL between tests."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test, so tests sharing the broker never see each other."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topics(topic_prefix: str) -> Topics:
    return Topics(topic_prefix)
