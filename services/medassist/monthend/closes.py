"""Closed months in Redis: written once, atomically, and read back unchanged forever after.

`ma:close:{<ns>}:{month}` (the namespace is a hash tag: every close of one deployment sits in one Redis
Cluster slot, as the WATCH/MULTI below needs) holds the whole close (statements, the instruction ids it included,
the 3202 detail rows, the counties' fund statements with the ledger flows they count, the
warning ids pushed) as one compressed value, and `ma:close:{<ns>}:months` the set of closed
months. Both are written in one MULTI/EXEC guarded by WATCH on both keys, so two closers
racing on the same month store one close between them (the loser reads the winner's), and
a close computed while another month was being closed is recomputed, never double-counting
a late instruction.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
import redis

PREFIX = "ma:close:"


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class CloseStore:
    """Needs a client that returns bytes (no decode_responses): the closes are compressed."""

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.r = client
        self.ns = namespace  # the topic prefix: deployments sharing a Redis keep apart

    def _key(self, month: str) -> str:
        return f"{PREFIX}{{{self.ns}}}:{month}"

    @property
    def _months_key(self) -> str:
        return f"{PREFIX}{{{self.ns}}}:months"

    def closed_months(self) -> set[str]:
        return {_text(m) for m in self.r.smembers(self._months_key)}

    def get(self, month: str) -> dict[str, Any] | None:
        raw = self.r.get(self._key(month))
        return None if raw is None else orjson.loads(zlib.decompress(raw))  # type: ignore[arg-type]

    def records(self) -> dict[str, dict[str, Any]]:
        """Every stored close, by month."""
        out = {}
        for m in sorted(self.closed_months()):
            rec = self.get(m)
            if rec is not None:
                out[m] = rec
        return out

    def included(self) -> set[str]:
        """Every instruction id on any closed statement."""
        return {i for rec in self.records().values() for i in rec["instruction_ids"]}

    def put_once(self, month: str, record: dict[str, Any],
                 seen_months: set[str]) -> tuple[dict[str, Any], bool] | None:
        """Store `record` unless the month is closed already: (the stored close, stored now?).

        `seen_months` are the closed months `record` was computed with. Returns None when
        another month has been closed since: `record` did not know what that close included,
        so the caller must compute it again.
        """
        key = self._key(month)
        blob = zlib.compress(orjson.dumps(record), 6)
        with self.r.pipeline(transaction=True) as p:  # explicit: a cluster pipeline defaults to none
            try:
                p.watch(key, self._months_key)
                if not p.exists(key):
                    now = {_text(m) for m in p.smembers(self._months_key)}
                    if now != seen_months:
                        p.unwatch()
                        return None
                    p.multi()
                    p.set(key, blob)
                    p.sadd(self._months_key, month)
                    p.execute()
                    return record, True
                p.unwatch()
            except redis.WatchError:
                pass
        stored = self.get(month)
        return None if stored is None else (stored, False)
