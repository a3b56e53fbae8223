"""Fault tests of the streaming cluster: exactly-once effects under crashes.

Real Tansu broker, real redis-server (AOF, appendfsync always), real `medassist worker`
processes. Events of a seeded population are offered at a bounded rate so that faults
land mid-stream, at points picked by a seeded generator (MEDASSIST_FAULT_SEED replays a
seed's choices; timing on a shared machine still varies). After each scenario the one
history checker (history.py) compares everything published, and Redis, with replay.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from history import Expected, check
from medassist.engine.decide import Engine
from medassist.engine.policy import load_policies
from medassist.ops.cluster import WorkerProcess, committed_total, wait_processed
from medassist.ops.embedded import RedisServer, TansuBroker, free_port
from medassist.ops.redis_cluster import LocalRedisCluster
from medassist.state.redis_store import RedisStore, person_key
from medassist.stream.config import WorkerConfig
from medassist.stream.feed import feed_lines
from medassist.stream.metrics import Metrics
from medassist.stream.processor import InMessage, OutMessage, Processor
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, ensure_topics
from medassist.stream.worker import EXIT_AGENT_CRASHED

pytestmark = [pytest.mark.integration, pytest.mark.fault]

SEED = int(os.environ.get("MEDASSIST_FAULT_SEED", "20261123"))
RATE = 400  # events/s offered: slow enough that every fault lands mid-stream
SETTLE_TIMEOUT_S = 60.0


def events_of(people: int, seed: int) -> list[dict[str, Any]]:
    from medassist.population import population

    return list(population(people, seed=seed))


class Cluster:
    """Workers of one consumer group on the test's topics, a paced feeder, progress."""

    def __init__(self, broker: TansuBroker, redis: RedisServer | LocalRedisCluster, topics: Topics, tmp: Path,
                 partitions: int) -> None:
        self.cfg = WorkerConfig(bootstrap=broker.bootstrap, redis_url=redis.url, topics=topics,
                                group=f"{topics.prefix}-workers", partitions=partitions, batch_size=100,
                                metrics_port=0, fast_rebalance=True, datadir=str(tmp / "faust"))
        self.tmp = tmp
        self.workers: dict[str, WorkerProcess] = {}
        self.feeder: threading.Thread | None = None
        self.fed = 0
        ensure_topics(broker.bootstrap, topics.all(), partitions)

    def start(self, wid: str, metrics: bool = False) -> WorkerProcess:
        self.workers[wid] = WorkerProcess(self.cfg, wid, self.tmp, free_port() if metrics else 0).start()
        return self.workers[wid]

    def feed(self, events: list[dict[str, Any]], rate: float = RATE, burst: range = range(0)) -> None:
        """Produce `events` in order from a thread, at most `rate` per second, except the
        events at indexes in `burst`, sent at once (a backlog the workers are busy with)."""
        def paced() -> Iterator[bytes]:
            t0 = time.monotonic()
            for i, ev in enumerate(events):
                ahead = t0 + (i - len(burst[:i])) / rate - time.monotonic()
                if ahead > 0 and i not in burst:
                    time.sleep(ahead)
                self.fed = i + 1
                yield orjson.dumps(ev)

        self.feeder = threading.Thread(target=feed_lines, args=(self.cfg.bootstrap, self.cfg.topics.events,
                                                                paced()), daemon=True)
        self.feeder.start()

    def progress(self) -> int:
        try:
            return committed_total(self.cfg.bootstrap, self.cfg.group, self.cfg.topics.events)
        except Exception:  # noqa: BLE001 - the group is between generations: ask again
            return -1

    def wait_progress(self, at_least: int, timeout_s: float = SETTLE_TIMEOUT_S) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = self.progress()
            if done >= at_least:
                return done
            self.assert_no_crash()
            time.sleep(0.1)
        raise AssertionError(f"progress stuck below {at_least} after {timeout_s}s\n{self.log_tails()}")

    def finish(self, n_events: int) -> float:
        assert self.feeder is not None
        self.feeder.join(60)
        assert not self.feeder.is_alive(), "feeder did not finish"
        try:
            return wait_processed(self.cfg.bootstrap, self.cfg.group, self.cfg.topics.events, n_events,
                                  SETTLE_TIMEOUT_S, list(self.workers.values()), progress=False)
        except (TimeoutError, RuntimeError) as e:
            raise AssertionError(f"{e}\n{self.log_tails()}") from e

    def outputs(self) -> tuple[list[bytes], list[bytes]]:
        b, t = self.cfg.bootstrap, self.cfg.topics
        return list(read_topic(b, t.decisions)), list(read_topic(b, t.instructions))

    def logs(self) -> str:
        return "".join(w.log_path.read_text(errors="replace") for w in self.workers.values()
                       if w.log_path.exists())

    def log_tails(self, n: int = 25) -> str:
        return "\n".join(f"--- {w.log_path.name}\n" + "\n".join(
            w.log_path.read_text(errors="replace").splitlines()[-n:]) for w in self.workers.values()
            if w.log_path.exists())

    def assert_no_crash(self) -> None:
        """The worker never stops for good: no agent crash, no process that exited on its own."""
        assert "Agent crashed" not in self.logs() and "agent crashed" not in self.logs(), self.log_tails()
        for w in self.workers.values():
            if w.proc is not None and w.proc.returncode not in (None, -9):
                raise AssertionError(f"{w.worker_id} exited with {w.proc.returncode}\n{self.log_tails()}")

    def stop(self) -> None:
        for w in self.workers.values():
            w.stop()


