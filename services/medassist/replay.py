"""`medassist replay`: the engine over a JSONL file, with in-memory state.

One line goes through exactly the code a message on the streaming path goes
through (engine/inbound.py: decode, decide), so the two give the same decisions.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from medassist.engine import inbound
from medassist.engine.decide import Engine
from medassist.engine.decision import Decision, invalid
from medassist.engine.events import Event, InvalidEvent, json_bytes
from medassist.engine.policy import PolicyBook, load_policies
from medassist.engine.state import apply_change
from medassist.progress import Progress
from medassist.state.memory import MemoryStore

FREEZE_EVERY = 20_000  # events between gc.freeze() calls in replay_file
LARGE_FILE_BYTES = 4 << 20  # replay_file shows progress from this size on (about 7,000 events)


class Replayer:
    def __init__(self, book: PolicyBook | None = None) -> None:
        self.engine = Engine(book or load_policies())
        self.store = MemoryStore()

    def feed(self, item: bytes | str | dict[str, Any]) -> list[Decision]:
        if isinstance(item, dict):  # tests and callers holding objects: the wire text of it
            try:
                item = json_bytes(item)
            except InvalidEvent as e:
                return [invalid(e.obj, str(e))]
        elif isinstance(item, str):
            item = item.encode()
        return self.decide(inbound.decode(item))

    def decide(self, read: tuple[Event, str] | Decision) -> list[Decision]:
        """What `feed` does after decoding: `inbound.decode`'s answer, decided on this replayer's state
        (what-if decodes a line once and decides it under two policy books)."""
        if isinstance(read, dict):
            return [read]
        ev, fp = read
        snap = self.store.load(ev.psn_no)
        decisions, change = inbound.decide(self.engine, snap, ev, fp)
        apply_change(snap, change)  # what store.apply does, on the state already in hand
        return decisions

    def run(self, items: Iterable[bytes | str | dict[str, Any]]) -> Iterator[Decision]:
        for item in items:
            yield from self.feed(item)


def replay_events(events: Iterable[bytes | str | dict[str, Any]],
                  book: PolicyBook | None = None) -> list[Decision]:
    """Decisions for events in order (dicts, or JSON text lines)."""
    return list(Replayer(book).run(dict(e) if isinstance(e, dict) else e for e in events))


def replay_file(path: str, out: IO[bytes] | None = None, err: IO[str] | None = None) -> int:
    """Write one decision per line; returns how many events were read.

    Each invalid line is named on `err` (stderr) as `FILE:LINE: reason`, and a last line counts them;
    a file of LARGE_FILE_BYTES or more shows its progress there too."""
    sink = out or sys.stdout.buffer
    errs = err or sys.stderr
    write, dumps, nl = sink.write, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    feed = Replayer().feed
    n = 0
    invalid: list[int] = []
    size = os.path.getsize(path)
    # by bytes read (f.tell()), so a large file costs no counting pass before the work
    bar = Progress("replay", total=size, unit="B", unit_scale=True) if size >= LARGE_FILE_BYTES else None
    # The state grows by millions of long-lived dicts that the default GC thresholds rescan again
    # and again (~12% of the run at 20,000 people); collect less often while replaying.
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                if raw.isspace():  # a blank line (iteration never yields b"")
                    continue
                n += 1
                if not n % FREEZE_EVERY:
                    # What is alive now is state that lives to the end (decisions make no cycles): move it
                    # out of the collector's sight, so each collection scans only what came since.
                    gc.freeze()
                if bar is not None and not n % 4096:
                    bar.set(f.tell(), f"{n:,} events")
                for d in feed(raw):
                    if d["status"] == "invalid":
                        invalid.append(lineno)
                        print(f"{path}:{lineno}: {d['reason']}", file=errs)
                    # Written at once, not batched: orjson's output kept alive costs more than a buffered write.
                    write(dumps(d, option=nl))
        sink.flush()
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        if bar is not None:
            bar.set(size, f"{n:,} events")
            bar.close()
    if invalid:
        print(f"{path}: {invalid_listing(invalid)}; see the lines above, and the decisions with status invalid",
              file=errs, flush=True)
    return n


def invalid_listing(lines: list[int], most: int = 20) -> str:
    """'3 invalid lines: 17, 1142, 2051' (the first `most` of them)."""
    shown = ", ".join(map(str, lines[:most])) + (f", ... ({len(lines) - most} more)" if len(lines) > most else "")
    return f"{len(lines)} invalid line{'s' if len(lines) != 1 else ''}: {shown}"
