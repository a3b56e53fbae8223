"""faust-streaming App settings that work against Tansu (and real Kafka).

Measured on Tansu 0.6.0 + faust-streaming 0.15.3 + aiokafka 0.14 (see TANSU_NOTES.md).
Why each setting is here:
- processing_guarantee at_least_once: faust's exactly_once needs Kafka transactions,
  which Tansu's memory engine refuses, and it could never cover the Redis writes anyway.
- store memory://: we keep no faust Tables (state lives in Redis); no RocksDB, no
  changelog topics, no table recovery (faust #651/#432).
- topic_allow_declare False: topics are created by `ensure_topics` with the partition
  count we chose; faust must not create (or re-create) anything on its own.
- topic_disable_leader True: no `<id>-__assignor-__leader` topic (we need no leader).
- web_enabled False: no HTTP port per worker (two workers on one host would clash).
- fast mode: short session/heartbeat/rebalance timeouts so a killed worker's partitions
  move within seconds in tests; production keeps Kafka-like defaults.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from pathlib import Path
from typing import Any

from medassist.security.kafka import KafkaSecurity


def faust_app_kwargs(bootstrap: str, group_id: str, *, fast: bool = False,
                     datadir: str | Path | None = None) -> dict[str, Any]:
    """Keyword arguments for `faust.App(group_id, **kwargs)`.

    faust uses the App id as the Kafka consumer group id, so `group_id` must be
    passed as the App's first argument. `datadir` keeps faust's per-app directory
    out of the working directory (tests give each worker its own).
    """
    servers = ";".join(f"kafka://{hp}" for hp in bootstrap.split(","))
    kw: dict[str, Any] = {
        "broker": servers,
        "store": "memory://",
        "processing_guarantee": "at_least_once",
        "topic_allow_declare": False,
        "topic_disable_leader": True,
        "web_enabled": False,
        "autodiscover": False,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,  # all in-sync replicas (faust's own producer is not idempotent)
        "broker_max_poll_records": 500,  # bounded batches ease rebalance loops (notes)
        "stream_wait_empty": True,  # drain in-flight events before giving partitions up
        "worker_redirect_stdouts": False,
    }
    kw.update(KafkaSecurity.from_env().faust())  # TLS / SASL from MEDASSIST_KAFKA_* (security/kafka.py)
    if datadir is not None:
        kw["datadir"] = str(datadir)
    if fast:
        kw.update({
            # kill -9 -> survivor owns everything after ~session + 0.3 + 1..2 s join
            # (Tansu holds each JoinGroup ~1 s at session <= 1.5 s, ~2 s at 3 s)
            "broker_session_timeout": 2.0,
            "broker_heartbeat_interval": 0.4,
            "broker_rebalance_timeout": 4.0,  # how long a join waits for slow members
            "broker_request_timeout": 10.0,  # must be >= session timeout (faust checks)
            "broker_max_poll_interval": 10.0,
            "broker_commit_interval": 0.5,  # fewer redeliveries after a kill
            "stream_processing_timeout": 5.0,
        })
    else:
        kw.update({
            "broker_session_timeout": 10.0,
            "broker_heartbeat_interval": 2.0,
            "broker_rebalance_timeout": 30.0,
            "broker_request_timeout": 40.0,
            "broker_max_poll_interval": 300.0,
            "broker_commit_interval": 1.0,
        })
    return kw


def commit_on_revoke(app: Any) -> None:
    """Commit acked offsets when partitions are revoked.

    faust 0.15.3 flushes but does not commit on revoke, so a rebalance replays the
    survivor's own acked-but-uncommitted events (faust #502). Tansu accepts the
    commit while the group prepares to rebalance; with this the spike saw no
    survivor-side duplicates (only the killed worker's uncommitted events).
    """

    @app.on_partitions_revoked.connect
    async def _commit(sender: Any, revoked: Any, **kw: Any) -> None:
        await app.consumer.commit()


class _Resumed:
    """Awaiting this finishes a coroutine that already ran up to its first suspension."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self.coro, self.first = coro, first

    def __await__(self) -> Generator[Any, Any, Any]:
        pending, coro = self.first, self.coro
        while True:
            try:
                sent = yield pending
            except BaseException as e:  # noqa: BLE001 - cancellation too: hand it to the coroutine
                try:
                    pending = coro.throw(e)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    pending = coro.send(sent)
                except StopIteration as done:
                    return done.value


def eager_delivery() -> None:
    """Deliver each fetched message (to a stream, or to our intake) without four tasks per message.

    faust's fetch loop hands every message over through `wait_first(deliver(msg),
    suspend_flow.wait())`, which creates four tasks and an asyncio.wait per message
    (~15% of a worker's CPU at a backlog). Delivery almost always completes at once (the
    stream's queue has room), so we run it eagerly up to its first suspension; only a
    delivery that really has to wait (queue full) takes faust's own path, with the same
    semantics: the rest of it then races the flow suspension as before.
    """
    from faust.transport.consumer import Consumer
    from mode.services import WaitResults

    original = Consumer.wait_first
    if getattr(original, "eager", False):
        return

    async def wait_first(self: Any, *coros: Any, timeout: Any = None) -> Any:
        if len(coros) != 2 or timeout is not None or not asyncio.iscoroutine(coros[0]) \
                or self.should_stop or self._crashed.is_set():
            return await original(self, *coros, timeout=timeout)
        coro, other = coros
        try:
            first = coro.send(None)
        except StopIteration as done:
            if asyncio.iscoroutine(other):
                other.close()  # never awaited: close it so it is not reported as forgotten
            return WaitResults([coro], [done.value], False)
        return await original(self, _Resumed(coro, first), other)

    wait_first.eager = True  # type: ignore[attr-defined]
    Consumer.wait_first = wait_first  # type: ignore[method-assign]