Factory = Callable[..., Cluster]


@pytest.fixture
def cluster_factory(kafka_broker: TansuBroker, topics: Topics, tmp_path: Path,
                    request: pytest.FixtureRequest) -> Iterator[Factory]:
    """make(partitions, redis=None): workers on `redis`, by default the test's redis_server."""
    made: list[Cluster] = []

    def make(partitions: int, redis: RedisServer | LocalRedisCluster | None = None) -> Cluster:
        target = redis if redis is not None else request.getfixturevalue("redis_server")
        made.append(Cluster(kafka_broker, target, topics, tmp_path, partitions))
        return made[-1]

    yield make
    for c in made:
        c.stop()


def verify(name: str, cluster: Cluster, events: list[dict[str, Any]], redis: RedisServer | LocalRedisCluster,
           seconds: float) -> None:
    cluster.assert_no_crash()
    decisions, instr = cluster.outputs()
    rep = check(Expected.of(events), decisions, instr, redis.client())
    print(f"\n[{name}] seed={SEED} events={len(events)} processed in {seconds:.1f}s after feed; "
          f"decisions {rep.unique_decisions} ({rep.decision_messages} messages), instructions "
          f"{rep.unique_instructions} ({rep.instruction_messages} messages), duplicate messages {rep.duplicates}")
    assert not rep.problems, "\n".join(rep.problems)
    assert rep.unique_instructions > 100  # the scenario really moved money


def kill_points(rng: random.Random, n_events: int, k: int) -> list[int]:
    return sorted(int(n_events * rng.uniform(0.1, 0.8)) for _ in range(k))


def test_kill9_one_worker_at_random_points_and_restart(cluster_factory: Factory,
                                                       redis_any: RedisServer | LocalRedisCluster) -> None:
    """On one redis-server and on a Redis Cluster (3 masters, a replica each)."""
    rng = random.Random(SEED)
    events = events_of(400, seed=SEED % 1000)
    c = cluster_factory(4, redis_any)
    w = c.start("w0")
    c.feed(events)
    points = kill_points(rng, len(events), 3)
    for n, point in enumerate(points):
        c.wait_progress(point)
        time.sleep(rng.uniform(0.0, 0.3))  # land anywhere inside a batch
        w.kill()
        assert w.proc is not None and w.proc.returncode == -9
        time.sleep(rng.uniform(0.0, 1.0))
        w = c.start(f"w0-r{n + 1}")
    verify("kill9", c, events, redis_any, c.finish(len(events)))


