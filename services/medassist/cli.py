"""`medassist ...`: thin; each command calls the module that does the work."""

from __future__ import annotations

import argparse
import signal
import sys

import orjson


def _replay(args: argparse.Namespace) -> int:
    from medassist.replay import replay_file

    try:
        replay_file(args.file)
    except BrokenPipeError:
        return 0  # the reader went away (| head): not our failure
    except OSError as e:
        print(f"medassist replay: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    return 0


def _run(args: argparse.Namespace) -> int:
    from medassist.ops.run import run

    summary = run(args.file, workers=args.workers, decisions_out=args.decisions,
                  instructions_out=args.instructions, bootstrap=args.bootstrap, redis_url=args.redis,
                  partitions=args.partitions, prefix=args.prefix, timeout_s=args.timeout)
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return 0


def _worker(args: argparse.Namespace) -> int:
    from medassist.ops.config import WorkerConfig
    from medassist.stream.worker import run_worker

    cfg = WorkerConfig.from_env(bootstrap=args.bootstrap, redis_url=args.redis)
    if args.ensure_topics:
        from medassist.stream.topics import ensure_topics

        ensure_topics(cfg.bootstrap, cfg.topics.all(), cfg.partitions)
    run_worker(cfg, loglevel=args.loglevel)
    return 0


def _feed(args: argparse.Namespace) -> int:
    from medassist.ops.config import WorkerConfig
    from medassist.stream.feed import feed_file

    cfg = WorkerConfig.from_env(bootstrap=args.bootstrap)
    n = feed_file(cfg.bootstrap, cfg.topics.events, args.file)
    print(f"fed {n} events to {cfg.topics.events}", file=sys.stderr)
    return 0


def _tail(args: argparse.Namespace) -> int:
    from medassist.ops.config import WorkerConfig
    from medassist.stream.tail import tail

    cfg = WorkerConfig.from_env(bootstrap=args.bootstrap)
    names = {"events": cfg.topics.events, "decisions": cfg.topics.decisions,
             "instructions": cfg.topics.instructions, "deadletters": cfg.topics.deadletters,
             "reconciliation": cfg.topics.reconciliation, "monitoring": cfg.topics.monitoring}
    try:
        tail(cfg.bootstrap, names.get(args.topic, args.topic), follow=args.follow)
    except BrokenPipeError:
        pass
    return 0


def _sample(args: argparse.Namespace) -> int:
    from medassist.ops.demo import write_sample

    n = write_sample(args.out, args.people, args.seed)
    print(f"wrote {n} events for {args.people} people to {args.out}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from medassist.ops.demo import demo

    summary = demo(people=args.people, workers=args.workers, seed=args.seed)
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return 0 if summary["matches_replay"] else 1


def _ledger(args: argparse.Namespace) -> int:
    from medassist.ledger.cli import ledger_command

    return ledger_command(args)


def _month_end(args: argparse.Namespace) -> int:
    from medassist.monthend.cli import month_end_command

    return month_end_command(args)


def _bench(args: argparse.Namespace) -> int:
    from medassist.bench import run_bench

    return run_bench(args)


def _policy(args: argparse.Namespace) -> int:
    from medassist import policy_commands

    if args.policy_command == "check":
        return policy_commands.check(args.dir)
    return policy_commands.show(args.policy, args.on, args.json, args.dir)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="medassist", description="Medical-assistance settlement cluster")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("replay", help="run the engine over a JSONL file, in memory; decisions to stdout")
    r.add_argument("file")
    r.set_defaults(func=_replay)

    r = sub.add_parser("run", help="the whole cluster on this machine over a JSONL file, then a summary")
    r.add_argument("file")
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--decisions", metavar="OUT.jsonl")
    r.add_argument("--instructions", metavar="OUT.jsonl")
    r.add_argument("--bootstrap", help="use this Kafka instead of starting the embedded broker")
    r.add_argument("--redis", help="use this Redis URL instead of starting a redis-server")
    r.add_argument("--partitions", type=int, default=8)
    r.add_argument("--prefix", help="topic prefix (default: a fresh one per run)")
    r.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the workers")
    r.set_defaults(func=_run)

    r = sub.add_parser("worker", help="one streaming worker (configured by MEDASSIST_* environment)")
    r.add_argument("--bootstrap")
    r.add_argument("--redis")
    r.add_argument("--ensure-topics", action="store_true", help="create missing topics first")
    r.add_argument("--loglevel", default="WARNING")
    r.set_defaults(func=_worker)

    r = sub.add_parser("feed", help="produce a JSONL file to the input topic, keyed by psn_no")
    r.add_argument("file")
    r.add_argument("--bootstrap")
    r.set_defaults(func=_feed)

    r = sub.add_parser("tail", help="print a topic's messages as JSON lines")
    r.add_argument("topic", help="events|decisions|instructions|deadletters|... or a full topic name")
    r.add_argument("--bootstrap")
    r.add_argument("-f", "--follow", action="store_true")
    r.set_defaults(func=_tail)

    r = sub.add_parser("sample", help="write a seeded year of events for N people (JSONL)")
    r.add_argument("out", metavar="OUT.jsonl")
    r.add_argument("--people", type=int, default=300)
    r.add_argument("--seed", type=int, default=7)
    r.set_defaults(func=_sample)

    r = sub.add_parser("demo", help="sample data -> the whole cluster -> summary, checked against replay")
    r.add_argument("--people", type=int, default=300)
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--seed", type=int, default=7)
    r.set_defaults(func=_demo)

    r = sub.add_parser("ledger", help="county fund accounts: consume, statement, movements, interest")
    from medassist.ledger.cli import add_arguments as ledger_arguments

    ledger_arguments(r)
    r.set_defaults(func=_ledger)

    r = sub.add_parser("month-end", help="close a month: institution statements, reconciliation, exports")
    from medassist.monthend.cli import add_arguments

    add_arguments(r)
    r.set_defaults(func=_month_end)

    r = sub.add_parser("policy", help="check policy files; show a policy's parameters in force on a date")
    psub = r.add_subparsers(dest="policy_command", required=True)
    q = psub.add_parser("check", help="load and check every policy file; non-zero exit on any fault")
    q.add_argument("dir", nargs="?", help="directory of policy files (default: MEDASSIST_POLICIES or the package's)")
    q = psub.add_parser("show", help="a policy's parameters in force on a date, each with its clause")
    q.add_argument("policy", help="policy_id, e.g. qinhuangdao-2023")
    q.add_argument("--on", metavar="YYYY-MM-DD", help="the day (default: today)")
    q.add_argument("--json", action="store_true", help="one JSON object, for tools")
    q.add_argument("--dir", help="directory of policy files")
    r.set_defaults(func=_policy)

    r = sub.add_parser("bench", help="benchmarks; the last line is one JSON object of figures")
    r.add_argument("what", choices=["replay", "stream", "month-end"])
    r.add_argument("--people", type=int, default=None)
    r.add_argument("--seed", type=int, default=7)
    r.add_argument("--workers", type=int, default=1)
    r.add_argument("--events", type=int, default=None)
    r.add_argument("--rate", type=float, default=500.0, help="stream: settlements/s offered in the latency run")
    r.set_defaults(func=_bench)
    return p


# Commands that start processes of their own (broker, redis-server, workers) must stop them
# when they are told to stop: SIGTERM then unwinds like Ctrl-C, through their cleanup.
STARTS_PROCESSES = frozenset({"run", "demo", "bench"})


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in STARTS_PROCESSES:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
