"""`medassist run FILE`: the whole cluster on this machine, for one file, then a summary."""

from __future__ import annotations

import collections
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson

from medassist.engine.money import yuan
from medassist.ops.cluster import WorkerProcess, end_total, wait_processed
from medassist.ops.config import WorkerConfig
from medassist.ops.embedded import RedisServer, TansuBroker, embedded_signing_keys
from medassist.stream.feed import feed_file
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, ensure_topics


def run(file: str, workers: int = 2, decisions_out: str | None = None, instructions_out: str | None = None,
        bootstrap: str | None = None, redis_url: str | None = None, partitions: int = 8,
        prefix: str | None = None, timeout_s: float = 1800.0) -> dict[str, Any]:
    t_start = time.monotonic()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="medassist-run-")))
        embedded_signing_keys(workdir)
        if bootstrap is None:
            broker = stack.enter_context(TansuBroker(workdir=workdir / "tansu"))
            bootstrap = broker.bootstrap
            print(f"started Tansu broker on {bootstrap}", file=sys.stderr)
        if redis_url is None:
            rs = stack.enter_context(RedisServer(workdir=workdir / "redis"))
            redis_url = rs.url
            print(f"started redis-server on {redis_url} (AOF, appendfsync always)", file=sys.stderr)
        # A fresh prefix per run on a shared broker: earlier runs' messages never mix in.
        topics = Topics(prefix or f"medassist-run-{int(time.time() * 1000)}")
        cfg = WorkerConfig(bootstrap=bootstrap, redis_url=redis_url, topics=topics,
                           group=f"{topics.prefix}-workers", partitions=partitions,
                           fast_rebalance=True, datadir=str(workdir / "faust"))
        ensure_topics(bootstrap, topics.all(), partitions)
        procs = [WorkerProcess(cfg, f"worker-{i}", workdir).start() for i in range(workers)]
        for proc in procs:
            stack.callback(proc.stop)
        print(f"started {workers} workers (group {cfg.group}, {partitions} partitions)", file=sys.stderr)
        fed = feed_file(bootstrap, topics.events, file)
        expected = end_total(bootstrap, topics.events)
        print(f"fed {fed} events to {topics.events}", file=sys.stderr)
        try:
            seconds = wait_processed(bootstrap, cfg.group, topics.events, expected, timeout_s, procs,
                                     restarts=3 * workers)
        except (TimeoutError, RuntimeError):
            for p in procs:
                print(f"--- {p.log_path.name} (tail)\n" + "\n".join(
                    p.log_path.read_text(errors="replace").splitlines()[-20:]), file=sys.stderr)
            raise
        decisions = list(read_topic(bootstrap, topics.decisions))
        instructions = list(read_topic(bootstrap, topics.instructions))
        dead = list(read_topic(bootstrap, topics.deadletters))
        for path, rows in ((decisions_out, decisions), (instructions_out, instructions)):
            if path:
                with open(path, "wb") as f:
                    f.writelines(r + b"\n" for r in rows)
        summary = summarise(fed, decisions, instructions, dead)
        summary.update(workers=workers, partitions=partitions, processing_seconds=round(seconds, 2),
                       wall_seconds=round(time.monotonic() - t_start, 2))
    return summary


def decision_key(d: dict[str, Any], i: int) -> tuple[Any, ...]:
    """Decisions carry no id of their own; (event, settlement, type) names one. Unnamed invalid
    events (no event_id) cannot be told apart, so each counts once per message."""
    return (d["event_id"], d["setl_id"], d["type"]) if d["event_id"] is not None else ("#", i)


def summarise(fed: int, decisions: list[bytes], instructions: list[bytes], dead: list[bytes]) -> dict[str, Any]:
    unique_d: dict[tuple[Any, ...], dict[str, Any]] = {}
    for i, raw in enumerate(decisions):
        d = orjson.loads(raw)
        unique_d[decision_key(d, i)] = d
    by_status = collections.Counter(d["status"] for d in unique_d.values())
    paid = sum(d["assistance_fen"] for d in unique_d.values())
    unique_i = {}
    for raw in instructions:
        ins = orjson.loads(raw)
        unique_i[ins["instruction_id"]] = ins  # finance deduplicates on the id; so do we
    by_kind: dict[str, dict[str, int]] = {}
    for ins in unique_i.values():
        k = by_kind.setdefault(ins["kind"], {"count": 0, "fen": 0})
        k["count"] += 1
        k["fen"] += ins["amount_fen"]
    return {
        "events_fed": fed, "decisions": len(unique_d), "decision_messages": len(decisions),
        "decisions_by_status": dict(sorted(by_status.items())),
        "net_assistance": yuan(paid), "net_assistance_fen": paid,
        "instructions": len(unique_i), "instruction_messages": len(instructions),
        "instructions_by_kind": {k: {"count": v["count"], "amount": yuan(v["fen"])}
                                 for k, v in sorted(by_kind.items())},
        "dead_letters": len(dead),
    }
