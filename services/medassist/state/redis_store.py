"""Person state in Redis: one hash per person, one atomic Lua script per person per batch.

Layout (every key carries the person as a hash tag, so Redis Cluster keeps a
person's keys in one slot and a script may touch them all):

  ma:{psn}        hash   ver -> int                 compare-and-set version (fencing token)
                         kf -> YYYY-MM-DD           the state window's first day (engine/state.py)
                         a:<year>:<name> -> int     accumulators (this year's and last year's)
                         S:<year> -> zlib(msgpack)  that year's settlement records (reversal, reach-back),
                                                    setl_id -> record, for the years in the window
                         l:<seq> -> msgpack         eligibility records, in arrival order
                         e:<event_id> -> fp:day     applied events, their content hash and the day
                                                    (since 1970, UTC) they were applied; dropped
                                                    after MARKER_HORIZON_DAYS

Bounded: the engine moves the window to each event's year and drops older accumulators and
records in the same change; this store drops expired event markers with the person's next
write. A year's settlement records are one compressed msgpack value: they share keys, policy
ids, institution codes and accumulator names, so zlib takes them to a fraction of their JSON,
and one field per year costs one hash entry instead of one per settlement; the worker writes the
whole year's value from the state it decided on (the version check makes that state current).
Eligibility records are msgpack. Fields written by earlier versions (s:<setl_id> JSON records,
JSON eligibility records, markers without a day) are still read, and replaced when next written.
  ma:{psn}:o:<event_id>  string  JSON outputs (decisions) of that event, kept `outputs_ttl`
                         seconds so a redelivery re-publishes exactly what was decided.
                         (Not a hash field: Redis 7.0 cannot expire a field.)

`ma` is the default key prefix (MEDASSIST_REDIS_PREFIX): a what-if shadow group keeps its own.

One script call carries all of a person's events of a batch, in order, each computed
on the state its predecessor left. Per event it refuses an event applied before
(e:<event_id>) and a change computed from a stale snapshot (ver must be the version the
batch read, plus the events of this call applied so far); after the first refused
event the rest of the call is refused too (they were computed on top of it). That also
fences a zombie worker that lost its partition: its late write finds the event already
applied or a newer version, and is dropped. Every check of an event happens before its
first write, because Redis does not roll a script back.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import hiredis
import msgpack
import orjson
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection
from redis.crc import key_slot
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    RedisError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from medassist.engine.state import PersonState, StateChange
from medassist.security.redis_auth import is_tls, redis_options
from medassist.state.redis_client import is_cluster_async
from medassist.state.store import PendingEvent, Snapshot

# ARGV: version read, outputs ttl, n events, then per event: event_id, fp, outputs,
# n accumulator deltas, (field, delta)..., n hash sets, (field, value)..., n hash deletes, field...
# KEYS: the person's hash, then the outputs key of each event. Returns code, value per event.
APPLY_LUA = """
local h = KEYS[1]
local expect = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local ver = tonumber(redis.call('HGET', h, 'ver') or '0')
local ok = true
local wrote = false
local out = {}
local i = 4
for j = 1, tonumber(ARGV[3]) do
  local eid, fp, outputs = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local acc_at = i + 4
  local acc_end = acc_at + 2 * tonumber(ARGV[i + 3])
  local set_end = acc_end + 1 + 2 * tonumber(ARGV[acc_end])
  local del_end = set_end + 1 + tonumber(ARGV[set_end])
  i = del_end
  local done = redis.call('HGET', h, 'e:' .. eid)
  if done then
    out[#out + 1] = 1; out[#out + 1] = done; ok = false
  elseif not ok or ver ~= expect then
    out[#out + 1] = 2; out[#out + 1] = tostring(ver); ok = false
  else
    if del_end > set_end + 1 then redis.call('HDEL', h, unpack(ARGV, set_end + 1, del_end - 1)) end
    for k = acc_at, acc_end - 1, 2 do redis.call('HINCRBY', h, ARGV[k], ARGV[k + 1]) end
    for k = acc_end + 1, set_end - 1, 2 do redis.call('HSET', h, ARGV[k], ARGV[k + 1]) end
    ver = ver + 1
    expect = expect + 1
    redis.call('HSET', h, 'e:' .. eid, fp, 'ver', ver)
    if outputs ~= '' then redis.call('SET', KEYS[1 + j], outputs, 'EX', ttl) end
    out[#out + 1] = 0; out[#out + 1] = tostring(ver)
    wrote = true
  end
end
-- Nothing applied (a redelivery): still write, so that a WAIT after this call covers the
-- earlier writes whose outputs are about to be published again.
if not wrote and ver > 0 then redis.call('HSET', h, 'ver', ver) end
return out
"""

# Event markers are kept this long after the event was applied: a redelivery comes from the
# uncommitted tail of a partition (minutes), a republish needs the outputs (kept 14 days). An
# event replayed later finds its business key instead (duplicate_settlement, already_reversed,
# duplicate_enrollment): a named refusal, never a second payment.
MARKER_HORIZON_DAYS = 30
REPLICAS_TTL_S = 5.0
TOUCH_LUA = "local v = redis.call('HGET', KEYS[1], 'ver') if v then redis.call('HSET', KEYS[1], 'ver', v) end return 1"


def person_key(psn_no: str, prefix: str = "ma") -> str:
    return f"{prefix}:{{{psn_no}}}"


def outputs_key(psn_no: str, event_id: str, prefix: str = "ma") -> str:
    return f"{prefix}:{{{psn_no}}}:o:{event_id}"


@dataclass(slots=True)
class RedisSnapshot(Snapshot):
    """A snapshot and what this store needs to know of the hash it came from."""

    marker_days: dict[str, int] = field(default_factory=dict)  # event_id -> day applied (0: unknown)
    year_fields: set[str] = field(default_factory=set)  # S:<year> fields present
    legacy: list[str] = field(default_factory=list)  # s:<setl_id> fields of earlier versions


def year_of(rec: Any) -> str:
    return str(rec["setl_date"])[:4]


def year_value(settlements: dict[str, Any], year: str) -> bytes | None:
    """The S:<year> value: every settlement record of `year`, or None when there is none."""
    recs = {sid: r for sid, r in settlements.items() if year_of(r) == year}
    return zlib.compress(pack(recs), 6) if recs else None


def settlement_fields(state: PersonState) -> dict[str, bytes]:
    """Every S:<year> field of a state (the bench writes whole states this way)."""
    out = {}
    for y in sorted({year_of(r) for r in state.settlements.values()}):
        v = year_value(state.settlements, y)
        if v is not None:
            out[f"S:{y}"] = v
    return out


def today() -> int:
    return int(time.time() // 86400)


def pack(rec: Any) -> bytes:
    return msgpack.packb(rec, use_bin_type=True)  # type: ignore[no-any-return]


def unpack_record(v: bytes) -> Any:
    """msgpack, or the JSON of earlier versions (a JSON record starts with '{', msgpack never does)."""
    return orjson.loads(v) if v[:1] == b"{" else msgpack.unpackb(v, raw=False)


def decode_person(raw: dict[bytes, bytes]) -> RedisSnapshot:
    st = PersonState()
    ver = 0
    days: dict[str, int] = {}
    year_fields: set[str] = set()
    legacy: list[str] = []
    elig: list[tuple[int, Any]] = []
    for k, v in raw.items():
        tag, _, name = k.decode().partition(":")
        if tag == "a":
            st.acc[name] = int(v)
        elif tag == "S":
            st.settlements.update(msgpack.unpackb(zlib.decompress(v), raw=False))
            year_fields.add(k.decode())
        elif tag == "s":
            st.settlements[name] = unpack_record(v)
            legacy.append(k.decode())
        elif tag == "l":
            elig.append((int(name), unpack_record(v)))
        elif tag == "e":
            fp, _, day = v.decode().partition(":")
            st.events[name] = fp
            days[name] = int(day or 0)
        elif tag == "kf":
            st.kept_from = v.decode()
        elif tag == "ver":
            ver = int(v)
    elig.sort(key=lambda t: t[0])
    st.eligibility = [r for _, r in elig]
    return RedisSnapshot(st, ver, days, year_fields, legacy)


def expired_markers(snap: RedisSnapshot, day: int) -> list[str]:
    """Fields of the event markers past the redelivery horizon (a marker of unknown age is not:
    `undated_markers` gives it today's day, so it expires a horizon after this version first saw it)."""
    return [f"e:{eid}" for eid, d in snap.marker_days.items() if 0 < d < day - MARKER_HORIZON_DAYS]


def undated_markers(snap: RedisSnapshot, day: int) -> list[Any]:
    """(field, value) pairs stamping the markers earlier versions wrote without a day."""
    out: list[Any] = []
    for eid, d in snap.marker_days.items():
        if d == 0:
            out += [f"e:{eid}", f"{snap.state.events[eid]}:{day}"]
    return out


def event_args(event_id: str, fp: str, change: StateChange, outputs: bytes, day: int = 0,
               drop: list[str] | None = None, years: dict[str, bytes | None] | None = None,
               stamp: list[Any] | None = None) -> list[Any]:
    """One event's part of the script's ARGV. The settlement records go as whole years (`years`:
    S:<year> field -> value, None to delete), computed by the caller from the state decided on."""
    args: list[Any] = [event_id, f"{fp}:{day}" if day else fp, outputs or b""]
    deltas = [(k, d) for k, d in change.acc.items() if d]
    args.append(len(deltas))
    for k, d in deltas:
        args += [f"a:{k}", d]
    sets: list[Any] = list(stamp or ())
    dels = list(drop or ())
    for f, v in (years or {}).items():
        if v is None:
            dels.append(f)
        else:
            sets += [f, v]
    for rec in change.eligibility_add:
        sets += [f"l:{rec['seq']}", pack(rec)]
    if change.kept_from:
        sets += ["kf", change.kept_from]
        dels += [f"a:{k}" for k in change.drop_acc]
        dels += [f"s:{sid}" for sid in change.drop_settlements]  # as written by earlier versions
    args.append(len(sets) // 2)
    args += sets
    args.append(len(dels))
    return args + dels




class HiredisPacking(Connection):
    """A TCP connection that packs commands with hiredis (C) rather than redis-py's asyncio
    Python packer, which re-joins the buffer per argument: ~7x faster, byte for byte the same
    RESP, ~8% of a worker's CPU at a backlog (a batch's scripts carry tens of arguments each)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        first = args[0]
        # redis-py passes multi-word commands ("SCRIPT LOAD") as one argument, split on the wire
        if isinstance(first, str) and " " in first:
            args = (*first.split(), *args[1:])
        elif isinstance(first, bytes) and b" " in first:
            args = (*first.split(), *args[1:])
        return [hiredis.pack_command(args)]


def connect(url: str) -> aioredis.Redis:
    opts = redis_options(url)  # the worker's ACL user, its password file, TLS files
    if url.startswith("redis://"):  # plain TCP; TLS and unix sockets keep redis-py's own classes
        return aioredis.from_url(url, decode_responses=False, connection_class=HiredisPacking, **opts)
    return aioredis.from_url(url, decode_responses=False, **opts)


class NotReplicated(RedisError):
    """A node has a connected replica but did not confirm our writes within the timeout:
    the batch is not published (a failover now could lose it) and is retried."""


class RedisStore:
    """Async Redis access for the workers: batched snapshot reads and atomic applies.

    On a Redis Cluster (detected from the server) a batch's reads and scripts go out as one
    pipeline per master, all masters at once; a person's keys share a hash tag, so every
    script runs on one node. After the scripts a master with replicas is asked to `WAIT` for
    one of them: nothing is published before its state change is on two machines, so a
    failover to that replica cannot lose a change whose outputs finance has seen. A moved
    slot or a lost node refreshes the slot map and fails the batch; the worker retries it,
    which is safe because applying a batch twice changes nothing.
    """

    def __init__(self, url: str, outputs_ttl: int = 14 * 86400, wait_timeout_ms: int = 1000,
                 key_prefix: str = "ma") -> None:
        self.url = url
        self.key_prefix = key_prefix  # "ma"; a what-if shadow group keeps its people under its own
        self.outputs_ttl = outputs_ttl
        self.wait_timeout_ms = wait_timeout_ms
        self._single: aioredis.Redis | None = None
        self._cluster: RedisCluster | None = None
        self._nodes: dict[str, aioredis.Redis] = {}  # master name -> its own plain connection pool
        self._stale = False
        self._replicas: dict[str, tuple[int, float]] = {}  # master name -> (connected replicas, when asked)
        self._expired: dict[str, list[str]] = {}  # psn -> expired marker fields seen by the last load
        self._loaded: dict[str, RedisSnapshot] = {}  # the last load's snapshots
        self._records: dict[str, dict[str, Any]] = {}  # their settlement records as read
        self._sha = hashlib.sha1(APPLY_LUA.encode()).hexdigest()
        self._start_lock = asyncio.Lock()

    @property
    def cluster(self) -> bool:
        return self._cluster is not None

    async def start(self) -> None:
        async with self._start_lock:
            if self._single is not None or self._cluster is not None:
                return
            if await is_cluster_async(self.url):
                cluster = RedisCluster.from_url(self.url, **redis_options(self.url))
                await cluster.initialize()
                self._cluster = cluster
            else:
                self._single = connect(self.url)

    async def close(self) -> None:
        if self._single is not None:
            await self._single.aclose()
        for c in self._nodes.values():
            await c.aclose()
        if self._cluster is not None:
            await self._cluster.aclose()

    async def _route(self, keys: list[str]) -> list[tuple[aioredis.Redis, int, list[int]]]:
        """(client, replicas of that node, indexes into `keys`) per node serving them."""
        if self._single is None and self._cluster is None:
            await self.start()
        if self._single is not None:
            return [(self._single, 0, list(range(len(keys))))]
        assert self._cluster is not None
        nm = self._cluster.nodes_manager
        if self._stale:
            await nm.initialize()
            self._stale = False
        groups: dict[str, tuple[aioredis.Redis, int, list[int]]] = {}
        for i, k in enumerate(keys):
            nodes = nm.slots_cache.get(key_slot(k.encode()))
            if not nodes:
                self._stale = True
                raise SlotNotCoveredError(f"no node serves the slot of {k}")
            primary = nodes[0]
            g = groups.get(primary.name)
            if g is None:
                client = self._nodes.get(primary.name)
                if client is None:
                    pool = aioredis.ConnectionPool(host=primary.host, port=int(primary.port),
                                                   connection_class=aioredis.SSLConnection if is_tls(self.url)
                                                   else HiredisPacking, **redis_options(self.url))
                    client = self._nodes[primary.name] = aioredis.Redis(connection_pool=pool)
                g = groups[primary.name] = (client, await self._connected_replicas(primary.name, client), [])
            g[2].append(i)
        return list(groups.values())

    async def _connected_replicas(self, name: str, client: aioredis.Redis) -> int:
        """The master's own count (INFO replication), asked again every few seconds: the slot map
        may be older than a replica's attachment, and a WAIT for a replica that is not there
        would hold every batch for its whole timeout."""
        now = time.monotonic()
        known = self._replicas.get(name)
        if known is None or now - known[1] > REPLICAS_TTL_S:
            info = await client.info("replication")
            known = self._replicas[name] = (int(info.get("connected_slaves", 0)), now)
        return known[0]

    async def _on_nodes(self, keys: list[str], run: Any) -> list[Any]:
        """Route `keys` to their nodes and run `run(group)` on every node concurrently; a cluster
        error anywhere (routing included) marks the slot map stale for the retry."""
        try:
            groups = await self._route(keys)
            if len(groups) == 1:
                return [await run(groups[0])]
            return list(await asyncio.gather(*(run(g) for g in groups)))
        except (MovedError, AskError, ClusterDownError, TryAgainError, SlotNotCoveredError,
                RedisConnectionError, RedisTimeoutError, OSError):
            if self._cluster is not None:
                self._stale = True
                self._replicas.clear()
            raise

    async def load_many(self, people: list[str]) -> dict[str, Snapshot]:
        keys = [person_key(p, self.key_prefix) for p in people]
        raws: list[Any] = [None] * len(keys)

        async def read(group: tuple[aioredis.Redis, int, list[int]]) -> None:
            client, _, idx = group
            async with client.pipeline(transaction=False) as pipe:
                for n in idx:
                    pipe.hgetall(keys[n])
                for n, raw in zip(idx, await pipe.execute(), strict=True):
                    raws[n] = raw

        await self._on_nodes(keys, read)
        loaded = {p: decode_person(r) for p, r in zip(people, raws, strict=True)}
        day = today()
        # dropped with each person's next write (lazily: a person with no new event keeps them)
        self._expired = {p: x for p, s in loaded.items() if (x := expired_markers(s, day))}
        # what was read: a chain's settlement years are written whole, from these records and the
        # chain's changes (records are replaced, never changed in place, so a shallow copy holds)
        self._loaded = loaded
        self._records = {p: dict(s.state.settlements) for p, s in loaded.items()}
        return dict(loaded)

    async def apply_many(self, items: list[PendingEvent]) -> list[tuple[int, str]]:
        """Apply (psn, version, event_id, fp, change, outputs) in order; one result per item.

        Several items of one person form a chain (versions v, v+1, ...), each computed on the
        state its predecessor left; they go to Redis in one script call (see APPLY_LUA).
        """
        if not items:
            return []
        groups: dict[str, list[int]] = {}
        for n, item in enumerate(items):
            groups.setdefault(item[0], []).append(n)
        calls = [self._call(psn, [items[n] for n in ns]) for psn, ns in groups.items()]
        replies = await self._run(calls)
        results: list[tuple[int, str]] = [(0, "")] * len(items)
        for ns, reply in zip(groups.values(), replies, strict=True):
            for k, n in enumerate(ns):
                val = reply[2 * k + 1]
                results[n] = (int(reply[2 * k]), val.decode() if isinstance(val, bytes) else str(val))
        return results

    def _call(self, psn: str, chain: list[PendingEvent]) -> tuple[list[str], list[Any]]:
        keys = [person_key(psn, self.key_prefix)] + [outputs_key(psn, eid, self.key_prefix)
                                                      for _, _, eid, _, _, _ in chain]
        args: list[Any] = [chain[0][1], self.outputs_ttl, len(chain)]
        day = today()
        drop = self._expired.pop(psn, None)
        snap = self._loaded.get(psn)
        years: dict[str, bytes | None] = {}
        if snap is not None:  # the records as this chain leaves them: its years' records, whole
            recs = dict(self._records.get(psn, {}))
            for _, _, _, _, c, _ in chain:
                for sid in c.drop_settlements:
                    recs.pop(sid, None)
                recs.update(c.settlements)
            touched = {year_of(r) for _, _, _, _, c, _ in chain for r in c.settlements.values()}
            for y in sorted(touched):
                years[f"S:{y}"] = year_value(recs, y)
            kept = next((c.kept_from for _, _, _, _, c, _ in reversed(chain) if c.kept_from), "")
            for f in snap.year_fields:
                if kept and f[2:] < kept[:4]:
                    years[f] = None  # a year out of the window
            if touched:
                drop = [*(drop or ()), *snap.legacy]  # earlier versions' records, now in S:<year>
        stamp = undated_markers(snap, day) if snap is not None else None
        last = len(chain) - 1
        for n, (_, _, eid, fp, change, outputs) in enumerate(chain):
            args += event_args(eid, fp, change, outputs, day, drop, years if n == last else None, stamp)
            drop = stamp = None
        return keys, args

    async def _run(self, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """EVALSHA every call, one pipeline per node (no SCRIPT EXISTS round trip per batch, as
        redis-py's Script would do); a call that finds the script gone (a restarted or newly
        promoted node) is sent again once the script is loaded there. Any other error is raised."""
        replies: list[Any] = [None] * len(calls)

        async def run(group: tuple[aioredis.Redis, int, list[int]]) -> None:
            client, replicas, todo = group
            for _ in range(3):
                async with client.pipeline(transaction=False) as pipe:
                    for n in todo:
                        keys, args = calls[n]
                        pipe.evalsha(self._sha, len(keys), *keys, *args)
                    if replicas:
                        pipe.execute_command("WAIT", 1, self.wait_timeout_ms)
                    got = await pipe.execute(raise_on_error=False)
                missing = []
                for n, r in zip(todo, got, strict=False):
                    if isinstance(r, NoScriptError):
                        missing.append(n)
                    elif isinstance(r, Exception):
                        raise r
                    else:
                        replies[n] = r
                if replicas:
                    await self._replicated(client, got[-1])
                if not missing:
                    return
                await client.script_load(APPLY_LUA)
                todo = missing
            raise NoScriptError("the apply script keeps disappearing from Redis")

        await self._on_nodes([keys[0] for keys, _ in calls], run)
        return replies

    async def _replicated(self, client: aioredis.Redis, acked: Any) -> None:
        """WAIT's answer: one replica has everything written so far, or the node has no replica
        connected (then only the master's fsynced AOF holds it, and no replica can be promoted
        with less than it). A lagging connected replica fails the batch, to be retried."""
        if isinstance(acked, Exception):
            raise acked
        if int(acked) >= 1:
            return
        info = await client.info("replication")
        self._replicas.clear()
        if int(info.get("connected_slaves", 0)):
            raise NotReplicated(f"no replica confirmed the batch's writes within {self.wait_timeout_ms} ms")

    async def outputs(self, psn_no: str, event_id: str) -> bytes | None:
        key = outputs_key(psn_no, event_id, self.key_prefix)
        person = person_key(psn_no, self.key_prefix)

        async def get(group: tuple[aioredis.Redis, int, list[int]]) -> Any:
            client, replicas, _ = group
            if not replicas:
                return await client.get(key)
            # Republishing what an earlier (maybe crashed) worker wrote: first make sure its write
            # is on the replica. WAIT counts this connection's writes, so write the version again.
            async with client.pipeline(transaction=False) as pipe:
                pipe.eval(TOUCH_LUA, 1, person)
                pipe.get(key)
                pipe.execute_command("WAIT", 1, self.wait_timeout_ms)
                _, got, acked = await pipe.execute()
            await self._replicated(client, acked)
            return got

        (v,) = await self._on_nodes([key], get)
        return v if v is None or isinstance(v, bytes) else str(v).encode()
