"""The worker's code around the engine runs on either person store (state/store.py).

stream/processor.py over the in-memory store decides a generated population exactly as
replay does, and applies the store interface's refusals as Redis does: a redelivered event
publishes its stored outputs again, a write computed on a stale snapshot is refused.
"""

from __future__ import annotations

import asyncio

import orjson
from medassist.engine.decide import Engine
from medassist.engine.policy import load_policies
from medassist.engine.state import StateChange
from medassist.population import population
from medassist.replay import replay_events
from medassist.security.signing import Signer
from medassist.state.memory import MemoryStore
from medassist.state.store import ALREADY_DONE, APPLIED, CONFLICT, PendingEvent, PersonStore
from medassist.stream.metrics import Metrics
from medassist.stream.processor import InMessage, Processor
from medassist.stream.topics import Topics


def test_the_processor_on_the_memory_store_decides_as_replay(signer: Signer) -> None:
    events = list(population(30, seed=9))
    store: PersonStore = MemoryStore()
    topics = Topics("t")
    processor = Processor(Engine(load_policies()), store, topics, Metrics(), signer=signer)
    msgs = [InMessage(0, n, e["psn_no"].encode(), orjson.dumps(e)) for n, e in enumerate(events)]
    out = []
    for start in range(0, len(msgs), 50):
        out += asyncio.run(processor.handle(msgs[start:start + 50]))
    decided = [m.value for m in out if m.topic == topics.decisions]
    assert decided == [orjson.dumps(d) for d in replay_events(events)]
    # the whole batch again: every event redelivered, the same decisions published, nothing decided twice
    again = asyncio.run(processor.handle(msgs[:50]))
    first = [m.value for m in out if m.topic == topics.decisions][: len([m for m in again
                                                                         if m.topic == topics.decisions])]
    assert [m.value for m in again if m.topic == topics.decisions] == first


def test_the_memory_store_refuses_as_redis_does() -> None:
    store = MemoryStore()

    def change(eid: str) -> StateChange:
        return StateChange(acc={"2023:x": 1}, events={eid: "fp-" + eid})

    first = asyncio.run(store.apply_many([PendingEvent("P", 0, "E1", "fp-E1", change("E1"), b"[1]"),
                                          PendingEvent("P", 1, "E2", "fp-E2", change("E2"), b"")]))
    assert first == [(APPLIED, "1"), (APPLIED, "2")]
    stale = asyncio.run(store.apply_many([PendingEvent("P", 1, "E3", "fp-E3", change("E3"), b""),
                                          PendingEvent("P", 2, "E4", "fp-E4", change("E4"), b"")]))
    assert stale == [(CONFLICT, "2"), (CONFLICT, "2")]  # after a refusal the rest of the chain is refused
    redelivered = asyncio.run(store.apply_many([PendingEvent("P", 2, "E1", "fp-E1", change("E1"), b"[1]")]))
    assert redelivered == [(ALREADY_DONE, "fp-E1")]
    assert asyncio.run(store.outputs("P", "E1")) == b"[1]"
    snap = asyncio.run(store.load_many(["P"]))["P"]
    assert (snap.version, snap.state.acc) == (2, {"2023:x": 2})
