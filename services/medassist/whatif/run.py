"""The shares spread over processes, progress on stderr, and the merged result.

The policies are built and checked here first: a change that does not check stops the run before
a process starts or an event is read.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from medassist.engine.money import yuan
from medassist.whatif.aggregate import Partial
from medassist.whatif.change import ChangeNote, PolicySpec, books, notes
from medassist.whatif.partition import Job, replay_share

Say = Callable[[str], None]
PROGRESS_EVERY_S = 2.0

_progress_queue: Any = None  # set in each worker process by _init


def _init(q: Any) -> None:
    global _progress_queue
    _progress_queue = q


def _report(share: int, n: int, read: int) -> None:
    try:
        _progress_queue.put_nowait((share, n, read))
    except (queue.Full, AttributeError, ValueError):
        pass  # progress is a courtesy: never a reason to stop


def _run_share(job: Job) -> Partial:
    return replay_share(job, _report)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Outcome:
    path: str
    spec: PolicySpec
    notes: list[ChangeNote]
    result: Partial
    seconds: float
    workers: int
    shares: int
    policy_names: dict[str, str] = field(default_factory=dict)  # policy_id -> name

    def summary(self) -> dict[str, Any]:
        r = self.result
        return {
            "events": r.events, "people": r.people,
            "baseline_fen": r.base.total_fen, "variant_fen": r.var.total_fen,
            "delta_fen": r.var.total_fen - r.base.total_fen,
            "baseline": yuan(r.base.total_fen), "variant": yuan(r.var.total_fen),
            "delta": yuan(r.var.total_fen - r.base.total_fen),
            "people_gaining": r.gaining, "people_losing": r.losing, "people_changed": len(r.changed),
            "invalid_events": r.invalid, "people_warned_baseline": r.warned_base,
            "people_warned_variant": r.warned_var, "people_with_warning_gaps": r.warning_gaps,
            "changes": [{"policy_id": n.policy_id, "path": n.path, "before": n.before, "after": n.after}
                        for n in self.notes] + [{"variant_file": f} for f in self.spec.variant_files],
            "workers": self.workers, "shares": self.shares, "seconds": round(self.seconds, 3),
        }


class ProgressLine:
    """Events done, rate and time left, from each share's bytes read of the file."""

    def __init__(self, size: int, shares: int, say: Say) -> None:
        self.size = max(1, size) * shares
        self.done: dict[int, tuple[int, int]] = {}
        self.say = say
        self.t0 = time.monotonic()
        self.last = self.t0

    def update(self, share: int, n: int, read: int) -> None:
        self.done[share] = (n, read)

    def maybe_print(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        events = sum(n for n, _ in self.done.values())
        if not events and not force:
            return
        frac = min(1.0, sum(r for _, r in self.done.values()) / self.size)
        took = now - self.t0
        rate = events / took if took > 0 else 0.0
        left = took * (1 - frac) / frac if frac > 0 else float("nan")
        left_text = f"{left:,.0f} s left" if left == left else "time left unknown"
        self.say(f"whatif: {events:,} events, {rate:,.0f}/s, {frac:.0%} read, {left_text}")


def run_whatif(path: str, spec: PolicySpec, workers: int | None = None, shares: int | None = None,
               full: bool = False, say: Say = _say) -> Outcome:
    base, _ = books(spec)  # checks the change (PolicyError) before anything runs
    names = {p.policy_id: p.name for p in base.policies}
    change_notes = notes(spec)
    size = os.path.getsize(path)  # and refuses a missing file, still before anything runs
    w = max(1, workers or os.cpu_count() or 1)
    k = max(1, shares or w)
    t0 = time.monotonic()
    total = Partial()
    progress = ProgressLine(size, k, say)
    if w == 1 and k == 1:
        def here(share: int, n: int, read: int) -> None:
            progress.update(share, n, read)
            progress.maybe_print()

        total.merge(replay_share(Job(path, 0, 1, spec, full), here))
    else:
        ctx = mp.get_context("fork")  # a share needs only its Job: it builds its own books
        q = ctx.Queue()
        with ProcessPoolExecutor(max_workers=min(w, k), mp_context=ctx, initializer=_init,
                                 initargs=(q,)) as pool:
            pending: set[Future[Partial]] = {pool.submit(_run_share, Job(path, i, k, spec, full)) for i in range(k)}
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in done:
                    total.merge(f.result())
                while True:
                    try:
                        progress.update(*q.get_nowait())
                    except queue.Empty:
                        break
                progress.maybe_print()
    progress.maybe_print(force=True)
    return Outcome(path, spec, change_notes, total, time.monotonic() - t0, w, k, names)
