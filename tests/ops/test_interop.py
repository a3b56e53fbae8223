"""Outsiders can read what medassist publishes: librdkafka (via confluent-kafka, an independent C
client; Debian's kcat links a librdkafka too old to talk to Tansu, see README) reads the
decisions and payment-instruction topics of a real run, message for message what kafka-python reads."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition
from medassist.ops.demo import write_sample
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, end_offsets

pytestmark = pytest.mark.integration


def read_with_librdkafka(bootstrap: str, topic: str, timeout_s: float = 30) -> list[tuple[bytes | None, bytes]]:
    ends = end_offsets(bootstrap, topic)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"outsider-{topic}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        want = sum(ends.values())
        got: list[tuple[bytes | None, bytes]] = []
        deadline = time.monotonic() + timeout_s
        while len(got) < want and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is None:
                continue
            assert m.error() is None, m.error()
            value = m.value()
            assert value is not None
            got.append((m.key(), value))
        return got
    finally:
        consumer.close()


def test_librdkafka_reads_the_instructions_of_a_run(kafka_broker: TansuBroker, redis_server: RedisServer,
                                                    topics: Topics, tmp_path: Path) -> None:
    sample = tmp_path / "s.jsonl"
    write_sample(sample, people=30, seed=4)
    done = subprocess.run([sys.executable, "-m", "medassist.cli", "run", str(sample), "--workers", "1",
                           "--partitions", "3", "--bootstrap", kafka_broker.bootstrap, "--redis", redis_server.url,
                           "--prefix", topics.prefix], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    for topic in (topics.instructions, topics.decisions):
        outsider = read_with_librdkafka(kafka_broker.bootstrap, topic)
        ours = list(read_topic(kafka_broker.bootstrap, topic))
        assert len(outsider) == len(ours) > 0
        assert sorted(v for _, v in outsider) == sorted(ours)
        for key, value in outsider:  # keyed by person, so a consumer can keep per-person order
            assert key == orjson.loads(value)["psn_no"].encode()
    ids = {orjson.loads(v)["instruction_id"] for _, v in read_with_librdkafka(kafka_broker.bootstrap,
                                                                              topics.instructions)}
    assert all(i.startswith("PI-") for i in ids)
