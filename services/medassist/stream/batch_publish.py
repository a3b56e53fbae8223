"""Publish a batch's outputs as one record batch per topic-partition, not one send per message.

aiokafka's `send` costs a future, a partition lookup (pure-Python murmur2 over lists
rebuilt per call) and an accumulator append per message: ~1/8 of a worker's CPU at a
backlog. Here each output is appended to a BatchBuilder of its partition, and each
builder is sent once. The partition is the one aiokafka's DefaultPartitioner would
choose (same murmur2 of the key over the sorted partitions), so a person's outputs stay
on the partition they always had; a message without a key goes to a random partition,
as with `send`. Within a partition the messages keep their order.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from medassist.stream.processor import OutMessage

CACHE_LIMIT = 20_000  # keys whose hash we remember (a person has several outputs a batch); cleared when full


class BatchPublisher:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._hash: dict[bytes, int] = {}

    def _partition(self, key: bytes | None, partitions: list[int]) -> int:
        if key is None:
            return random.choice(partitions)
        h = self._hash.get(key)
        if h is None:
            if len(self._hash) >= CACHE_LIMIT:
                self._hash.clear()
            h = self._hash[key] = murmur2(key) & 0x7FFFFFFF
        return partitions[h % len(partitions)]

    async def publish(self, outs: list[OutMessage]) -> None:
        """Send every output and wait until the broker acked all of them (raises on a failure)."""
        producer = self.producer
        partitions: dict[str, list[int]] = {}
        builders: dict[tuple[str, int], Any] = {}
        futures: list[asyncio.Future[Any]] = []
        for o in outs:
            parts = partitions.get(o.topic)
            if parts is None:
                parts = partitions[o.topic] = sorted(await producer.partitions_for(o.topic))
            tp = (o.topic, self._partition(o.key, parts))
            builder = builders.get(tp)
            if builder is None:
                builder = builders[tp] = producer.create_batch()
            if builder.append(key=o.key, value=o.value, timestamp=None) is None:
                # full: send it, start the partition's next batch with this message
                futures.append(await producer.send_batch(builder, tp[0], partition=tp[1]))
                builder = builders[tp] = producer.create_batch()
                if builder.append(key=o.key, value=o.value, timestamp=None) is None:
                    # larger than a whole batch: let `send` take it (or refuse it, loudly)
                    del builders[tp]
                    futures.append(await producer.send(tp[0], o.value, key=o.key, partition=tp[1]))
        for (topic, partition), builder in builders.items():
            futures.append(await producer.send_batch(builder, topic, partition=partition))
        if futures:
            await asyncio.gather(*futures)
