"""`medassist bench stream`: the worker cluster against one embedded broker and redis-server.

Three figures from one run, on the same broker, so they can be read against each other:
- `ceiling_per_s`: plain aiokafka produce-all then consume-all of the very events the
  workers get (no faust, no Redis): what the broker and client allow at all;
- `per_s`: sustained events/s end to end: a backlog produced as fast as it goes, timed
  from the first send until the last of its decisions is consumed from the decisions topic
  (`settlements_per_s`: the settlements among them, over the same time);
- `p50_ms`/`p99_ms`: input produced -> its payment instruction consumed, at a fixed
  offered rate below saturation: `--rate` settlements/s (the aim's unit), the other events
  interleaved as generated (`offered_per_s` counts all events, `offered_settlements_per_s` those);
- `per_worker_cpu_s`: backlog events per CPU second the workers used (from /proc), the
  rate one dedicated core would give a worker: wall-clock rates on a shared machine are noisy;
  `redis_cpu_us_per_event`/`broker_cpu_us_per_event`: what the servers spent per backlog event.
Each phase uses its own people (psn_no prefixed W/B/L), so one consumer can tell its
phase's outputs by the message key. Expected output counts come from the in-memory
replay of the same events, so "all done" is exact, not a guess.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson

from medassist.bench.ceiling import raw_ceiling_async
from medassist.ops.cluster import WorkerProcess
from medassist.ops.embedded import RedisServer, TansuBroker, embedded_signing_keys
from medassist.population import population
from medassist.progress import Progress
from medassist.replay import Replayer
from medassist.stream.config import WorkerConfig
from medassist.stream.instructions import build as instruction_of
from medassist.stream.topics import Topics, ensure_topics

DEFAULT_EVENTS = 50_000
SETTLEMENT_SHARE = 0.84  # of generated events: sizes the latency run to LATENCY_SECONDS at --rate settlements/s
EVENTS_PER_PERSON = 11  # what `population` yields on average, a little under
PARTITIONS = 8
WARMUP_EVENTS = 2_000
LATENCY_SECONDS = 10.0
Msg = tuple[bytes, bytes]


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux /proc): the worker's own cost, whatever else runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase_events(prefix: str, people: int, seed: int, limit: int) -> list[Msg]:
    """(key, value) of generated events whose people carry `prefix`; a prefix of the stream
    (the generator yields person by person, so a cut never separates a reversal from its settlement)."""
    out: list[Msg] = []
    for ev in population(people, seed=seed):
        ev["psn_no"] = prefix + ev["psn_no"]
        out.append((ev["psn_no"].encode(), orjson.dumps(ev)))
        if len(out) >= limit:
            break
    return out


def is_settlement(value: bytes) -> bool:
    """Whether a generated event (orjson's compact text) is a settlement."""
    return b'"type":"settlement"' in value


def expected_outputs(msgs: list[Msg]) -> tuple[int, set[tuple[str, str]], int]:
    """(decisions, {(psn_no, event_id) of instructions}, settlements) replay gives for these events."""
    r = Replayer()
    decisions = settlements = 0
    ins: set[tuple[str, str]] = set()
    for _, value in msgs:
        settlements += is_settlement(value)
        for d in r.feed(value):
            decisions += 1
            i = instruction_of(d)
            if i is not None:
                ins.add((i["psn_no"], i["event_id"]))
    return decisions, ins, settlements


def _consumer(bootstrap: str, topic: str) -> Any:
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                            auto_offset_reset="earliest", fetch_max_wait_ms=5,
                            max_partition_fetch_bytes=4 * 1024 * 1024)


async def _assign_all(consumer: Any, topic: str) -> None:
    from aiokafka import TopicPartition

    await consumer.start()
    parts = consumer.partitions_for_topic(topic)
    while not parts:
        await asyncio.sleep(0.05)
        await consumer._client.force_metadata_update()  # no public way to wait for metadata
        parts = consumer.partitions_for_topic(topic)
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)


async def _producer(bootstrap: str, linger_ms: int) -> Any:
    from aiokafka import AIOKafkaProducer

    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=linger_ms,
                         max_batch_size=256 * 1024, enable_idempotence=False)
    await p.start()
    return p


