"""`medassist whatif EVENTS.jsonl --set POLICY:KEY.PATH=VALUE ... --out DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from medassist import argtypes
from medassist.engine.policy import PolicyError
from medassist.errors import EXIT_OK, UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("events", metavar="EVENTS.jsonl", type=argtypes.input_file, help="a year of events, JSONL")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="POLICY:KEY.PATH=VALUE",
                   help="change one parameter, e.g. qinhuangdao-2023:caps.inpatient=30000 (repeatable)")
    p.add_argument("--change", dest="changes", action="append", default=[], metavar="FILE.yaml",
                   type=argtypes.input_file,
                   help="a file of changes (set: [...]) or a whole variant policy file (repeatable)")
    p.add_argument("--policies", metavar="DIR", help="the baseline's policy directory (default: the packaged one)")
    p.add_argument("--out", required=True, metavar="DIR", type=argtypes.output_dir,
                   help="where the tables, workbook and report.html go")
    p.add_argument("--workers", type=argtypes.positive_int, default=None, help="processes (default: one per core)")
    p.add_argument("--shares", type=argtypes.positive_int, default=None,
                   help="split the people into this many shares (default: --workers); more shares, less memory")
    p.add_argument("--full", action="store_true",
                   help="replay every person under the variant, not only those a changed policy reaches")


def whatif_command(args: argparse.Namespace) -> int:
    from medassist.whatif.change import spec_from_args
    from medassist.whatif.run import run_whatif

    try:
        spec = spec_from_args(args.sets, args.changes, args.policies)
        if spec.empty:
            raise PolicyError("no change: give --set POLICY:KEY.PATH=VALUE or --change FILE.yaml")
        outcome = run_whatif(args.events, spec, workers=args.workers, shares=args.shares, full=args.full)
    except PolicyError as e:  # the checker's words; nothing has run
        raise UsageError(str(e)) from None
    summary = write_outputs(Path(args.out), outcome.summary(), outcome)
    print(orjson.dumps(summary).decode(), flush=True)
    return EXIT_OK


def write_outputs(out: Path, summary: dict[str, Any], outcome: Any) -> dict[str, Any]:
    from medassist.whatif.report import write_report
    from medassist.whatif.tables import write_tables

    out.mkdir(parents=True, exist_ok=True)
    write_tables(out, outcome.result, summary)
    write_report(out / "report.html", summary, outcome.result, outcome.spec.title)
    summary = {**summary, "out": str(out)}
    (out / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return summary