def test_three_workers_one_killed_one_zombie_fenced(cluster_factory: Factory,
                                                    redis_server: RedisServer) -> None:
    rng = random.Random(SEED + 1)
    events = events_of(450, seed=SEED % 1000 + 1)
    n = len(events)
    c = cluster_factory(6)
    ws = [c.start(f"w{i}", metrics=True) for i in range(3)]
    burst_at = int(n * rng.uniform(0.45, 0.55))
    c.feed(events, burst=range(burst_at, burst_at + 600))
    c.wait_progress(int(n * rng.uniform(0.15, 0.3)))
    ws[0].kill()  # its partitions move to the others after the session timeout

    while c.fed < burst_at + 300:  # freeze it while it is busy with a backlog
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.1))
    names = ("medassist_redeliveries_total", "medassist_state_conflicts_total", "medassist_events_total")
    zombie_before = scrape(ws[1], names)
    ws[1].pause()  # a zombie: keeps its sockets and its in-flight batch, answers nothing
    before = c.wait_progress(0)
    time.sleep(c_session_timeout() + 4.0)
    moved_on = c.wait_progress(before + 50)  # the group went on without it
    ws[1].resume()  # its late writes must be refused or be exactly what was decided
    c.start("w0-r1")  # and the killed one comes back
    seconds = c.finish(n)
    assert moved_on > before
    assert ws[1].alive and ws[2].alive
    verify("group", c, events, redis_server, seconds)
    zombie = scrape(ws[1], names)
    print(f"[group] zombie after waking: {({k: v - zombie_before[k] for k, v in zombie.items()})}")


def scrape(w: WorkerProcess, names: tuple[str, ...]) -> dict[str, float]:
    """Counters from a worker's /metrics (for the printed figures of a scenario)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{w.metrics_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {n: sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(n)) for n in names}


def c_session_timeout() -> float:
    from medassist.stream.faust_settings import faust_app_kwargs

    return float(faust_app_kwargs("x:1", "g", fast=True)["broker_session_timeout"])


def test_redis_restarts_mid_stream(cluster_factory: Factory, redis_server: RedisServer) -> None:
    rng = random.Random(SEED + 2)
    events = events_of(400, seed=SEED % 1000 + 2)
    n = len(events)
    c = cluster_factory(4)
    ws = [c.start(f"w{i}") for i in range(2)]
    c.feed(events)
    c.wait_progress(int(n * rng.uniform(0.2, 0.35)))
    redis_server.restart(hard=True)  # kill -9: only what appendfsync always made durable survives
    c.wait_progress(int(n * rng.uniform(0.5, 0.65)))
    redis_server.stop()  # a clean stop, and down for a while: workers hold their batches
    time.sleep(3.0)
    redis_server.start()
    seconds = c.finish(n)
    assert all(w.alive for w in ws)
    verify("redis-restart", c, events, redis_server, seconds)


def test_broker_frozen_mid_stream(cluster_factory: Factory, redis_server: RedisServer,
                                  kafka_broker: TansuBroker) -> None:
    """The broker stops answering for a while (SIGSTOP): publishes and commits fail or stall,
    sessions lapse; the workers hold their batches and carry on when it answers again."""
    rng = random.Random(SEED + 4)
    events = events_of(300, seed=SEED % 1000 + 4)
    n = len(events)
    c = cluster_factory(4)
    ws = [c.start(f"w{i}") for i in range(2)]
    c.feed(events)
    c.wait_progress(int(n * rng.uniform(0.3, 0.5)))
    kafka_broker.pause()
    try:
        time.sleep(rng.uniform(3.0, 5.0))
    finally:
        kafka_broker.resume()
    seconds = c.finish(n)
    assert all(w.alive for w in ws)
    verify("broker-frozen", c, events, redis_server, seconds)


def test_agent_crash_exits_nonzero_and_restart_recovers(cluster_factory: Factory,
                                                        redis_server: RedisServer) -> None:
    """Corrupt state (a non-integer accumulator) is not an outage: the worker must exit, not idle."""
    events = events_of(40, seed=SEED % 1000 + 3)
    victim = events[0]["psn_no"]
    r = redis_server.client()
    r.hset(person_key(victim), "a:2023:burden", b"not-a-number")
    c = cluster_factory(2)
    w = c.start("w0")
    c.feed(events, rate=2000)
    assert w.proc is not None
    code = w.proc.wait(SETTLE_TIMEOUT_S)
    assert code == EXIT_AGENT_CRASHED, c.log_tails()
    assert "agent crashed, exiting with 70" in c.logs()
    assert "invalid literal for int()" in c.logs()

    r.hdel(person_key(victim), "a:2023:burden")  # the operator repairs the record
    w.proc = None
    c.workers.clear()
    c.start("w0-r1")
    verify("agent-crash", c, events, redis_server, c.finish(len(events)))


class PausedStore(RedisStore):
    """The real store with a SIGSTOP at one exact point: after reading people, before writing."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.loaded, self.go = asyncio.Event(), asyncio.Event()

    async def apply_many(self, items: Any) -> Any:
        if not self.go.is_set():
            self.loaded.set()
            await self.go.wait()
        return await super().apply_many(items)


