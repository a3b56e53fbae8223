"""`medassist bench replay`: a year of settlements for N people through `replay`.

Three figures from the same generated file in the same run, so they can be read
against each other on whatever machine runs them:
- `per_s`: the whole command's path (read, parse, validate, decide, write) via
  `replay_file`, the code `medassist replay` runs;
- `engine_per_s`: `Engine.decide` plus the in-memory state apply alone, on events
  already parsed (parsing happens outside the clock, in chunks to bound memory);
- `parse_per_s`: that parsing on its own clock (decode, fingerprint, validate and
  convert), so the three stages of a line can be told apart;
- `json_ceiling_per_s`: plain orjson parse + dump of the same lines, written the
  same way: no engine can beat it in this language.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import IO, Any

import orjson

from medassist.engine.decide import Engine
from medassist.engine.events import InvalidEvent, decode_event
from medassist.engine.policy import load_policies
from medassist.population import population
from medassist.replay import replay_file
from medassist.state.memory import MemoryStore

DEFAULT_PEOPLE = 100_000
CHUNK = 50_000  # lines parsed at once for the engine-only pass


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def write_population(path: Path, people: int, seed: int) -> tuple[int, int]:
    """The generated events as JSONL; returns (events, settlements)."""
    events = settlements = 0
    with path.open("wb") as f:
        buf: list[bytes] = []
        for ev in population(people, seed=seed):
            events += 1
            settlements += ev["type"] == "settlement"
            buf.append(orjson.dumps(ev))
            if len(buf) >= 8192:
                f.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            f.write(b"\n".join(buf) + b"\n")
    return events, settlements


def time_replay(path: Path, sink: IO[bytes]) -> tuple[float, float]:
    """(wall, CPU) seconds of the replay command's code path."""
    t0, c0 = time.perf_counter(), time.process_time()
    replay_file(str(path), sink)
    return time.perf_counter() - t0, time.process_time() - c0


def time_engine(path: Path) -> tuple[float, float]:
    """(decide + apply, parse) seconds, each alone, over every valid event of the file."""
    engine = Engine(load_policies())
    store = MemoryStore()
    spent = parsing = 0.0
    with path.open("rb") as f:
        while True:
            chunk = list(islice(f, CHUNK))
            if not chunk:
                break
            parsed = []
            t0 = time.perf_counter()
            for raw in chunk:
                try:
                    parsed.append(decode_event(raw))
                except InvalidEvent:
                    continue
            parsing += time.perf_counter() - t0
            t0 = time.perf_counter()
            for ev, fp in parsed:
                _, change = engine.decide(store.load(ev.psn_no), ev, fp)
                store.apply(ev.psn_no, change)
            spent += time.perf_counter() - t0
    return spent, parsing


def time_json_ceiling(path: Path, sink: IO[bytes]) -> float:
    loads, dumps = orjson.loads, orjson.dumps
    t0 = time.perf_counter()
    with path.open("rb") as f:
        buf: list[bytes] = []
        for raw in f:
            buf.append(dumps(loads(raw)))
            if len(buf) >= 4096:
                sink.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            sink.write(b"\n".join(buf) + b"\n")
    sink.flush()
    return time.perf_counter() - t0


def main(args: argparse.Namespace) -> dict[str, Any]:
    people = getattr(args, "people", None) or DEFAULT_PEOPLE
    seed = getattr(args, "seed", None)
    seed = 7 if seed is None else seed
    with tempfile.TemporaryDirectory(prefix="medassist-bench-") as tmp:
        src, out = Path(tmp) / "events.jsonl", Path(tmp) / "decisions.jsonl"
        t0 = time.perf_counter()
        events, settlements = write_population(src, people, seed)
        mib = src.stat().st_size / 2**20
        _say(f"generated {events:,} events ({settlements:,} settlements, {mib:.0f} MiB) for {people:,} people "
             f"in {time.perf_counter() - t0:.1f} s")
        with out.open("wb") as sink:
            replay_s, replay_cpu_s = time_replay(src, sink)
        with out.open("rb") as f:
            decisions = sum(1 for _ in f)
        _say(f"replay (read, parse, validate, decide, write): {replay_s:.1f} s, {events / replay_s:,.0f} events/s, "
             f"{settlements / replay_s:,.0f} settlements/s, {decisions:,} decisions")
        # On a shared machine wall time includes waiting for a core; CPU time shows the code's own cost.
        _say(f"  the same in CPU time: {replay_cpu_s:.1f} s, {settlements / replay_cpu_s:,.0f} settlements/CPU-s")
        engine_s, parse_s = time_engine(src)
        _say(f"engine alone (decide + state apply): {engine_s:.1f} s, {events / engine_s:,.0f} events/s")
        _say(f"parse alone (decode, fingerprint, validate, convert): {parse_s:.1f} s, {events / parse_s:,.0f} events/s")
        with out.open("wb") as sink:
            json_s = time_json_ceiling(src, sink)
        _say(f"json ceiling (orjson parse + dump + write): {json_s:.1f} s, {events / json_s:,.0f} lines/s")
    return {
        "events": events, "settlements": settlements, "people": people, "seed": seed,
        "decisions": decisions,
        "per_s": round(events / replay_s), "settlements_per_s": round(settlements / replay_s),
        "engine_per_s": round(events / engine_s), "parse_per_s": round(events / parse_s),
        "json_ceiling_per_s": round(events / json_s),
        "settlements_per_cpu_s": round(settlements / replay_cpu_s), "replay_cpu_s": round(replay_cpu_s, 3),
        "replay_s": round(replay_s, 3), "engine_s": round(engine_s, 3), "parse_s": round(parse_s, 3),
        "json_s": round(json_s, 3),
    }
