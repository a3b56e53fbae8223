"""Progress of a long command, on stderr: a live bar on a terminal, plain periodic lines otherwise.

On a terminal tqdm draws the bar (count, rate, time left). Into a file or a pipe (CI logs, `2>log`)
a bar's carriage returns would be noise, so a line every MEDASSIST_PROGRESS_INTERVAL seconds
(default 2) says the same. MEDASSIST_PROGRESS=bar|lines|off overrides the choice.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import IO, Any, Self, TypeVar


def count_lines(path: str, chunk: int = 1 << 20) -> int:
    """Lines in a file (a progress bar's total), read in large chunks: about 1 GB/s."""
    n = 0
    last = b"\n"
    with open(path, "rb") as f:
        while block := f.read(chunk):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def _mode(stream: IO[str]) -> str:
    forced = os.environ.get("MEDASSIST_PROGRESS", "")
    if forced in ("bar", "lines", "off"):
        return forced
    try:
        return "bar" if stream.isatty() else "lines"
    except (AttributeError, ValueError):
        return "lines"


def _scaled(x: float) -> str:
    """1234567 -> '1.2M' (sizes in a plain progress line)."""
    for unit in ("", "k", "M", "G"):
        if abs(x) < 1000:
            return f"{x:.0f}{unit}" if unit == "" else f"{x:.1f}{unit}"
        x /= 1000
    return f"{x:.1f}T"


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


T = TypeVar("T")


def counted(items: Iterable[T], bar: Progress, every: int = 1000) -> Iterator[T]:
    """`items` as they come, counted on `bar` every `every` items."""
    n = 0
    for n, item in enumerate(items, 1):  # noqa: B007 - n is read after the loop
        yield item
        if not n % every:
            bar.set(n)
    bar.set(n)


class Progress:
    """`with Progress("run: processed", total=n, unit="events") as p: ... p.set(done)` (or p.update(k))."""

    def __init__(self, what: str, total: int | None = None, unit: str = "events", stream: IO[str] | None = None,
                 unit_scale: bool = False) -> None:
        self.what, self.total, self.unit, self.unit_scale = what, total, unit, unit_scale
        self.stream = stream or sys.stderr
        self.mode = _mode(self.stream)
        self.done = 0
        self.note = ""
        self.t0 = self.last = time.monotonic()
        self.started: tuple[float, int] | None = None  # (when, count) of the first move
        self.interval = float(os.environ.get("MEDASSIST_PROGRESS_INTERVAL", "2"))
        self._bar: Any = None
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=what, unit=unit if unit_scale else f" {unit}",
                             unit_scale=unit_scale, file=self.stream, dynamic_ncols=True, smoothing=0.1,
                             mininterval=0.2)

    def update(self, n: int = 1) -> None:
        self.set(self.done + n)

    def set(self, done: int, note: str | None = None) -> None:
        """The count so far (it may only be known as a total, e.g. committed offsets)."""
        if note is not None:
            self.note = note
            if self._bar is not None:
                self._bar.set_postfix_str(note, refresh=False)
        if self._bar is not None:
            if done != self.done:
                self._bar.update(done - self.done)
            elif note is not None:
                self._bar.refresh()
        if self.started is None and done > 0:  # the rate counts from the first progress, not from a wait
            self.started = (time.monotonic(), self.done)
        self.done = done
        if self.mode == "lines":
            now = time.monotonic()
            if now - self.last >= self.interval:
                self.last = now
                self._line(now)

    def _line(self, now: float, final: bool = False) -> None:
        elapsed = max(1e-9, now - self.t0)
        t1, n1 = self.started or (self.t0, 0)
        rate = (self.done - n1) / max(1e-9, now - t1) if now - t1 >= 0.5 or final else 0.0
        amount = _scaled if self.unit_scale else "{:,}".format
        count = amount(self.done) + (f"/{amount(self.total)}" if self.total else "")
        left = ""
        if not final and self.total and rate > 0 and self.done < self.total:
            left = f", about {_duration((self.total - self.done) / rate)} left"
        note = f"; {self.note}" if self.note else ""
        took = f" in {_duration(elapsed)}" if final else ""
        per_s = f"{_scaled(rate)}{self.unit}/s" if self.unit_scale else f"{rate:,.0f}/s"
        unit = "" if self.unit_scale else f" {self.unit}"
        print(f"{self.what}: {count}{unit}{took} ({per_s}{left}){note}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == "lines":
            self._line(time.monotonic(), final=True)
        self.mode = "off"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