def paused_writer(url: str, topics: Topics, held: list[InMessage],
                  meanwhile: list[InMessage]) -> tuple[list[OutMessage], list[OutMessage], Metrics]:
    """A zombie reads its people for `held`, freezes; another worker handles `meanwhile`; the
    zombie wakes and writes. Returns (other's outputs, zombie's outputs, zombie's metrics)."""
    engine = Engine(load_policies())

    async def scenario() -> tuple[list[OutMessage], list[OutMessage], Metrics]:
        zstore, owner_store = PausedStore(url), RedisStore(url)
        zmetrics = Metrics()
        ztask = asyncio.create_task(Processor(engine, zstore, topics, zmetrics).handle(held))
        await zstore.loaded.wait()
        owned = await Processor(engine, owner_store, topics, Metrics()).handle(meanwhile)
        zstore.go.set()
        late = await ztask
        await zstore.close()
        await owner_store.close()
        return owned, late, zmetrics

    return asyncio.run(scenario())


def one_person() -> tuple[list[dict[str, Any]], list[InMessage]]:
    events = [e for e in events_of(8, seed=5) if e["psn_no"] == "P0000001"]
    assert {e["type"] for e in events} == {"eligibility", "enrollment", "settlement", "reversal"}
    assert [e["type"] for e in events[:2]] == ["eligibility", "enrollment"]
    return events, [InMessage(0, i, e["psn_no"].encode(), orjson.dumps(e)) for i, e in enumerate(events)]


def split(outs: list[OutMessage], topics: Topics) -> tuple[list[bytes], list[bytes]]:
    return ([o.value for o in outs if o.topic == topics.decisions],
            [o.value for o in outs if o.topic == topics.instructions])


def test_zombie_late_writes_are_refused_and_republish_the_same(redis_server: RedisServer, topics: Topics) -> None:
    """The zombie held a batch; the new owner applied it all while it slept. On waking each of
    its writes is refused (already applied), nothing changes in Redis, and what it publishes
    is byte for byte what the owner decided."""
    events, batch = one_person()
    owned, late, zm = paused_writer(redis_server.url, topics, batch, batch)
    assert zm.redeliveries._value.get() == len(events)
    # it republished, but counts nothing again: the owner already counted what was paid
    counted = [smp for fam in (zm.events, zm.assistance, zm.instructions) for met in fam.collect()
               for smp in met.samples if smp.name.endswith("_total")]
    assert counted == []
    r = redis_server.client()
    assert int(r.hget(person_key("P0000001"), "ver")) == len(events)  # no write of the zombie's landed
    assert [(o.topic, o.key, o.value) for o in late] == [(o.topic, o.key, o.value) for o in owned]
    rep = check(Expected.of(events), *split(owned + late, topics), r)
    assert not rep.problems, rep.problems
    assert rep.unique_instructions >= 5 and rep.duplicates == rep.unique_decisions + rep.unique_instructions


def test_write_from_a_stale_snapshot_is_refused_and_recomputed(redis_server: RedisServer, topics: Topics) -> None:
    """The zombie read the person before eligibility and enrollment were applied by another
    worker. Its writes, computed without them, must be refused (version moved) and decided
    again on the fresh state: without the check every settlement would be refused as ineligible."""
    events, batch = one_person()
    owned, late, zm = paused_writer(redis_server.url, topics, batch[2:], batch[:2])
    assert zm.conflicts._value.get() >= 1
    r = redis_server.client()
    assert int(r.hget(person_key("P0000001"), "ver")) == len(events)
    rep = check(Expected.of(events), *split(owned + late, topics), r)
    assert not rep.problems, rep.problems
    assert rep.unique_instructions >= 5