async def count_outputs(bootstrap: str, topic: str, prefix: bytes, expected: int, timeout_s: float) -> float:
    """Consume `topic` until `expected` messages keyed with `prefix` arrived; returns the moment (perf_counter)."""
    consumer = _consumer(bootstrap, topic)
    await _assign_all(consumer, topic)
    got = 0
    deadline = time.monotonic() + timeout_s
    bar = Progress("bench stream: decisions", total=expected, unit="decisions")
    try:
        while got < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {got}/{expected} after {timeout_s:.0f}s")
            batch = await consumer.getmany(timeout_ms=200, max_records=20_000)
            for records in batch.values():
                got += sum(1 for r in records if r.key is not None and r.key.startswith(prefix))
            bar.set(got)
        return time.perf_counter()
    finally:
        bar.close()
        await consumer.stop()


async def produce_all(bootstrap: str, topic: str, msgs: list[Msg]) -> float:
    """Send everything as fast as the producer goes; returns the moment the first send started."""
    producer = await _producer(bootstrap, linger_ms=5)
    try:
        t0 = time.perf_counter()
        pending = []
        for key, value in msgs:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return t0
    finally:
        await producer.stop()


async def run_backlog(bootstrap: str, topics: Topics, msgs: list[Msg], prefix: bytes, decisions: int,
                      timeout_s: float) -> float:
    """Seconds from the first input sent to the last decision consumed."""
    counter = asyncio.create_task(count_outputs(bootstrap, topics.decisions, prefix, decisions, timeout_s))
    await asyncio.sleep(0.5)  # the counter is reading before anything is sent
    t0 = await produce_all(bootstrap, topics.events, msgs)
    t1 = await counter
    return t1 - t0


async def run_latency(bootstrap: str, topics: Topics, msgs: list[Msg], expected: set[tuple[str, str]],
                      rate: float, timeout_s: float) -> dict[str, Any]:
    """Offer `msgs` at `rate` settlements/s (the events between them go with them); latency of every
    payment instruction from its input's send."""
    sent: dict[tuple[str, str], float] = {}
    latencies: list[float] = []
    consumer = _consumer(bootstrap, topics.instructions)
    await _assign_all(consumer, topics.instructions)

    async def consume() -> None:
        while len(latencies) < len(expected):
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    if r.key is None or not r.key.startswith(b"L"):
                        continue
                    ins = orjson.loads(r.value)
                    t = sent.pop((ins["psn_no"], ins["event_id"]), None)
                    if t is not None:
                        latencies.append(now - t)

    reader = asyncio.create_task(consume())
    producer = await _producer(bootstrap, linger_ms=0)
    try:
        t0 = time.perf_counter()
        settlements = 0
        for key, value in msgs:
            settlements += is_settlement(value)
            due = t0 + settlements / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            ev = orjson.loads(value)
            sent[(ev["psn_no"], ev["event_id"])] = time.perf_counter()
            await producer.send(topics.events, value, key=key)
        offered_s = time.perf_counter() - t0
        await producer.flush()
        await asyncio.wait_for(reader, timeout_s)
    finally:
        reader.cancel()
        await producer.stop()
        await consumer.stop()
    lat = sorted(latencies)
    return {
        "offered_per_s": round(len(msgs) / offered_s),
        "offered_settlements_per_s": round(settlements / offered_s),
        "latency_samples": len(lat),
        "p50_ms": round(1000 * statistics.median(lat), 1),
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
        "max_ms": round(1000 * lat[-1], 1),
    }


