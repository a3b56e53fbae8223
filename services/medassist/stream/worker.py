"""The streaming worker: a faust agent around `Processor`.

One agent, concurrency 1 (faust #606: concurrent actors can commit past an event
still in flight). Messages reach it through `intake.BatchIntake`, which keeps fetching
while a batch runs. Each batch: process (Redis applied atomically per event) ->
publish every output with an idempotent producer and wait for the acks -> only
then ack the input events, so a crash anywhere redelivers, never loses. Redis or
Kafka failures retry the same batch, which is safe because the batch is idempotent.
Anything else (a bug, corrupt state) ends the process with EXIT_AGENT_CRASHED: faust
would log "Agent crashed" and live on idle, holding unacked events and letting later
events of the same people overtake them. A supervisor restarts us; nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import start_http_server
from redis.exceptions import RedisError

from medassist.engine.decide import Engine
from medassist.engine.policy import load_policies
from medassist.security.kafka import KafkaSecurity
from medassist.security.signing import signer_from_env
from medassist.state.redis_store import RedisStore
from medassist.stream.batch_publish import BatchPublisher
from medassist.stream.config import WorkerConfig
from medassist.stream.faust_settings import commit_on_revoke, eager_delivery, faust_app_kwargs
from medassist.stream.intake import BatchIntake
from medassist.stream.metrics import Metrics
from medassist.stream.processor import InMessage, OutMessage, Processor

log = logging.getLogger("medassist.worker")

RETRY_DELAYS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
HOLD_S = 5.0  # pause between rounds of retries while Redis or Kafka stays down
BUFFERED_BATCHES = 4  # messages fetched ahead of the running batch, in batches
EXIT_AGENT_CRASHED = 70  # EX_SOFTWARE: the agent hit an error that retrying cannot fix
TRANSIENT = (RedisError, ConnectionError, OSError, KafkaError)  # outages: hold the batch and retry


def die(exc: BaseException) -> None:
    """End the process now, non-zero, so that a supervisor restarts it.

    os._exit rather than a graceful stop: a graceful stop waits for in-flight events
    to be acked (stream_wait_empty), and the crashed batch never will be. Nothing is
    lost: unacked events are redelivered, Redis writes are atomic per event, outputs
    are re-published from what was stored.
    """
    log.critical("agent crashed, exiting with %d: %r", EXIT_AGENT_CRASHED, exc, exc_info=exc)
    for h in logging.getLogger().handlers:
        h.flush()
    sys.stderr.flush()
    os._exit(EXIT_AGENT_CRASHED)


async def start_producer(bootstrap: str) -> AIOKafkaProducer:
    """An idempotent producer where the broker grants a producer id, else a plain acks=all one.

    Tansu's memory engine answers aiokafka's InitProducerId with UNKNOWN_SERVER_ERROR.
    Without idempotence a retried send may duplicate a message; that is safe here
    because every output carries a deterministic id that consumers deduplicate on.
    """
    servers = bootstrap.split(",")
    common: dict[str, Any] = {"acks": "all", "linger_ms": 2, "max_batch_size": 256 * 1024,
                              **KafkaSecurity.from_env().aiokafka()}
    producer = AIOKafkaProducer(bootstrap_servers=servers, enable_idempotence=True, **common)
    try:
        await producer.start()
        return producer
    except KafkaError as e:
        await producer.stop()
        log.warning("broker refused an idempotent producer (%r); using acks=all without it", e)
    producer = AIOKafkaProducer(bootstrap_servers=servers, enable_idempotence=False, **common)
    await producer.start()
    return producer


def limit_fetch_wait(ms: int) -> None:
    """Make faust's consumer long-poll at most `ms` instead of its hard-coded 1500 ms.

    Tansu answers a fetch when the wait expires, not when data arrives, so every event
    waited ~400 ms in the broker (measured: p50 390 ms at 200/s; 20 ms -> p50 ~15 ms).
    Real Kafka returns early anyway, so a short wait only costs idle fetches.
    """
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    create = AIOKafkaConsumerThread._create_worker_consumer
    if getattr(create, "fetch_wait_ms", None) == ms:
        return

    def create_limited(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = ms  # read when the consumer starts its fetcher
        return consumer

    create_limited.fetch_wait_ms = ms  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._create_worker_consumer = create_limited  # type: ignore[method-assign]


def build_app(cfg: WorkerConfig) -> faust.App:
    limit_fetch_wait(cfg.fetch_max_wait_ms)
    eager_delivery()
    datadir = Path(cfg.datadir) / cfg.worker_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(cfg.group, **faust_app_kwargs(cfg.bootstrap, cfg.group, fast=cfg.fast_rebalance,
                                                   datadir=datadir))
    commit_on_revoke(app)  # fewer replays of our own finished events after a rebalance
    topic = app.topic(cfg.topics.events, key_type=bytes, value_type=bytes,
                      key_serializer="raw", value_serializer="raw")
    metrics = Metrics()
    engine = Engine(load_policies())  # a bad policy file stops the worker at start, loudly
    signer = signer_from_env()  # so does a missing or unreadable signing key (one line: cli.main)
    ctx: dict[str, Any] = {}

    lock = asyncio.Lock()

    async def ensure_started() -> None:
        # Created inside the agent, on faust's event loop (the clients bind to the running loop).
        async with lock:
            if "processor" in ctx:
                return
            if cfg.metrics_port:
                start_http_server(cfg.metrics_port, registry=metrics.registry)
            producer = await start_producer(cfg.bootstrap)
            store = RedisStore(cfg.redis_url, key_prefix=cfg.redis_prefix)
            await store.start()  # one redis-server or a Redis Cluster: asked of the server, no flag
            processor = Processor(engine, store, cfg.topics, metrics, signer=signer)
            ctx.update(producer=producer, store=store, processor=processor, publisher=BatchPublisher(producer))

    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # faust's stubs want a sync receiver
    async def _stop(app_: Any, **_: Any) -> None:
        if "producer" in ctx:
            await ctx["producer"].stop()
            await ctx["store"].close()

    async def publish(outs: list[OutMessage]) -> None:
        await ctx["publisher"].publish(outs)

    async def handle(batch: list[InMessage]) -> None:
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None)):
            try:
                outs = await ctx["processor"].handle(batch)
            except (RedisError, ConnectionError, OSError) as e:
                metrics.redis_errors.inc()
                if delay is None:
                    raise
                log.warning("redis failed (attempt %d): %s; retrying the batch", attempt + 1, e)
                await asyncio.sleep(delay)
                continue
            try:
                await publish(outs)
                return
            except Exception as e:  # noqa: BLE001 - any produce failure: retry the whole batch
                metrics.kafka_errors.inc()
                if delay is None:
                    raise
                log.warning("publish failed (attempt %d): %s; retrying the batch", attempt + 1, e)
                await asyncio.sleep(delay)
        # unreachable: the last attempt either returned or raised

    intake = BatchIntake(app, cfg.topics.events, max_buffered=BUFFERED_BATCHES * cfg.batch_size)
    intake.install()

    @app.agent(topic, concurrency=1)
    async def settle(stream: Any) -> None:
        # The agent subscribes the topic (faust's group, fetching and commits); its messages arrive
        # through `intake`, filled while we work on the previous batch, never through `stream`.
        try:
            await ensure_started()
            while True:
                messages = await intake.take(cfg.batch_size)
                batch = [InMessage(m.partition, m.offset, m.key, m.value,
                                   int(m.timestamp * 1000) if m.timestamp else None, m.headers)
                         for m in messages]
                with metrics.batch_seconds.time():
                    while True:
                        try:
                            await handle(batch)
                            break
                        except TRANSIENT as e:
                            # Still failing after every retry: keep the events (never ack them), wait, go
                            # on trying; the lag metric and the error counters tell the on-call SRE.
                            log.error("batch still failing, holding it: %r", e)
                            await asyncio.sleep(HOLD_S)
                intake.ack(messages)
        except asyncio.CancelledError:
            raise  # faust stopping or restarting the agent: not a crash
        except Exception as e:  # noqa: BLE001 - anything else: exit so a supervisor restarts us
            die(e)

    @app.timer(interval=2.0)
    async def _lag() -> None:
        # Lag = the partition's high watermark minus the next offset we will commit (what a
        # restart would resume from): it counts both unread and read-but-unfinished events.
        consumer = app.consumer
        try:
            current: dict[tuple[str, int], int] = {}
            for tp in consumer.assignment():
                if tp.topic != cfg.topics.events:
                    continue
                high = consumer.highwater(tp)
                committed = consumer._committed_offset.get(tp)  # type: ignore[attr-defined]  # no public accessor
                if high is not None:
                    done = committed if committed is not None else 0
                    current[(tp.topic, tp.partition)] = high - done
            metrics.set_lag(current)  # also drops partitions revoked by a rebalance
        except Exception as e:  # noqa: BLE001 - a metric must never stop the worker
            log.debug("lag metric unavailable: %s", e)

    app.conf.medassist_metrics = metrics  # type: ignore[attr-defined]
    return app


def run_worker(cfg: WorkerConfig, loglevel: str = "WARNING") -> None:
    from faust.worker import Worker

    logging.basicConfig(level=getattr(logging, loglevel.upper(), logging.WARNING))
    app = build_app(cfg)
    worker = Worker(app, loglevel=loglevel, redirect_stdouts=False)
    # No terminal spinner: it sets the root logger to DEBUG so that every record spins it,
    # and aiokafka's per-message debug records then cost more than deciding the event.
    worker.spinner = None
    worker.execute_from_commandline()
