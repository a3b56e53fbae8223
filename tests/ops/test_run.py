"""`medassist run` and `medassist demo`, as an operator calls them: the whole cluster on this
machine, started and stopped by the command, its decisions the very objects replay gives."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from medassist.ops.cluster import WorkerProcess, end_total, wait_processed
from medassist.ops.demo import paid_by_settlement, write_sample
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.population import population
from medassist.replay import replay_file
from medassist.stream.config import WorkerConfig
from medassist.stream.feed import feed_lines
from medassist.stream.topics import Topics, ensure_topics
from procs import watch_children

pytestmark = pytest.mark.integration


def canon(raw: bytes) -> bytes:
    return orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)


def test_run_writes_the_decisions_replay_gives(tmp_path: Path) -> None:
    sample = tmp_path / "sample.jsonl"
    n = write_sample(sample, people=80, seed=11)
    dec, ins = tmp_path / "decisions.jsonl", tmp_path / "instructions.jsonl"
    done = subprocess.run([sys.executable, "-m", "medassist.cli", "run", str(sample), "--workers", "2",
                           "--partitions", "4", "--decisions", str(dec), "--instructions", str(ins),
                           "--timeout", "240"], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    summary = orjson.loads(done.stdout)

    replayed = tmp_path / "replay.jsonl"
    with open(replayed, "wb") as f:
        assert replay_file(str(sample), f) == n
    want = {canon(x) for x in replayed.read_bytes().splitlines()}
    got = {canon(x) for x in dec.read_bytes().splitlines()}  # at-least-once: compare distinct objects
    assert got == want
    assert summary["events_fed"] == n
    assert summary["decisions"] == len(want)
    assert summary["net_assistance_fen"] == sum(orjson.loads(x)["assistance_fen"] for x in want)
    ids = {orjson.loads(x)["instruction_id"] for x in ins.read_bytes().splitlines()}
    assert summary["instructions"] == len(ids) > 0
    assert b"started Tansu broker" in done.stderr and b"started redis-server" in done.stderr


def test_wait_processed_restarts_a_worker_that_exits(kafka_broker: TansuBroker, redis_server: RedisServer,
                                                     topics: Topics, tmp_path: Path) -> None:
    """The only worker is killed (-9) before it finishes; with restarts the run still completes,
    and pays what replay pays."""
    events = [orjson.dumps(e) for e in population(60, seed=3)]
    cfg = WorkerConfig(bootstrap=kafka_broker.bootstrap, redis_url=redis_server.url, topics=topics,
                       group=f"{topics.prefix}-g", partitions=2, fast_rebalance=True, datadir=str(tmp_path / "f"))
    ensure_topics(cfg.bootstrap, topics.all(), 2)
    w = WorkerProcess(cfg, "w0", tmp_path).start()
    try:
        feed_lines(cfg.bootstrap, topics.events, events)
        time.sleep(1.0)
        w.kill()
        assert not w.alive
        expected = end_total(cfg.bootstrap, topics.events)
        wait_processed(cfg.bootstrap, cfg.group, topics.events, expected, 120, [w], progress=False, restarts=1)
        assert w.alive
    finally:
        w.stop()
    from medassist.replay import replay_events
    from medassist.stream.tail import read_topic

    streamed = [orjson.loads(x) for x in {canon(x) for x in read_topic(cfg.bootstrap, topics.decisions)}]
    assert paid_by_settlement(streamed) == paid_by_settlement(replay_events(events))


def test_demo_matches_replay() -> None:
    done = subprocess.run([sys.executable, "-m", "medassist.cli", "demo", "--people", "40"],
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    summary = orjson.loads(done.stdout)
    assert summary["matches_replay"] is True
    assert summary["settlements_differing_from_replay"] == 0
    assert summary["net_assistance_fen"] == summary["replay_net_assistance_fen"] > 0


def test_embedded_servers_are_gone_after_run(tmp_path: Path) -> None:
    """`run` stops what it started: the broker, redis-server and workers it spawned are gone."""
    sample = tmp_path / "s.jsonl"
    write_sample(sample, people=5, seed=1)
    proc = subprocess.Popen([sys.executable, "-m", "medassist.cli", "run", str(sample), "--workers", "1",
                             "--partitions", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    spawned = watch_children(proc, lambda seen: False)
    assert proc.returncode == 0
    assert _kinds(spawned) >= {"tansu", "redis-server", "worker"}, spawned
    assert _alive(spawned) == set(), {p: spawned[p] for p in _alive(spawned)}


def test_run_stopped_by_sigterm_stops_what_it_started(tmp_path: Path) -> None:
    """A CI timeout or an operator's `kill` must not leave a broker, redis-server or workers behind."""
    sample = tmp_path / "s.jsonl"
    write_sample(sample, people=5, seed=1)
    proc = subprocess.Popen([sys.executable, "-m", "medassist.cli", "run", str(sample), "--workers", "1",
                             "--partitions", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    spawned = watch_children(proc, lambda seen: _kinds(seen) >= {"tansu", "redis-server", "worker"})
    assert proc.returncode is None, "run finished before it could be stopped"
    proc.terminate()
    assert proc.wait(60) == 128 + 15
    deadline = time.monotonic() + 30
    while _alive(spawned) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(spawned) == set(), {p: spawned[p] for p in _alive(spawned)}


def _kinds(procs: dict[int, str]) -> set[str]:
    return {"tansu" if "tansu" in a else "redis-server" if "redis-server" in a else "worker" if " worker" in a
            else a for a in procs.values()}


def _alive(procs: dict[int, str]) -> set[int]:
    """Those still running (a zombie waiting to be reaped is not running)."""
    alive = set()
    for pid in procs:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state != "Z":
            alive.add(pid)
    return alive
