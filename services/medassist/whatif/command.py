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
    p.add_argument("events", metavar="EVENTS.jsonl", type=argtypes.input_file, nargs="?",
                   help="a year of events, JSONL (not with --shadow: it reads the cluster's events topic)")
    p.add_argument("--set", dest="sets", action="append", metavar="POLICY:KEY.PATH=VALUE",
                   help="change one parameter, e.g. qinhuangdao-2023:caps.inpatient=30000 (repeatable)")
    p.add_argument("--change", dest="changes", action="append", metavar="FILE.yaml",
                   type=argtypes.input_file,
                   help="a file of changes (set: [...]) or a whole variant policy file (repeatable)")
    p.add_argument("--policies", metavar="DIR", help="the baseline's policy directory (default: the packaged one)")
    p.add_argument("--out", metavar="DIR", type=argtypes.output_dir,
                   help="where the tables, workbook and report.html go (with --shadow: its policy files and logs)")
    p.add_argument("--workers", type=argtypes.positive_int, default=None, help="processes (default: one per core)")
    p.add_argument("--shares", type=argtypes.positive_int, default=None,
                   help="split the people into this many shares (default: --workers); more shares, less memory")
    p.add_argument("--full", action="store_true",
                   help="replay every person under the variant, not only those a changed policy reaches")
    s = p.add_argument_group("shadow consumer group (docs/whatif.md): the variant beside the cluster, until stopped")
    s.add_argument("--shadow", metavar="PREFIX",
                   help="run as a shadow group: topics PREFIX.*, group PREFIX-workers, Redis keys PREFIX:{psn}")
    s.add_argument("--source-prefix", default="medassist", help="the cluster whose events topic it reads")
    s.add_argument("--bootstrap", type=argtypes.bootstrap, metavar="HOST:PORT",
                   help="Kafka bootstrap servers (default: MEDASSIST_BOOTSTRAP, else the running `medassist up`)")
    s.add_argument("--redis", type=argtypes.redis_url, metavar="URL",
                   help="Redis URL (default: MEDASSIST_REDIS_URL, else the running `medassist up`)")
    s.add_argument("--partitions", type=argtypes.positive_int, default=8, help="partitions of the shadow's topics")


def whatif_command(args: argparse.Namespace) -> int:
    from medassist.whatif.change import spec_from_args
    from medassist.whatif.run import run_whatif

    try:
        spec = spec_from_args(args.sets or [], args.changes or [], args.policies)
        if spec.empty:
            raise PolicyError("no change: give --set POLICY:KEY.PATH=VALUE or --change FILE.yaml")
        if args.shadow:
            return shadow_command(args, spec)
        if not args.events or not args.out:
            raise UsageError("give EVENTS.jsonl and --out DIR (or --shadow PREFIX to run beside the cluster)")
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


def shadow_command(args: argparse.Namespace, spec: Any) -> int:
    """Start the shadow group's workers and keep them running (progress on stderr) until stopped."""
    import sys
    import tempfile
    import time

    from medassist.errors import CommandError
    from medassist.ops.cluster import committed_total, end_total
    from medassist.whatif.shadow import Shadow, start_shadow

    shadow = Shadow(args.bootstrap, args.redis, args.shadow, args.source_prefix, partitions=args.partitions)
    workdir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix=f"medassist-{args.shadow}-"))
    try:
        procs = start_shadow(spec, shadow, workdir, workers=args.workers or 1)
    except ValueError as e:
        raise UsageError(str(e)) from None
    cfg = shadow.config(workdir)
    print(orjson.dumps({"shadow": args.shadow, "group": cfg.group, "events_topic": cfg.topics.events,
                        "decisions_topic": cfg.topics.decisions, "redis_prefix": cfg.redis_prefix,
                        "policies": str(workdir / "policies"), "workers": len(procs)}).decode(), flush=True)
    try:
        while True:
            if not any(p.alive for p in procs):
                raise CommandError(f"every shadow worker has exited; see the logs in {workdir}")
            try:
                done, end = committed_total(cfg.bootstrap, cfg.group, cfg.topics.events), \
                    end_total(cfg.bootstrap, cfg.topics.events)
                print(f"whatif shadow {args.shadow}: {done:,} of {end:,} events decided", file=sys.stderr, flush=True)
            except Exception as e:  # noqa: BLE001 - a busy broker: ask again next time
                print(f"whatif shadow {args.shadow}: progress unknown ({e})", file=sys.stderr, flush=True)
            time.sleep(5)
    finally:
        for p in procs:
            p.stop()
