"""The ledger in Redis: one Lua script per posting, all of a county's keys under one hash tag.

  ml:{<ns>:<county>}:bal         hash  account -> balance (fen)
  ml:{<ns>:<county>}:done        hash  posting id -> fingerprint (idempotency, conflict detection)
  ml:{<ns>:<county>}:f:<YYYY-MM> hash  statement figures of the month (see book.py)
  ml:{<ns>:<county>}:months      set   months with postings
  ml:<ns>:counties               set   counties (outside the tag: written after, idempotently)

The script checks the id before its first write, so a posting is applied whole
or not at all, and a redelivered one changes nothing. The client may be a Redis Cluster
client (`state.redis_client.sync_client`): every script touches one hash tag, one slot.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from medassist.ledger.book import Balances, Flows
from medassist.ledger.postings import Posting

POST_LUA = """
local prev = redis.call('HGET', KEYS[2], ARGV[1])
if prev then
  if prev == ARGV[2] then return 1 end
  return 2
end
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('HINCRBY', KEYS[3], 'd:' .. ARGV[i], ARGV[i + 1])
  i = i + 2
end
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('HINCRBY', KEYS[3], 'n', 1)
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 0
"""


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


class RedisBook:
    def __init__(self, client: redis.Redis, namespace: str = "medassist") -> None:
        self.r = client
        self.ns = namespace

    def _k(self, county: str, suffix: str) -> str:
        return f"ml:{{{self.ns}:{county}}}:{suffix}"

    def post_many(self, postings: Sequence[Posting]) -> list[int]:
        """Outcome per posting (book.POSTED / DUPLICATE / CONFLICT); pipelined, each one atomic."""
        if not postings:
            return []
        pipe = self.r.pipeline(transaction=False)
        for p in postings:
            args: list[str | int] = [p.posting_id, p.fingerprint, p.month, len(p.legs)]
            for acct, fen in p.legs:
                args += [acct, fen]
            args.append(len(p.flows))
            for name, fen in p.flows:
                args += [name, fen]
            keys = [self._k(p.county, "bal"), self._k(p.county, "done"), self._k(p.county, f"f:{p.month}"),
                    self._k(p.county, "months")]
            # EVAL, not EVALSHA: a cluster pipeline cannot load a script on the node that lacks it
            # (a restarted or newly promoted master); Redis caches the compiled body by its hash.
            pipe.execute_command("EVAL", POST_LUA, len(keys), *keys, *args)  # ClusterPipeline.eval is disabled
        codes = [int(c) for c in pipe.execute()]
        self.r.sadd(f"ml:{self.ns}:counties", *sorted({p.county for p in postings}))
        return codes

    def posted(self, ids: Sequence[tuple[str, str]]) -> list[bool]:
        """Whether each (county, posting id) is in the book (one pipelined HGET each)."""
        pipe = self.r.pipeline(transaction=False)
        for county, pid in ids:
            pipe.hget(self._k(county, "done"), pid)
        return [v is not None for v in pipe.execute()] if ids else []

    def counties(self) -> list[str]:
        return sorted(_text(c) for c in self.r.smembers(f"ml:{self.ns}:counties"))

    def load_balances(self, counties: Sequence[str] | None = None) -> Balances:
        out: Balances = {}
        for c in counties if counties is not None else self.counties():
            out[c] = {_text(k): int(v) for k, v in self.r.hgetall(self._k(c, "bal")).items()}
        return out

    def load_flows(self) -> Flows:
        out: Flows = {}
        for c in self.counties():
            months = sorted(_text(m) for m in self.r.smembers(self._k(c, "months")))
            pipe = self.r.pipeline(transaction=False)
            for m in months:
                pipe.hgetall(self._k(c, f"f:{m}"))
            out[c] = {m: {_text(k): int(v) for k, v in raw.items()} for m, raw in zip(months, pipe.execute(),
                                                                                       strict=True)}
        return out
