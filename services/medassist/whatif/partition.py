"""One share of the people, replayed under the baseline and the variant.

People are independent (every accumulator is a person's), so the events split by a stable hash
of `psn_no` and each share is replayed on its own: its process streams the whole file, skips the
lines of other shares by a look at the bytes, and feeds its own to two `Replayer`s, the very
engine and decode path `medassist replay` runs. What it keeps is one share's person state.

Each line is decoded once (`inbound.decode`, as replay) and decided under both books. A person none
of whose events so far fall in a changed policy's region has had every event decided
by unchanged policies from the same state: the variant's decisions are the baseline's, so they are
taken as they are. At the person's first event in a changed region, the variant gets a copy of the
person's state and from then on decides every event of theirs itself. `full=True` replays every
person twice instead (the tests show both give the same).
"""

from __future__ import annotations

import copy
import gc
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from medassist.engine.inbound import decode
from medassist.engine.state import PersonState
from medassist.replay import FREEZE_EVERY, Replayer
from medassist.whatif.aggregate import Partial, ShareTally
from medassist.whatif.change import PolicySpec, books, touched_prefixes

PSN = re.compile(rb'"psn_no"\s*:\s*"([^"\\]*)"')

# (share, its events so far, bytes of the file read so far)
Progress = Callable[[int, int, int], None]


def person_of(raw: bytes) -> str | None:
    """The line's psn_no as the decoder reads it (the bytes when plain, else a decode)."""
    m = PSN.search(raw)
    if m is not None:
        try:
            return m.group(1).decode()
        except UnicodeDecodeError:
            return None
    try:  # an escaped psn_no, or none
        psn = orjson.loads(raw).get("psn_no")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return psn if isinstance(psn, str) else None


def share_of(psn: str | None, shares: int) -> int:
    """CRC-32 of the psn_no's UTF-8 bytes: stable across runs, processes and machines."""
    if shares == 1:
        return 0
    return zlib.crc32(psn.encode() if psn is not None else b"") % shares


def clone(state: PersonState) -> PersonState:
    return PersonState(dict(state.acc), copy.deepcopy(state.settlements), copy.deepcopy(state.eligibility),
                       dict(state.events))


@dataclass(frozen=True)
class Job:
    path: str
    share: int
    shares: int
    spec: PolicySpec
    full: bool = False  # replay every person under the variant, touched or not


def replay_share(job: Job, progress: Progress | None = None) -> Partial:
    base_book, var_book = books(job.spec)
    base_r, var_r = Replayer(base_book), Replayer(var_book)
    base, var = base_r.decide, var_r.decide
    base_people, var_people = base_r.store.people, var_r.store.people
    prefixes = touched_prefixes(job.spec, base_book, var_book)
    diverged: set[str] = set()
    tally = ShareTally()
    add = tally.add
    want, shares, full = job.share, job.shares, job.full
    n = nbytes = 0
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)  # as replay_file: the state is long-lived, collect it rarely
    try:
        with open(job.path, "rb") as f:
            for raw in f:
                nbytes += len(raw)
                if raw.isspace() or share_of(person_of(raw), shares) != want:
                    continue
                n += 1
                if not n % FREEZE_EVERY:
                    gc.freeze()
                    if progress is not None:
                        progress(want, n, nbytes)
                got = decode(raw)  # once, for both books: the decode replay_file does
                if isinstance(got, dict):  # invalid: the same decision under both
                    add(None, [got], [got])
                    continue
                ev = got[0]
                psn = ev.psn_no
                if full or psn in diverged:
                    add(ev, base(got), var(got))
                    continue
                if not ev.admdvs.startswith(prefixes):
                    d = base(got)
                    add(ev, d, d)  # unchanged policies, the same state: the same decisions
                    continue
                diverged.add(psn)  # from here on the variant decides this person itself
                known = base_people.get(psn)
                if known is not None:
                    var_people[psn] = clone(known)
                add(ev, base(got), var(got))
        if progress is not None:
            progress(want, n, nbytes)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    return tally.finish()