# ---- seeded simulation (VOPR-style): crashes at every store call, rebalances, zombies ------------

class SimulatedCrash(Exception):
    """The worker process dies here; it restarts from the committed offsets."""


class Sim:
    """Two workers over the partitions of one topic, one at a time, every choice from one seed.

    Only the worker holding the baton talks to Redis, and the baton moves (and crashes
    strike) only at store calls, chosen by the seeded generator: a failing seed replays
    the same interleaving. Kafka is modelled: per-partition logs, committed offsets, an
    owner per partition; a worker that lost a partition keeps working it for a while
    (a zombie) and its commits are refused.
    """

    CRASH_P, SWITCH_P, REBALANCE_P = 0.06, 0.3, 0.1

    def __init__(self, seed: int, logs: list[list[InMessage]], topics: Topics) -> None:
        self.rng = random.Random(seed)
        self.logs, self.topics = logs, topics
        self.committed = [0] * len(logs)
        self.owner = ["A" if p % 2 == 0 else "B" for p in range(len(logs))]
        self.believes: dict[str, dict[int, int]] = {"A": {}, "B": {}}  # partition -> position
        self.zombie_steps: dict[tuple[str, int], int] = {}
        self.published: list[OutMessage] = []
        self.turn = "A"
        self.wake = {"A": asyncio.Event(), "B": asyncio.Event()}
        self.done = {"A": False, "B": False}
        self.crashes = self.rebalances = self.refused_commits = 0
        self.calm = False  # the last phase: no more faults, so that everything finishes
        for w in ("A", "B"):
            self.restart(w)

    def restart(self, w: str) -> None:
        self.believes[w] = {p: self.committed[p] for p, o in enumerate(self.owner) if o == w}

    async def point(self, w: str, where: str) -> None:
        if self.calm:
            return
        if self.rng.random() < self.CRASH_P:
            self.crashes += 1
            raise SimulatedCrash(where)
        if self.rng.random() < self.SWITCH_P:
            await self.switch(w)

    async def switch(self, w: str) -> None:
        other = "B" if w == "A" else "A"
        if self.done[other]:
            return
        self.turn = other
        self.wake[w].clear()
        self.wake[other].set()
        await self.wake[w].wait()

    def rebalance(self) -> None:
        p = self.rng.randrange(len(self.logs))
        old, new = self.owner[p], "B" if self.owner[p] == "A" else "A"
        self.owner[p] = new
        self.believes[new][p] = self.committed[p]
        self.zombie_steps[(old, p)] = self.rng.randint(0, 6)  # the old owner has not noticed yet
        self.rebalances += 1

    async def step(self, w: str, proc: Processor) -> bool:
        """One batch of one partition; False when this worker has nothing to do."""
        for (zw, p), left in list(self.zombie_steps.items()):
            if zw == w and left <= 0:
                self.believes[w].pop(p, None)
                del self.zombie_steps[(zw, p)]
            elif zw == w:
                self.zombie_steps[(zw, p)] = left - 1
        ready = [p for p, pos in sorted(self.believes[w].items()) if pos < len(self.logs[p])]
        if not ready:
            return False
        p = self.rng.choice(ready)
        pos = self.believes[w][p]
        batch = self.logs[p][pos:pos + self.rng.randint(1, 12)]
        try:
            outs = await proc.handle(batch)
            await self.point(w, "publish")
        except SimulatedCrash:
            self.restart(w)
            return True
        self.published.extend(outs)
        self.believes[w][p] = pos + len(batch)
        if self.owner[p] == w:
            self.committed[p] = pos + len(batch)
        else:
            self.refused_commits += 1
        if not self.calm and self.rng.random() < self.REBALANCE_P:
            self.rebalance()
        return True

    async def worker(self, w: str, proc: Processor, max_steps: int) -> None:
        if self.turn != w:
            await self.wake[w].wait()
        for _ in range(max_steps):
            if not await self.step(w, proc) and self.calm:
                break
            if self.rng.random() < self.SWITCH_P:
                await self.switch(w)
        self.done[w] = True
        other = "B" if w == "A" else "A"
        self.turn = other  # hand over for good
        self.wake[other].set()


