"""`medassist bench replay|stream|month-end|whatif|state`: figures on the screen, the last line one JSON object.

Each benchmark lives in its own module with `main(args) -> dict` returning its figures;
this dispatcher prints them as the contract's last line. The object carries the figures
flat (e.g. `per_s`) and, for scripts that look a benchmark up by name, the same figures
again under the benchmark's name (e.g. `replay.per_s`).
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

import orjson

MODULES = {"replay": "medassist.bench.replay_bench", "stream": "medassist.bench.stream_bench",
           "month-end": "medassist.bench.monthend_bench", "whatif": "medassist.bench.whatif_bench",
           "state": "medassist.bench.state_bench"}


def last_line(what: str, figures: dict[str, Any]) -> bytes:
    return orjson.dumps({"bench": what, **figures, what: figures})


def run_bench(args: argparse.Namespace) -> int:
    mod = importlib.import_module(MODULES[args.what])
    figures: dict[str, Any] = mod.main(args)
    print(last_line(args.what, figures).decode(), flush=True)
    return 0
