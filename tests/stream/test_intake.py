"""BatchIntake's contract with faust's consumer: track on take, ack after, drop on revocation, backpressure.

The consumer and flow control here are stand-ins that record calls; the real ones are exercised
by every streaming integration and fault test (tests/stream), which run faust against Tansu.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from medassist.stream.intake import BatchIntake
from mode.utils.queues import FlowControlEvent


@dataclass
class Msg:
    offset: int
    tracked: bool = False
    tp: tuple[str, int] = ("t", 0)


@dataclass
class Consumer:
    tracked: list[int] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)

    def track_message(self, m: Msg) -> None:
        self.tracked.append(m.offset)

    def ack(self, m: Msg) -> None:
        self.acked.append(m.offset)


class Monitor:
    def __init__(self) -> None:
        self.stream_inbound_time: dict[tuple[str, int], float] = {}


class App:
    def __init__(self) -> None:
        self.consumer = Consumer()
        self.flow_control = FlowControlEvent(initially_suspended=False)
        self.monitor = Monitor()
        self.topics: Any = None


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_take_tracks_in_order_and_ack_acks_after() -> None:
    async def go() -> None:
        app = App()
        intake = BatchIntake(app, "t", max_buffered=100)
        for i in range(5):
            await intake.on_message(Msg(i))
        first = await intake.take(3)
        assert [m.offset for m in first] == [0, 1, 2]
        assert app.consumer.tracked == [0, 1, 2] and app.consumer.acked == []  # pending until published
        intake.ack(first)
        assert app.consumer.acked == [0, 1, 2]
        rest = await intake.take(10)
        assert [m.offset for m in rest] == [3, 4] and app.consumer.tracked == [0, 1, 2, 3, 4]

    run(go())


def test_take_waits_for_the_first_message() -> None:
    async def go() -> None:
        intake = BatchIntake(App(), "t", max_buffered=100)
        waiting = asyncio.create_task(intake.take(10))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        await intake.on_message(Msg(7))
        assert [m.offset for m in await asyncio.wait_for(waiting, 1)] == [7]

    run(go())


def test_revocation_drops_untaken_messages_without_tracking_them() -> None:
    async def go() -> None:
        app = App()
        intake = BatchIntake(app, "t", max_buffered=100)
        app.flow_control.manage_queue(intake)  # what install() does
        for i in range(4):
            await intake.on_message(Msg(i))
        taken = await intake.take(1)
        app.flow_control.suspend()
        app.flow_control.clear()  # faust, on partitions revoked
        assert len(intake) == 0
        assert app.consumer.tracked == [0]  # 1..3 were never tracked: nothing waits for their ack
        blocked = asyncio.create_task(intake.on_message(Msg(9)))  # fetched during the rebalance
        await asyncio.sleep(0.01)
        assert not blocked.done() and len(intake) == 0
        app.flow_control.resume()
        await asyncio.wait_for(blocked, 1)
        assert [m.offset for m in await intake.take(10)] == [9]
        intake.ack(taken)
        assert app.consumer.acked == [0]

    run(go())


def test_a_full_buffer_holds_the_fetch_loop_until_a_batch_is_taken() -> None:
    async def go() -> None:
        intake = BatchIntake(App(), "t", max_buffered=3)
        for i in range(2):
            await intake.on_message(Msg(i))
        third = asyncio.create_task(intake.on_message(Msg(2)))
        await asyncio.sleep(0.01)
        assert not third.done()  # at the limit: the fetch loop waits
        await intake.take(2)
        await asyncio.wait_for(third, 1)
        assert [m.offset for m in await intake.take(10)] == [2]

    run(go())


def test_taking_a_batch_tells_faust_its_partitions_are_being_processed() -> None:
    async def go() -> None:
        app = App()
        intake = BatchIntake(app, "t", max_buffered=100)
        await intake.on_message(Msg(0, tp=("t", 3)))
        await intake.on_message(Msg(1, tp=("t", 5)))
        before = time.monotonic()
        await intake.take(1)
        assert set(app.monitor.stream_inbound_time) == {("t", 3)}  # only what a batch took
        assert app.monitor.stream_inbound_time[("t", 3)] >= before
        await intake.take(1)
        assert set(app.monitor.stream_inbound_time) == {("t", 3), ("t", 5)}

    run(go())
