"""Shared fixtures: real Tansu and real redis-server processes, no mocks.

Nothing starts unless a test asks for it, so pure unit tests stay fast.
"""

from __future__ import annotations

import ast
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import medassist
import pytest
from medassist import compiled
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.ops.redis_cluster import LocalRedisCluster
from medassist.security import signing
from medassist.stream.topics import Topics

PACKAGE = Path(medassist.__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[1]


def setup_literal(name: str) -> object:
    """A constant of setup.py (COMPILED, GROUP), read without running setup.py."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"setup.py has no {name}")


# the shared library with every compiled module's code (setup.py's GROUP + mypyc's suffix)
GROUP_LIB = f"{setup_literal('GROUP')}__mypyc"
assert GROUP_LIB == compiled.GROUP_LIB, "setup.py's GROUP and medassist/compiled.py's GROUP_LIB must agree"


def stale_compiled_modules(package: Path = PACKAGE) -> list[str]:
    """What `import medassist` refuses (medassist/compiled.py): a stale build never reaches a test."""
    return compiled.stale_modules(package, GROUP_LIB)


SETUP_COMMAND = "bash scripts/setup.sh"  # README's set-up command


def require(*programs: str) -> None:
    """Fail in one line, naming the set-up command, when a system program a test needs is missing."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `{SETUP_COMMAND}` (README, the first hour)",
                    pytrace=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):  # @pytest.mark.needs("promtool", ...)
        require(*mark.args)
@pytest.fixture(scope="session", autouse=True)
def signing_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A signing key pair made for this session (never one from the repository), in the environment
    that the workers, the ledger and month-end (and the processes the tests start) read it from."""
    env = signing.generate_keys(tmp_path_factory.mktemp("signing-keys"), "test-key")
    saved = {k: os.environ.get(k) for k in (*env, signing.ENV_KEY)}
    os.environ.pop(signing.ENV_KEY, None)
    os.environ.update(env)
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def signer(signing_keys: dict[str, str]) -> signing.Signer:
    return signing.signer_from_env(signing_keys)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[TansuBroker]:
    """One in-memory Tansu per test session; isolate tests with `topic_prefix`."""
    with TansuBroker() as broker:
        yield broker


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server (AOF, appendfsync always) per test, in its own temp dir."""
    require("redis-server")
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def redis_server_module() -> Iterator[RedisServer]:
    """One redis-server per test module, for modules that FLUSHALL between tests."""
    require("redis-server")
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster_session() -> Iterator[LocalRedisCluster]:
    """One real Redis Cluster (3 masters, 1 replica each) per session; `redis_cluster` empties it."""
    with LocalRedisCluster(masters=3, replicas=1) as cluster:
        yield cluster


@pytest.fixture
def redis_cluster(redis_cluster_session: LocalRedisCluster) -> LocalRedisCluster:
    """The session's cluster, emptied (every master FLUSHALLed; the replicas follow)."""
    redis_cluster_session.wait_ok()
    for node in redis_cluster_session.masters_now():
        c = node.client()
        c.flushall()
        c.close()
    return redis_cluster_session


@pytest.fixture(params=["redis-server", "redis-cluster"])
def redis_any(request: pytest.FixtureRequest) -> RedisServer | LocalRedisCluster:
    """The test runs twice: on one redis-server and on a Redis Cluster (both offer .url and .client())."""
    return request.getfixturevalue("redis_server" if request.param == "redis-server" else "redis_cluster")


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test, so tests sharing the broker never see each other."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topics(topic_prefix: str) -> Topics:
    return Topics(topic_prefix)
