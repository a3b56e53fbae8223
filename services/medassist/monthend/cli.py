"""Arguments and entry of `medassist month-end` (kept here so cli.py stays thin)."""

from __future__ import annotations

import argparse
import sys

from medassist import argtypes


def add_arguments(r: argparse.ArgumentParser) -> None:
    r.add_argument("--month", type=argtypes.month, help="YYYY-MM to close (required unless --schedule)")
    r.add_argument("--bootstrap", help="Kafka bootstrap H:P (default MEDASSIST_BOOTSTRAP)")
    r.add_argument("--redis", help="Redis URL (default MEDASSIST_REDIS_URL)")
    r.add_argument("--prefix", help="topic prefix (default MEDASSIST_TOPIC_PREFIX or medassist)")
    r.add_argument("--out", metavar="DIR", type=argtypes.output_dir,
                   help="write the CSV files and the Excel workbook here")
    r.add_argument("--institution-figures", metavar="FILE", type=argtypes.input_file,
                   help="institutions' 3201/3202 figures, JSONL or .csv")
    r.add_argument("--institution-figures-topic", metavar="TOPIC", help="the same figures from a topic")
    r.add_argument("--schedule", action="store_true", help="run forever, closing each previous month when due")
    r.add_argument("--close-day", type=int, choices=range(1, 29), metavar="1..28", default=5,
                   help="schedule: close once this day of the month has passed")
    r.add_argument("--interval", type=argtypes.positive_float, default=300.0, help="schedule: seconds between checks")
    r.add_argument("--metrics-port", type=argtypes.port, help="expose Prometheus metrics on this port")


def month_end_command(args: argparse.Namespace) -> int:
    import orjson

    from medassist.monthend.closing import valid_month
    from medassist.monthend.metrics import MonthEndMetrics
    from medassist.monthend.run import Options, month_end, schedule
    from medassist.stream.config import WorkerConfig

    if not args.schedule and (args.month is None or not valid_month(args.month)):
        print(f"medassist month-end: --month YYYY-MM is required (or --schedule), not {args.month!r}",
              file=sys.stderr)
        return 2
    if not 1 <= args.close_day <= 28:
        print("medassist month-end: --close-day must be 1..28", file=sys.stderr)
        return 2
    cfg = WorkerConfig.from_env(bootstrap=args.bootstrap, redis_url=args.redis)
    opts = Options(bootstrap=cfg.bootstrap, redis_url=cfg.redis_url, prefix=args.prefix or cfg.topics.prefix,
                   out_dir=args.out, figures_file=args.institution_figures,
                   figures_topic=args.institution_figures_topic)
    metrics = MonthEndMetrics()
    if args.metrics_port is not None:
        metrics.serve(args.metrics_port)
    if args.schedule:
        schedule(opts, args.close_day, args.interval, metrics)
        return 0
    summary = month_end(args.month, opts, metrics)
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return 0
