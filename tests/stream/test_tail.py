"""`read_topic` (tail, run's summary, month-end's inputs) reads a topic to its true end on Tansu.

Tansu answers ListOffsets(latest) with the last record batch's base offset + 1, so after one
batch of 50 records it says 1. A reader that stopped at that offset would end after the first
poll that passed it; with polls of 7 records, 43 of the 50 would be lost.
"""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, ensure_topics

pytestmark = pytest.mark.integration


def test_reads_past_the_end_tansu_lists_after_one_large_batch(kafka_broker, topics: Topics) -> None:
    bootstrap = kafka_broker.bootstrap
    topic = topics.instructions
    ensure_topics(bootstrap, [topic], partitions=1)
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=200, batch_size=1 << 20)
    for i in range(50):
        producer.send(topic, f"m{i}".encode())
    producer.flush()
    producer.close()

    probe = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    listed = probe.end_offsets([TopicPartition(topic, 0)])[TopicPartition(topic, 0)]
    probe.close()
    assert listed < 50  # the broker under-reports: what makes this test mean something

    got = list(read_topic(bootstrap, topic, max_records=7))
    assert got == [f"m{i}".encode() for i in range(50)]
