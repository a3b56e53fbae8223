"""The Redis person state is bounded: two years of accumulators and settlement records (one
compressed value per year), event markers within the redelivery horizon, and state written by
earlier versions (one JSON field per settlement, markers without a day) is read and replaced on
the next write."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from history import Expected, check
from medassist.bench.state_bench import history
from medassist.engine.decide import Engine
from medassist.engine.policy import load_policies
from medassist.ops.embedded import RedisServer
from medassist.state.redis_store import RedisStore, decode_person, person_key
from medassist.stream.metrics import Metrics
from medassist.stream.processor import InMessage, OutMessage, Processor
from medassist.stream.topics import Topics

pytestmark = pytest.mark.integration


def process(url: str, topics: Topics, events: list[dict[str, Any]], start: int = 0) -> list[OutMessage]:
    engine = Engine(load_policies())

    async def go() -> list[OutMessage]:
        store = RedisStore(url)
        proc = Processor(engine, store, topics, Metrics())
        out: list[OutMessage] = []
        msgs = [InMessage(0, start + i, e["psn_no"].encode(), orjson.dumps(e)) for i, e in enumerate(events)]
        for k in range(0, len(msgs), 40):
            out += await proc.handle(msgs[k:k + 40])
        await store.close()
        return out

    return asyncio.run(go())


def to_old_layout(r: Any, psn: str) -> None:
    """Rewrite a person's hash as the previous version wrote it: s:<setl_id> JSON, markers without a day."""
    key = person_key(psn)
    snap = decode_person(r.hgetall(key))
    fields = [f for f in r.hkeys(key) if f.startswith((b"S:", b"e:"))]
    r.hdel(key, *fields)
    r.hset(key, mapping={**{f"s:{sid}": orjson.dumps(rec) for sid, rec in snap.state.settlements.items()},
                         **{f"e:{eid}": fp for eid, fp in snap.state.events.items()}})


def test_four_years_in_redis_keep_two_and_old_fields_are_replaced(redis_server: RedisServer, topics: Topics) -> None:
    events = [e for _, e in history(3, 4, 10.0, seed=9)]
    first = [e for e in events if e["type"] == "eligibility" or (e.get("setl_time") or e.get("enrolled_at", ""))[:4]
             in ("2022", "2023")]
    rest = [e for e in events if e not in first]
    outs = process(redis_server.url, topics, first)
    r = redis_server.client()
    for psn in {e["psn_no"] for e in events}:
        to_old_layout(r, psn)
    outs += process(redis_server.url, topics, rest, start=len(first))
    rep = check(Expected.of(events), [o.value for o in outs if o.topic == topics.decisions],
                [o.value for o in outs if o.topic == topics.instructions], r)
    assert not rep.problems, rep.problems
    assert rep.unique_instructions > 20
    for psn in {e["psn_no"] for e in events}:
        fields = {f.decode() for f in r.hkeys(person_key(psn))}
        assert r.hget(person_key(psn), "kf") == b"2025-01-01"
        assert {f for f in fields if f.startswith("S:")} == {"S:2025", "S:2026"}
        assert not any(f.startswith("s:") for f in fields)  # the old JSON records went into S:<year>
        assert {f[2:6] for f in fields if f.startswith("a:")} <= {"2025", "2026"}
        # markers written without a day (the old layout) get today's on the next write: they expire a
        # redelivery horizon after the upgrade, not at once
        marks = {f[2:]: r.hget(person_key(psn), f) for f in fields if f.startswith("e:")}
        assert {e["event_id"] for e in events if e["psn_no"] == psn} == set(marks)
        assert all(v.count(b":") == 1 and int(v.split(b":")[1]) > 19000 for v in marks.values())
