"""`medassist bench whatif`: a year of N events (default 1,000,000) under one variant, on every core.

Times what `medassist whatif` does: both books, every share replayed under baseline and variant,
the merge, the tables, the workbook and report.html. The events file is generated once per
(events, seed) and kept in the temp folder, since generating a million events takes longer than
replaying them. Figures: `seconds` (the whole command), `replay_seconds` (shares and merge only),
`per_s` (events per second of `seconds`), `peak_rss_mib` (the largest process: a share's worker or
the parent), `cpu_seconds` (CPU of every process of the run) and `cpu_busy` (that over wall seconds
times cores: 1.0 is every core ours all the time; less on a machine others share too).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from medassist.population import write_events
from medassist.whatif.change import PolicySpec
from medassist.whatif.command import write_outputs
from medassist.whatif.run import run_whatif

DEFAULT_EVENTS = 1_000_000
DEFAULT_CHANGE = "qinhuangdao-2023:caps.regular_total=30000"


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def events_file(events: int, seed: int) -> Path:
    path = Path(tempfile.gettempdir()) / "medassist-bench" / f"whatif-{events}-{seed}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        part = path.with_suffix(".part")
        write_events(part, events, seed)
        part.rename(path)  # a file that is there is whole
        _say(f"generated {events:,} events in {time.monotonic() - t0:.1f} s: {path}")
    return path


def main(args: argparse.Namespace) -> dict[str, Any]:
    n = args.events or DEFAULT_EVENTS
    path = events_file(n, args.seed)
    spec = PolicySpec(None, tuple(args.set or [DEFAULT_CHANGE]))
    workers = args.workers or os.cpu_count() or 1
    out = Path(tempfile.mkdtemp(prefix="medassist-whatif-bench-"))
    cpu0, t0 = _cpu(), time.monotonic()
    outcome = run_whatif(str(path), spec, workers=workers, full=args.full)
    replay_s = time.monotonic() - t0
    summary = write_outputs(out, outcome.summary(), outcome)
    took = time.monotonic() - t0
    cpu = _cpu() - cpu0
    rss_kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "events": summary["events"], "people": summary["people"], "change": list(spec.assignments),
        "full": bool(args.full), "workers": workers, "cores": os.cpu_count(),
        "seconds": round(took, 2), "replay_seconds": round(replay_s, 2),
        "per_s": round(summary["events"] / took), "peak_rss_mib": round(max(rss_kids, rss_self), 1),
        "parent_rss_mib": round(rss_self, 1), "cpu_seconds": round(cpu, 1),
        "cpu_busy": round(cpu / (took * min(workers, os.cpu_count() or 1)), 2),
        "delta_fen": summary["delta_fen"], "people_changed": summary["people_changed"], "out": str(out),
    }
    _say(f"whatif bench: {figures['events']:,} events in {took:.1f} s ({figures['per_s']:,}/s), "
         f"largest process {figures['peak_rss_mib']} MiB, cores busy {figures['cpu_busy']:.0%}")
    return figures
