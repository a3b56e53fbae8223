"""`medassist feed`: produce a JSONL file to the input topic, as the provincial platform would.

Keyed by psn_no so that one person's events stay in one partition, in order. A
line that is not JSON is still sent (unkeyed): the workers dead-letter it with
its reason, which is what would happen to the platform's bad message.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import IO

import orjson


def key_of(line: bytes) -> bytes | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    psn = obj.get("psn_no") if isinstance(obj, dict) else None
    return psn.encode() if isinstance(psn, str) and psn else None


def feed_lines(bootstrap: str, topic: str, lines: Iterable[bytes], progress: IO[str] | None = None) -> int:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=5,
                             batch_size=512 * 1024, enable_idempotence=True)
    n = 0
    t0 = last = time.monotonic()
    try:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            producer.send(topic, value=line, key=key_of(line))
            n += 1
            if progress is not None and time.monotonic() - last >= 1.0:
                last = time.monotonic()
                print(f"fed {n} events ({n / (last - t0):.0f}/s)", file=progress, flush=True)
        producer.flush()
    finally:
        producer.close()
    return n


def feed_file(bootstrap: str, topic: str, path: str) -> int:
    with open(path, "rb") as f:
        return feed_lines(bootstrap, topic, f, progress=sys.stderr)