async def _bench(bootstrap: str, redis_url: str, workdir: Path, workers: int, events: int, rate: float,
                 people: int, seed: int, servers: dict[str, int | None]) -> dict[str, Any]:
    topics = Topics(f"bench-{int(time.time() * 1000)}")
    await asyncio.to_thread(ensure_topics, bootstrap, topics.all(), PARTITIONS)
    warm = phase_events("W", WARMUP_EVENTS // EVENTS_PER_PERSON + 1, seed + 1, WARMUP_EVENTS)
    backlog = phase_events("B", people, seed, events)
    n_latency = int(rate * LATENCY_SECONDS / SETTLEMENT_SHARE)
    lat_msgs = phase_events("L", n_latency // EVENTS_PER_PERSON + 1, seed + 2, n_latency)
    warm_d, _, _ = expected_outputs(warm)
    back_d, _, back_settlements = expected_outputs(backlog)
    _, lat_ins, _ = expected_outputs(lat_msgs)

    _say(f"ceiling: raw aiokafka produce + consume of the {len(backlog)} backlog events")
    ceiling = await raw_ceiling_async(bootstrap, partitions=PARTITIONS, messages=backlog)
    _say(f"  {ceiling['ceiling_per_s']}/s (produce {ceiling['produce_per_s']}/s, "
         f"consume {ceiling['consume_per_s']}/s)")

    cfg = WorkerConfig(bootstrap=bootstrap, redis_url=redis_url, topics=topics, group=f"{topics.prefix}-workers",
                       partitions=PARTITIONS, fast_rebalance=True, datadir=str(workdir / "faust"),
                       metrics_port=0)
    embedded_signing_keys(workdir)  # the workers sign every instruction, as in production
    procs = [WorkerProcess(cfg, f"bench-worker-{i}", workdir).start() for i in range(workers)]
    try:
        _say(f"warm-up: {len(warm)} events through {workers} worker(s)")
        await run_backlog(bootstrap, topics, warm, b"W", warm_d, 120.0)
        if workers > 1:
            await asyncio.sleep(3.0)  # let a late joiner's rebalance settle before the clock runs
        _say(f"sustained: a backlog of {len(backlog)} events ({back_settlements} settlements)")
        pids = [p.proc.pid for p in procs if p.proc is not None]
        cpu0 = sum(cpu_seconds(pid) for pid in pids)
        server_cpu0 = {name: cpu_seconds(pid) for name, pid in servers.items() if pid}
        seconds = await run_backlog(bootstrap, topics, backlog, b"B", back_d, 1800.0)
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
        # the servers' share: on a shared box they compete with the worker for the same cores
        server_us = {f"{name}_cpu_us_per_event": round(1e6 * (cpu_seconds(servers[name] or 0) - c0) / len(backlog))
                     for name, c0 in server_cpu0.items()}
        per_s = len(backlog) / seconds
        _say(f"  {per_s:.0f} events/s, {back_settlements / seconds:.0f} settlements/s "
             f"({per_s / workers:.0f}/s per worker); workers used {cpu:.1f} CPU s: "
             f"{len(backlog) / cpu:.0f} events per CPU second; servers' CPU per event (us): {server_us}")
        _say(f"latency: {len(lat_msgs)} events offered at {rate:.0f} settlements/s")
        lat = await run_latency(bootstrap, topics, lat_msgs, lat_ins, rate, 120.0)
        _say(f"  p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms over {lat['latency_samples']} instructions "
             f"({lat['offered_settlements_per_s']} settlements/s, {lat['offered_per_s']} events/s offered)")
        if not all(p.alive for p in procs):
            raise RuntimeError("a worker exited during the benchmark; see its log")
    finally:
        for p in procs:
            p.stop()
    return {
        "workers": workers, "events": len(backlog), "settlements": back_settlements,
        "seconds": round(seconds, 2), "per_s": round(per_s), "per_worker_per_s": round(per_s / workers),
        "settlements_per_s": round(back_settlements / seconds),
        # what one fully-available core gives a worker, however busy the machine was
        "per_worker_cpu_s": round(len(backlog) / cpu), "worker_cpu_s": round(cpu, 2), **server_us,
        "ceiling_per_s": ceiling["ceiling_per_s"], "ceiling_produce_per_s": ceiling["produce_per_s"],
        "ceiling_consume_per_s": ceiling["consume_per_s"],
        "ratio_to_ceiling": round(per_s / ceiling["ceiling_per_s"], 3),
        **lat, "partitions": PARTITIONS, "payload_bytes": ceiling["payload_bytes"],
    }


def main(args: argparse.Namespace) -> dict[str, Any]:
    workers = getattr(args, "workers", None) or 1
    events = getattr(args, "events", None) or DEFAULT_EVENTS
    rate = getattr(args, "rate", None) or 500.0
    people = getattr(args, "people", None) or events // EVENTS_PER_PERSON + 1
    seed = getattr(args, "seed", None) or 7
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="medassist-bench-")))
        broker = stack.enter_context(TansuBroker(workdir=workdir / "tansu"))
        redis = stack.enter_context(RedisServer(workdir=workdir / "redis"))
        _say(f"Tansu on {broker.bootstrap}, redis-server on {redis.url} (AOF, appendfsync always)")
        servers = {"redis": redis.pid, "broker": broker.pid}
        return asyncio.run(_bench(broker.bootstrap, redis.url, workdir, workers, events, rate, people, seed, servers))
