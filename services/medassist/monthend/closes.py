"""Closed months in Redis: written once, atomically, and read back unchanged forever after.

`ma:close:{<ns>}:{month}` (the namespace is a hash tag: every close of one deployment sits in one Redis
Cluster slot, as the WATCH/MULTI below needs) holds the close (statements, where it read the
instructions topic to, the counties' fund statements with the ledger flows they count, the
warning ids pushed) as one compressed value, `ma:close:{<ns>}:{month}:details` the 3202 detail
rows (a hash: institution -> compressed rows, read one institution at a time), and
`ma:close:{<ns>}:months` the set of closed months. The rows are staged under a key of their own
first, one institution at a time; then one MULTI/EXEC guarded by WATCH on the close and the set
renames them into place, stores the close and adds the month. So two closers racing on the same
month store one close between them (the loser reads the winner's and drops its staging), and a
close computed while another month was being closed is recomputed, never double-counting a
late instruction.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterable
from typing import Any

import orjson
import redis

PREFIX = "ma:close:"
STAGE_BATCH = 50  # institutions per pipeline while staging the detail rows


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class CloseStore:
    """Needs a client that returns bytes (no decode_responses): the closes are compressed."""

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.r = client
        self.ns = namespace  # the topic prefix: deployments sharing a Redis keep apart

    def _key(self, month: str) -> str:
        return f"{PREFIX}{{{self.ns}}}:{month}"

    def _details_key(self, month: str) -> str:
        return f"{PREFIX}{{{self.ns}}}:{month}:details"

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

    def details(self, month: str, code: str) -> dict[str, int]:
        """The 3202 rows (setl_id -> net fen) of one institution in a stored close."""
        raw = self.r.hget(self._details_key(month), code)
        if raw is not None:
            return orjson.loads(zlib.decompress(raw))  # type: ignore[arg-type,no-any-return]
        legacy = (self.get(month) or {}).get("details") or {}  # closes stored with the rows inline
        return dict(legacy.get(code, {}))

    def put_once(self, month: str, record: dict[str, Any], seen_months: set[str],
                 details: Iterable[tuple[str, dict[str, int]]] = ()) -> tuple[dict[str, Any], bool] | None:
        """Store `record` (and its detail rows) unless the month is closed already: (the stored
        close, stored now?).

        `seen_months` are the closed months `record` was computed with. Returns None when
        another month has been closed since: `record` did not know what that close included,
        so the caller must compute it again.
        """
        key, dkey = self._key(month), self._details_key(month)
        if self.r.exists(key):
            stored = self.get(month)
            return None if stored is None else (stored, False)
        stage = f"{dkey}:stage:{uuid.uuid4().hex}"
        staged = self._stage(stage, details)
        blob = zlib.compress(orjson.dumps(record), 6)
        try:
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
                        if staged:
                            p.execute_command("RENAME", stage, dkey)  # ClusterPipeline.rename is blocked
                        p.sadd(self._months_key, month)
                        p.execute()
                        return record, True
                    p.unwatch()
                except redis.WatchError:
                    pass
        finally:
            self.r.delete(stage)  # gone already when it was renamed into place
        stored = self.get(month)
        return None if stored is None else (stored, False)

    def _stage(self, stage: str, details: Iterable[tuple[str, dict[str, int]]]) -> int:
        n = 0
        pipe = self.r.pipeline(transaction=False)
        for code, rows in details:
            pipe.hset(stage, code, zlib.compress(orjson.dumps(rows), 6))
            n += 1
            if n % STAGE_BATCH == 0:
                pipe.execute()
        pipe.execute()
        return n


class StoredDetails:
    """The detail rows of a stored close, fetched per institution when reconciliation asks."""

    def __init__(self, store: CloseStore, month: str) -> None:
        self.store, self.month = store, month

    def get(self, code: str, default: Any = None) -> Any:
        rows = self.store.details(self.month, code)
        return rows if rows else default
