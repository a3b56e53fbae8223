"""`medassist sample` and `medassist demo`: a seeded data set, and the whole pipeline on it.

The demo is what a newcomer runs first: it writes a sample year of events, runs the
cluster on it (embedded broker, redis-server, N workers), replays the same file in
memory, and says whether the two agree settlement by settlement.
"""

from __future__ import annotations

import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from medassist.ops.run import run
from medassist.population import population
from medassist.replay import replay_events


def write_sample(path: str | Path, people: int, seed: int = 7) -> int:
    n = 0
    with open(path, "wb") as f:
        for ev in population(people, seed=seed):
            f.write(orjson.dumps(ev) + b"\n")
            n += 1
    return n


def paid_by_settlement(decisions: list[dict[str, Any]]) -> dict[str, int]:
    """Net assistance per setl_id: what each settlement finally cost the fund."""
    out: dict[str, int] = defaultdict(int)
    for d in decisions:
        if d.get("setl_id"):
            out[d["setl_id"]] += d["assistance_fen"]
    return dict(out)


def demo(people: int = 300, workers: int = 2, seed: int = 7) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="medassist-demo-") as tmp:
        sample = Path(tmp) / "sample.jsonl"
        n = write_sample(sample, people, seed)
        print(f"wrote {n} sample events for {people} people to {sample}", file=sys.stderr)
        out = Path(tmp) / "decisions.jsonl"
        summary = run(str(sample), workers=workers, decisions_out=str(out))
        streamed: dict[tuple[Any, ...], dict[str, Any]] = {}
        for raw in out.read_bytes().splitlines():
            d = orjson.loads(raw)
            streamed[(d["event_id"], d["setl_id"], d["type"])] = d  # the topic is at-least-once
        replayed = replay_events(sample.read_bytes().splitlines())
        a, b = paid_by_settlement(list(streamed.values())), paid_by_settlement(replayed)
        differing = sorted(k for k in a.keys() | b.keys() if a.get(k, 0) != b.get(k, 0))
        summary["replay_net_assistance_fen"] = sum(d["assistance_fen"] for d in replayed)
        summary["settlements_differing_from_replay"] = len(differing)
        summary["matches_replay"] = not differing
        if differing:
            print(f"settlements differing from replay (first 10): {differing[:10]}", file=sys.stderr)
    return summary
