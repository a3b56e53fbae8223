"""The shares spread over processes, progress on stderr, and the merged result.

The policies are built and checked here first: a change that does not check stops the run before
a process starts or an event is read.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import IO, Any

from medassist.engine.money import yuan
from medassist.progress import Progress, count_lines
from medassist.whatif.aggregate import Partial
from medassist.whatif.change import ChangeNote, PolicySpec, books, notes
from medassist.whatif.partition import Job, replay_share

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


def run_whatif(path: str, spec: PolicySpec, workers: int | None = None, shares: int | None = None,
               full: bool = False, progress_to: IO[str] | None = None) -> Outcome:
    """Both replays of `path`, spread over `workers` processes; progress (events done, rate, time left)
    on `progress_to` (default stderr: a bar on a terminal, lines otherwise)."""
    base, _ = books(spec)  # checks the change (PolicyError) before anything runs
    names = {p.policy_id: p.name for p in base.policies}
    change_notes = notes(spec)
    total = count_lines(path)  # and refuses a missing file, still before anything runs (~1 GB/s)
    w = max(1, workers or os.cpu_count() or 1)
    k = max(1, shares or w)
    t0 = time.monotonic()
    result = Partial()
    done: dict[int, int] = {}
    progress = Progress("whatif: replayed", total=total, unit="events", stream=progress_to)

    def report(share: int, n: int, read: int) -> None:
        done[share] = n
        progress.set(sum(done.values()))

    if w == 1 and k == 1:
        result.merge(replay_share(Job(path, 0, 1, spec, full), report))
    else:
        ctx = mp.get_context("fork")  # a share needs only its Job: it builds its own books
        q = ctx.Queue()
        with ProcessPoolExecutor(max_workers=min(w, k), mp_context=ctx, initializer=_init,
                                 initargs=(q,)) as pool:
            pending: set[Future[Partial]] = {pool.submit(_run_share, Job(path, i, k, spec, full)) for i in range(k)}
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in finished:
                    result.merge(f.result())
                while True:
                    try:
                        report(*q.get_nowait())
                    except queue.Empty:
                        break
    progress.close()
    return Outcome(path, spec, change_notes, result, time.monotonic() - t0, w, k, names)
