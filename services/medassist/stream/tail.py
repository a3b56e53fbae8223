"""`medassist tail TOPIC`: print a topic's messages as JSON lines (kafka-python consumer)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import orjson
from kafka import KafkaConsumer, TopicPartition

from medassist.security.kafka import kafka_options
from medassist.stream.topics import end_offsets


def read_topic(bootstrap: str, topic: str, from_beginning: bool = True, follow: bool = False,
               idle_timeout_s: float = 2.0, max_records: int = 5000) -> Iterator[bytes]:
    """Every message value of `topic`; stops at the end unless `follow`."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=int(idle_timeout_s * 1000), **kafka_options())
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return
        consumer.assign(tps)
        if from_beginning:
            consumer.seek_to_beginning(*tps)
        # Not consumer.end_offsets: Tansu lists the last batch's base offset + 1 as the end, and a
        # read stopping there drops the rest of that batch (tests/stream/test_tail.py).
        true_end = {} if follow else end_offsets(bootstrap, topic)
        end = {tp: true_end.get(tp.partition, 0) for tp in tps}
        while True:
            batch = consumer.poll(timeout_ms=500, max_records=max_records)
            for records in batch.values():
                for r in records:
                    yield r.value
            if not follow and all(consumer.position(tp) >= end[tp] for tp in tps):
                return
    finally:
        consumer.close()


def read_until(bootstrap: str, topic: str, end: dict[int, int],
               max_records: int = 5000) -> Iterator[tuple[int, int, bytes]]:
    """(partition, offset, value) of every message below `end` (partition -> offset), in
    partition order per fetch; for readers that must say exactly what they read (month-end)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False, group_id=None,
                             **kafka_options())
    try:
        tps = [TopicPartition(topic, p) for p, o in sorted(end.items()) if o > 0]
        if not tps:
            return
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        while True:
            batch = consumer.poll(timeout_ms=500, max_records=max_records)
            for tp, records in batch.items():
                stop = end[tp.partition]
                for r in records:
                    if r.offset < stop:
                        yield tp.partition, r.offset, r.value
            if all(consumer.position(tp) >= end[tp.partition] for tp in tps):
                return
    finally:
        consumer.close()


def describe_dead_letter(raw: bytes) -> str:
    """A dead letter for a person to read: where (file:line, else topic[partition]@offset), why, the bytes."""
    d = orjson.loads(raw)
    origin = d.get("origin")
    src = d["source"]
    where = f"{origin['file']}:{origin['line']}" if origin else f"{src['topic']}[{src['partition']}]@{src['offset']}"
    why = d["reason"] + (f" ({d['detail']})" if d.get("detail") else "")
    if d["value_text"] is not None:
        body = d["value_text"]
    elif d["value_base64"] is not None:
        body = f"(not UTF-8; base64) {d['value_base64']}"
    else:
        body = "(no value: a tombstone)"
    return f"{where}  {d['reason_code']}: {why}\n    {body}"


def tail(bootstrap: str, topic: str, follow: bool, readable: bool = False) -> int:
    """Print `topic`'s messages, one per line; `readable` dead letters as describe_dead_letter says."""
    out = sys.stdout.buffer
    n = 0
    for v in read_topic(bootstrap, topic, follow=follow):
        out.write((describe_dead_letter(v).encode() if readable else v) + b"\n")
        n += 1
        if follow:
            out.flush()
    out.flush()
    return n
