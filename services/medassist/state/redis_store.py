"""Person state in Redis: one hash per person, one atomic Lua script per event.

Layout (every key carries the person as a hash tag, so Redis Cluster keeps a
person's keys in one slot and a script may touch them all):

  ma:{psn}        hash   ver -> int                 compare-and-set version (fencing token)
                         w -> token                 writer of the last change (chains in one call)
                         a:<year>:<name> -> int     accumulators
                         s:<setl_id> -> JSON        settlement records (reversal, reach-back)
                         l:<seq> -> JSON            eligibility records, in arrival order
                         e:<event_id> -> fp         applied events and their content hash
  ma:{psn}:o:<event_id>  string  JSON outputs (decisions) of that event, kept `outputs_ttl`
                         seconds so a redelivery re-publishes exactly what was decided.

The script refuses to apply an event twice (e:<event_id>) and refuses a change
computed from a stale snapshot (ver, and for the 2nd..nth event of a person in one
call, w: the previous write must be this call's own), which also fences a zombie
worker that lost its partition: its late write finds the event already applied or a
newer version, and is dropped. Every check happens before the first write, because
Redis does not roll a script back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from medassist.engine.state import PersonState, StateChange

APPLY_LUA = """
local h = KEYS[1]
local done = redis.call('HGET', h, 'e:' .. ARGV[2])
if done then return {1, done} end
local ver = tonumber(redis.call('HGET', h, 'ver') or '0')
if ver ~= tonumber(ARGV[1]) then return {2, tostring(ver)} end
if ARGV[6] == '1' and redis.call('HGET', h, 'w') ~= ARGV[5] then return {2, tostring(ver)} end
local i = 8
local n = tonumber(ARGV[7])
for _ = 1, n do
  redis.call('HINCRBY', h, ARGV[i], ARGV[i + 1])
  i = i + 2
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('HSET', h, ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('HSET', h, 'e:' .. ARGV[2], ARGV[3], 'ver', ver + 1, 'w', ARGV[5])
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[2], ARGV[4], 'EX', tonumber(ARGV[i]))
end
return {0, tostring(ver + 1)}
"""

APPLIED, ALREADY_DONE, CONFLICT = 0, 1, 2


def person_key(psn_no: str) -> str:
    return f"ma:{{{psn_no}}}"


def outputs_key(psn_no: str, event_id: str) -> str:
    return f"ma:{{{psn_no}}}:o:{event_id}"


@dataclass(slots=True)
class Snapshot:
    state: PersonState
    version: int


def decode_person(raw: dict[bytes, bytes]) -> Snapshot:
    st = PersonState()
    ver = 0
    elig: list[tuple[int, Any]] = []
    for k, v in raw.items():
        tag, _, name = k.decode().partition(":")
        if tag == "a":
            st.acc[name] = int(v)
        elif tag == "s":
            st.settlements[name] = orjson.loads(v)
        elif tag == "l":
            elig.append((int(name), orjson.loads(v)))
        elif tag == "e":
            st.events[name] = v.decode()
        elif tag == "ver":
            ver = int(v)
    elig.sort(key=lambda t: t[0])
    st.eligibility = [r for _, r in elig]
    return Snapshot(st, ver)


def script_args(version: int, event_id: str, fp: str, change: StateChange, outputs: bytes,
                ttl: int, writer: str = "", chained: bool = False) -> list[Any]:
    args: list[Any] = [version, event_id, fp, outputs or b"", writer, "1" if chained else "0",
                       len([1 for d in change.acc.values() if d])]
    for k, d in change.acc.items():
        if d:
            args += [f"a:{k}", d]
    sets: list[Any] = []
    for sid, rec in change.settlements.items():
        sets += [f"s:{sid}", orjson.dumps(rec)]
    for rec in change.eligibility_add:
        sets += [f"l:{rec['seq']}", orjson.dumps(rec)]
    args.append(len(sets) // 2)
    args += sets
    args.append(ttl)
    return args


class RedisStore:
    """Async Redis access for the workers: batched snapshot reads and atomic applies."""

    def __init__(self, url: str, outputs_ttl: int = 14 * 86400) -> None:
        self.redis = aioredis.from_url(url, decode_responses=False)
        self.outputs_ttl = outputs_ttl
        self._apply = self.redis.register_script(APPLY_LUA)

    async def close(self) -> None:
        await self.redis.aclose()

    async def load_many(self, people: list[str]) -> dict[str, Snapshot]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for p in people:
                pipe.hgetall(person_key(p))
            raws = await pipe.execute()
        return {p: decode_person(r) for p, r in zip(people, raws, strict=True)}

    async def apply_many(self, items: list[tuple[str, int, str, str, StateChange, bytes]]) -> list[tuple[int, str]]:
        """Apply (psn, version, event_id, fp, change, outputs) in order; one result per item.

        Several items of one person form a chain (versions v, v+1, ...), each computed on the
        state its predecessor left. An item after the first is applied only if the previous
        write to the person was this call's (`w` = our writer token): a version match alone
        would accept a stale item after exactly as many foreign writes as it stands deep.
        """
        if not items:
            return []
        writer = uuid.uuid4().hex
        seen: set[str] = set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for psn, ver, eid, fp, change, outputs in items:
                args = script_args(ver, eid, fp, change, outputs, self.outputs_ttl, writer, psn in seen)
                seen.add(psn)
                await self._apply(keys=[person_key(psn), outputs_key(psn, eid)], args=args, client=pipe)
            results = await pipe.execute()
        return [(int(code), val.decode() if isinstance(val, bytes) else str(val)) for code, val in results]

    async def outputs(self, psn_no: str, event_id: str) -> bytes | None:
        v = await self.redis.get(outputs_key(psn_no, event_id))
        return v if v is None or isinstance(v, bytes) else str(v).encode()
