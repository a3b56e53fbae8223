"""Input messages straight from faust's fetch loop into a batch buffer, filled while a batch runs.

faust still owns the consumer group, the fetching, rebalances and offset commits; only the last
step, from a fetched message to the agent, is ours. Why:
- faust's `noack_take` stops buffering while the agent works on a batch (its `buffer_consuming`
  future) and then waits `within` for the next one, so intake and processing took turns: a
  worker sat ~40% idle while Redis fsynced and the broker acked. Here fetching goes on during
  those waits, and the next batch is whatever arrived meanwhile.
- faust delivers each message through a channel queue, an Event, the key/value codecs, the
  stream's processors and four sensor calls: ~30% of a worker's CPU at a backlog. Our
  messages are raw bytes that the processor decodes itself, so none of that is needed.

Semantics kept from faust's own path:
- Flow control: delivery waits while faust suspends the flow (a rebalance), and the buffer is
  registered with `flow_control`, so a revocation drops what was fetched but not yet taken,
  exactly as faust clears an agent's queue. Those messages were never tracked or acked, so
  their partition's new owner (or we, after the seek to the committed offset) reads them again.
- Acks: a message is tracked (`Consumer.track_message`, pending ack) when a batch takes it and
  acked (`Consumer.ack`) only after the batch's outputs are published, so commits never pass an
  unfinished event and faust's graceful stop and `stream_wait_empty` wait for in-flight batches.
- Backpressure: at `max_buffered` messages the fetch loop waits until a batch takes some.
- Health: taking a batch stamps its partitions' inbound time in faust's monitor, which its
  consumer thread reads to tell a working stream from a stuck one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from time import monotonic
from typing import Any


class BatchIntake:
    def __init__(self, app: Any, topic: str, max_buffered: int) -> None:
        self.app = app
        self.topic = topic
        self.max_buffered = max_buffered
        self._buffer: deque[Any] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def install(self) -> None:
        """Route the topic's partitions to `on_message` instead of faust's channel delivery."""
        conductor = self.app.topics
        build = conductor._build_handler  # faust's per-partition delivery closure factory

        def build_handler(tp: Any, channels: Any) -> Any:
            return self.on_message if tp.topic == self.topic else build(tp, channels)

        conductor._build_handler = build_handler
        self.app.flow_control.manage_queue(self)  # cleared, like the agents' queues, on a revocation

    async def on_message(self, message: Any) -> None:
        await self.app.flow_control.acquire()  # no-op unless a rebalance suspended the flow
        self._buffer.append(message)
        self._ready.set()
        if len(self._buffer) >= self.max_buffered:
            self._room.clear()
            await self._room.wait()

    def clear(self) -> None:
        """faust's flow control drops what was fetched but not taken (partitions are being revoked)."""
        self._buffer.clear()
        self._room.set()

    def __len__(self) -> int:
        return len(self._buffer)

    async def take(self, max_n: int) -> list[Any]:
        """Up to `max_n` messages in arrival order, waiting for at least one; each is tracked (pending ack)."""
        buf = self._buffer
        while not buf:
            self._ready.clear()
            await self._ready.wait()
        batch = [buf.popleft() for _ in range(min(max_n, len(buf)))]
        if len(buf) < self.max_buffered:
            self._room.set()
        track = self.app.consumer.track_message
        for m in batch:
            if not m.tracked:
                m.tracked = True
                track(m)
        # faust's consumer thread checks every partition that has unread events for a recent "stream
        # took an event from it" time (Monitor.stream_inbound_time, set by its streams); without it,
        # it logs "Stream has not started processing" ERRORs every few seconds of a backlog.
        inbound = getattr(self.app.monitor, "stream_inbound_time", None)
        if inbound is not None:
            now = monotonic()
            for tp in {m.tp for m in batch}:
                inbound[tp] = now
        return batch

    def ack(self, messages: list[Any]) -> None:
        ack = self.app.consumer.ack
        for m in messages:
            ack(m)