class SimStore(RedisStore):
    """The real store, with the simulation's crash and interleaving points around each call."""

    def __init__(self, url: str, sim: Sim, w: str) -> None:
        super().__init__(url)
        self.sim, self.w = sim, w

    async def load_many(self, people: list[str]) -> Any:
        await self.sim.point(self.w, "load")
        return await super().load_many(people)

    async def apply_many(self, items: Any) -> Any:
        await self.sim.point(self.w, "apply")
        if not self.sim.calm and len(items) > 1 and self.sim.rng.random() < self.sim.CRASH_P:
            await super().apply_many(items[:self.sim.rng.randrange(1, len(items))])
            self.sim.crashes += 1
            raise SimulatedCrash("mid-pipeline")  # some scripts ran, the rest never arrived
        results = await super().apply_many(items)
        await self.sim.point(self.w, "applied")  # crash here: applied, the reply lost
        return results

    async def outputs(self, psn_no: str, event_id: str) -> bytes | None:
        await self.sim.point(self.w, "outputs")
        return await super().outputs(psn_no, event_id)


def partitioned(events: list[dict[str, Any]], partitions: int) -> list[list[InMessage]]:
    logs: list[list[InMessage]] = [[] for _ in range(partitions)]
    for ev in events:
        p = int(ev["psn_no"][1:]) % partitions
        logs[p].append(InMessage(p, len(logs[p]), ev["psn_no"].encode(), orjson.dumps(ev)))
    return logs


def run_sim(seed: int, url: str, topics: Topics, events: list[dict[str, Any]]) -> Sim:
    engine = Engine(load_policies())
    sim = Sim(seed, partitioned(events, 3), topics)

    async def main() -> None:
        stores = {w: SimStore(url, sim, w) for w in ("A", "B")}
        procs = {w: Processor(engine, stores[w], topics, Metrics()) for w in ("A", "B")}
        sim.wake["A"].set()
        await asyncio.gather(*(sim.worker(w, procs[w], 400) for w in ("A", "B")))
        sim.calm = True  # faults over: the owners finish their partitions
        sim.done = {"A": False, "B": False}
        for w in ("A", "B"):
            sim.restart(w)
            while await sim.step(w, procs[w]):
                pass
        for s in stores.values():
            await s.close()

    asyncio.run(main())
    assert sim.committed == [len(log) for log in sim.logs]
    return sim


SIM_SEEDS = int(os.environ.get("MEDASSIST_SIM_SEEDS", "12"))  # raise it for a longer hunt


@pytest.mark.parametrize("seed", range(SEED, SEED + SIM_SEEDS))
def test_simulated_crashes_rebalances_and_zombies(seed: int, redis_server_module: RedisServer,
                                                  topics: Topics) -> None:
    r = redis_server_module.client()
    r.flushall()
    events = events_of(24, seed=seed % 997)
    sim = run_sim(seed, redis_server_module.url, topics, events)
    d, i = split(sim.published, topics)
    rep = check(Expected.of(events), d, i, r)
    print(f"[sim {seed}] events={len(events)} crashes={sim.crashes} rebalances={sim.rebalances} "
          f"refused commits={sim.refused_commits} duplicates={rep.duplicates}")
    assert not rep.problems, "\n".join(rep.problems)
    assert sim.crashes > 0 and rep.unique_instructions > 20


@pytest.mark.parametrize("seed", range(SEED, SEED + 2))
def test_simulated_crashes_on_a_redis_cluster(seed: int, redis_cluster: LocalRedisCluster, topics: Topics) -> None:
    """The same simulation with the store on a Redis Cluster: reads and scripts pipelined per master."""
    events = events_of(24, seed=seed % 997)
    sim = run_sim(seed, redis_cluster.url, topics, events)
    d, i = split(sim.published, topics)
    rep = check(Expected.of(events), d, i, redis_cluster.client())
    assert not rep.problems, "\n".join(rep.problems)
    assert sim.crashes > 0 and rep.unique_instructions > 20
