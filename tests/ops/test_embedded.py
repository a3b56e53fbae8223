"""The embedded infrastructure really works: durability, readiness, topics, interop."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer
from kafka import KafkaAdminClient, KafkaProducer
from kcat_client import kcat_consume
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.stream.topics import Topics, ensure_topics

pytestmark = pytest.mark.integration


def test_redis_clean_restart_keeps_aof_data(redis_server: RedisServer) -> None:
    port, pid = redis_server.port, redis_server.pid
    c = redis_server.client()
    c.set("k", "v1")
    c.xadd("outbox", {"payment_id": "P-1"})
    c.close()
    redis_server.restart()
    assert redis_server.port == port and redis_server.pid != pid
    c = redis_server.client()
    assert c.get("k") == b"v1"
    assert c.xlen("outbox") == 1
    assert c.config_get("appendfsync") == {"appendfsync": "always"}
    assert c.config_get("save") == {"save": ""}


def test_redis_kill9_keeps_acknowledged_writes(redis_server: RedisServer) -> None:
    # with appendfsync always, every write that got its reply is on disk before kill -9
    c = redis_server.client()
    for i in range(200):
        c.incr("n")
        c.set(f"done:{i}", 1)
    c.close()
    redis_server.kill()
    assert not redis_server.running()
    redis_server.start()
    c = redis_server.client()
    assert c.get("n") == b"200"
    assert c.exists(*[f"done:{i}" for i in range(200)]) == 200


def test_redis_without_aof_loses_data_on_restart(tmp_path: object) -> None:
    # control experiment: proves the previous tests would fail if persistence broke
    with RedisServer(appendonly=False) as server:
        server.client().set("k", "v")
        server.restart()
        assert server.client().get("k") is None


def test_redis_rejects_bad_fsync_policy() -> None:
    with pytest.raises(ValueError):
        RedisServer(appendfsync="sometimes")


def test_broker_answers_metadata(kafka_broker: TansuBroker) -> None:
    assert kafka_broker.running()
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    try:
        cluster = admin.describe_cluster()
    finally:
        admin.close()
    assert len(cluster["brokers"]) == 1
    assert cluster["brokers"][0]["port"] == kafka_broker.port


def test_topic_names_follow_prefix() -> None:
    t = Topics("x")
    assert t.all() == ["x.events", "x.decisions", "x.instructions", "x.deadletters",
                       "x.reconciliation", "x.monitoring"]
    assert Topics().events == "medassist.events"


def test_ensure_topics_idempotent_with_partitions(kafka_broker: TansuBroker,
                                                  topics: Topics) -> None:
    first = ensure_topics(kafka_broker.bootstrap, topics.all(), partitions=6)
    assert first == {name: 6 for name in topics.all()}
    again = ensure_topics(kafka_broker.bootstrap, topics.all(), partitions=6)
    assert again == first
    # an existing topic keeps its partition count; a new one gets the requested count
    extra = f"{topics.prefix}.extra"
    mixed = ensure_topics(kafka_broker.bootstrap, [topics.events, extra], partitions=3)
    assert mixed == {topics.events: 6, extra: 3}
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    try:
        assert set(topics.all()) | {extra} <= set(admin.list_topics())
    finally:
        admin.close()


def _produce_one(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, key=key, value=value).get(timeout=10)
    finally:
        producer.close()


PAYLOAD = b'{"type":"settlement","event_id":"S-1","psn_no":"P001"}'


@pytest.mark.needs("kcat")
def test_kcat_reads_what_kafka_python_produced(kafka_broker: TansuBroker,
                                               topics: Topics) -> None:
    """Independent client (librdkafka, via Debian's kcat) against Tansu; where its librdkafka is too
    old to talk to Tansu, the exact failure is pinned instead (tests/kcat_client.py)."""
    ensure_topics(kafka_broker.bootstrap, [topics.events], partitions=1)
    _produce_one(kafka_broker.bootstrap, topics.events, b"P001", PAYLOAD)
    out = kcat_consume(kafka_broker.bootstrap, topics.events, "%k|%s\\n", "-c", "1", timeout=30)
    if out is None:  # the pinned failure of librdkafka < 2.1 against Tansu (see kcat_client)
        return
    assert out.decode().strip() == "P001|" + PAYLOAD.decode()


def test_aiokafka_reads_what_kafka_python_produced(kafka_broker: TansuBroker,
                                                   topics: Topics) -> None:
    """A second, independent client implementation (the one faust uses) reads it back."""
    ensure_topics(kafka_broker.bootstrap, [topics.events], partitions=3)
    _produce_one(kafka_broker.bootstrap, topics.events, b"P001", PAYLOAD)

    async def read_one() -> tuple[bytes | None, bytes | None]:
        consumer = AIOKafkaConsumer(topics.events, bootstrap_servers=kafka_broker.bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            msg = await asyncio.wait_for(consumer.getone(), timeout=20)
            return msg.key, msg.value
        finally:
            await consumer.stop()

    assert asyncio.run(read_one()) == (b"P001", PAYLOAD)


def test_broker_stop_and_kill(tmp_path: object) -> None:
    broker = TansuBroker()
    broker.start()
    try:
        assert broker.running()
        assert broker.stop() == 0 or not broker.running()
        assert not broker.running()
        broker.start()
        assert broker.running()
        broker.kill()
        assert not broker.running()
    finally:
        broker.close()
    assert not broker.workdir.exists()
