"""`medassist ...`: thin; each command calls the module that does the work.

Adding a subcommand: write `_name(args) -> int`, then one `command(...)` call in build_parser()
with a one-line purpose and an example; give every option a `help` (its default is shown for
you). Check arguments with `type=` functions from medassist.argtypes, so a wrong value is refused
before anything starts; raise medassist.errors.UsageError / Unreachable / CommandError for what
can only be found out later: main() prints it in one line and exits with its code
(docs/operations.md). tests/ops/test_cli_help.py holds every subcommand to this.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

import orjson

from medassist import argtypes
from medassist.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CommandError


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default (not for switches or options without one), keeps examples as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, argparse.SUPPRESS) or isinstance(action, argparse._HelpAction):
            return action.help
        return super()._get_help_string(action)


Handler = Callable[[argparse.Namespace], int]


def command(sub: Any, name: str, func: Handler, purpose: str, example: str,
            starts_processes: bool = False) -> argparse.ArgumentParser:
    """A subcommand with its one-line purpose (in `medassist -h` and on top of its own help) and an example."""
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=purpose, description=f"{purpose}\n\nexample:\n  {example}",
        formatter_class=HelpFormatter)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="on an error, print the whole traceback")
    p.set_defaults(func=func, starts_processes=starts_processes)
    return p


def add_bootstrap(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap", type=argtypes.bootstrap, metavar="HOST:PORT",
                   help="Kafka bootstrap servers (default: MEDASSIST_BOOTSTRAP, else the running `medassist up`)")


def add_redis(p: argparse.ArgumentParser) -> None:
    p.add_argument("--redis", type=argtypes.redis_url, metavar="URL",
                   help="Redis URL (default: MEDASSIST_REDIS_URL, else the running `medassist up`)")


# -- the commands ----------------------------------------------------------------------------------

def _replay(args: argparse.Namespace) -> int:
    from medassist.replay import replay_file

    try:
        replay_file(args.file)
    except BrokenPipeError:
        return 0  # the reader went away (| head): not our failure
    except OSError as e:
        raise CommandError(f"cannot read {args.file}: {e.strerror or e}") from None
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from medassist.ops.run import run

    for s, check in _services(args, start_missing=True):
        check(s)
    summary = run(args.file, workers=args.workers, decisions_out=args.decisions,
                  instructions_out=args.instructions, bootstrap=args.bootstrap, redis_url=args.redis,
                  partitions=args.partitions, prefix=args.prefix, timeout_s=args.timeout,
                  deadletters_out=args.deadletters)
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    from medassist.stream.config import WorkerConfig
    from medassist.stream.worker import run_worker

    _check_services(args)
    cfg = WorkerConfig.from_env(bootstrap=args.bootstrap, redis_url=args.redis)
    if args.ensure_topics:
        from medassist.stream.topics import ensure_topics

        ensure_topics(cfg.bootstrap, cfg.topics.all(), cfg.partitions)
    run_worker(cfg, loglevel=args.loglevel)
    return EXIT_OK


def _feed(args: argparse.Namespace) -> int:
    from medassist.stream.feed import feed_file
    from medassist.stream.topics import Topics

    _check_services(args, redis=False)
    topics = Topics(_prefix(args))
    n = feed_file(args.bootstrap, topics.events, args.file)
    print(f"fed {n} events to {topics.events}", file=sys.stderr)
    if args.wait:
        import os

        from medassist.ops.cluster import end_total, wait_processed

        group = os.environ.get("MEDASSIST_GROUP") or f"{topics.prefix}-workers"  # what `up` runs
        try:
            wait_processed(args.bootstrap, group, topics.events, end_total(args.bootstrap, topics.events),
                           args.wait_timeout)
        except TimeoutError as e:
            raise CommandError(f"{e}: are the workers (group {group}) running? `medassist up` starts them") from None
    return EXIT_OK


def _tail(args: argparse.Namespace) -> int:
    from medassist.stream.tail import tail
    from medassist.stream.topics import Topics

    _check_services(args, redis=False)
    t = Topics(_prefix(args))
    names = {"events": t.events, "decisions": t.decisions, "instructions": t.instructions,
             "deadletters": t.deadletters, "reconciliation": t.reconciliation, "monitoring": t.monitoring}
    try:
        topic = names.get(args.topic, args.topic)
        tail(args.bootstrap, topic, follow=args.follow, readable=topic.endswith(".deadletters") and not args.json)
    except BrokenPipeError:
        pass
    return EXIT_OK


def _sample(args: argparse.Namespace) -> int:
    from medassist.ops.demo import write_sample

    n = write_sample(args.out, args.people, args.seed)
    print(f"wrote {n} events for {args.people} people to {args.out}", file=sys.stderr)
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from medassist.ops.demo import demo

    summary = demo(people=args.people, workers=args.workers, seed=args.seed)
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return EXIT_OK if summary["matches_replay"] else EXIT_FAILED


def _up(args: argparse.Namespace) -> int:
    from medassist.ops import up

    if args.print_env:
        return up.print_env()
    return up.up(workers=args.workers, partitions=args.partitions, prefix=args.prefix, workdir=args.dir)


def _down(args: argparse.Namespace) -> int:
    from medassist.ops import up

    return up.down()


def _ledger(args: argparse.Namespace) -> int:
    from medassist.ledger.cli import ledger_command

    _check_services(args)
    return ledger_command(args)


def _month_end(args: argparse.Namespace) -> int:
    from medassist.monthend.cli import month_end_command

    _check_services(args)
    return month_end_command(args)


def _whatif(args: argparse.Namespace) -> int:
    from medassist.whatif.command import whatif_command

    if args.shadow:
        _check_services(args)  # the shadow group runs on the cluster's broker and Redis
    return whatif_command(args)


def _bench(args: argparse.Namespace) -> int:
    from medassist.bench import run_bench

    return run_bench(args)


def _policy(args: argparse.Namespace) -> int:
    from medassist import policy_commands

    if args.policy_command == "check":
        return policy_commands.check(args.dir)
    return policy_commands.show(args.policy, args.on, args.json, args.dir)


# -- settings and reachability ---------------------------------------------------------------------

def _prefix(args: argparse.Namespace) -> str:
    from medassist.ops.settings import topic_prefix
    from medassist.stream.topics import DEFAULT_PREFIX

    return topic_prefix(getattr(args, "prefix", None)) or DEFAULT_PREFIX


def _services(args: argparse.Namespace, redis: bool = True,
              start_missing: bool = False) -> list[tuple[Any, Callable[[Any], None]]]:
    """(setting, check) for the broker and Redis this command uses; fills args.bootstrap/args.redis.

    With `start_missing` (run), a service given neither by flag nor environment is left None:
    the command starts its own."""
    from medassist.ops import reach, settings

    out: list[tuple[Any, Callable[[Any], None]]] = []
    wanted = [("bootstrap", settings.bootstrap, reach.check_broker)]
    if redis:
        wanted.append(("redis", settings.redis_url, reach.check_redis))
    for attr, resolve, check in wanted:
        if start_missing and not getattr(args, attr, None):
            continue  # `run` starts its own unless told where they are (the environment is not asked)
        s = resolve(getattr(args, attr, None))
        setattr(args, attr, s.value)
        out.append((s, check))
    if not start_missing and getattr(args, "prefix", None) is None and "prefix" in args:
        args.prefix = _prefix(args)
    return out


def _check_services(args: argparse.Namespace, redis: bool = True) -> None:
    for s, check in _services(args, redis=redis):
        check(s)


# -- the parser ------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="medassist", formatter_class=HelpFormatter,
        description="Medical-assistance settlement cluster. `medassist COMMAND -h` explains a command.\n\n"
                    "first hour:\n  medassist demo\n  medassist up      # then, in another terminal, "
                    "the commands it prints")
    p.add_argument("--debug", action="store_true", help="on an error, print the whole traceback")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = command(sub, "replay", _replay, "run the engine over a JSONL file in memory; decisions to stdout",
                "medassist replay events.jsonl > decisions.jsonl")
    r.add_argument("file", type=argtypes.input_file, help="events, one JSON object per line")

    r = command(sub, "run", _run, "the whole cluster on this machine over a JSONL file, then a summary",
                "medassist run events.jsonl --workers 2 --deadletters dead.jsonl", starts_processes=True)
    r.add_argument("file", type=argtypes.input_file, help="events, one JSON object per line")
    r.add_argument("--workers", type=argtypes.positive_int, default=2, help="worker processes to start")
    r.add_argument("--decisions", metavar="OUT.jsonl", type=argtypes.output_file,
                   help="write every decision message here")
    r.add_argument("--instructions", metavar="OUT.jsonl", type=argtypes.output_file,
                   help="write every payment instruction here")
    r.add_argument("--deadletters", metavar="OUT.jsonl", type=argtypes.output_file,
                   help="write every dead letter here (reason, file and line, original bytes)")
    r.add_argument("--bootstrap", type=argtypes.bootstrap, metavar="HOST:PORT",
                   help="use this Kafka instead of starting the embedded broker")
    r.add_argument("--redis", type=argtypes.redis_url, metavar="URL",
                   help="use this Redis instead of starting a redis-server")
    r.add_argument("--partitions", type=argtypes.positive_int, default=8,
                   help="partitions of the input topic (at most this many workers share the work)")
    r.add_argument("--prefix", help="topic prefix (default: a fresh one per run)")
    r.add_argument("--timeout", type=argtypes.positive_float, default=1800.0,
                   help="seconds to wait for the workers to finish every event")

    r = command(sub, "worker", _worker, "one streaming worker, configured by MEDASSIST_* environment",
                "eval \"$(medassist up --print-env)\"; medassist worker --ensure-topics")
    add_bootstrap(r)
    add_redis(r)
    r.add_argument("--ensure-topics", action="store_true", help="create missing topics first")
    r.add_argument("--loglevel", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="faust's log level")

    r = command(sub, "feed", _feed, "produce a JSONL file to the input topic, keyed by psn_no",
                "medassist feed events.jsonl")
    r.add_argument("file", type=argtypes.input_file, help="events, one JSON object per line")
    add_bootstrap(r)
    r.add_argument("--prefix", help="topic prefix (default: MEDASSIST_TOPIC_PREFIX, else `up`'s, else medassist)")
    r.add_argument("--wait", action="store_true",
                   help="then wait until the workers have finished every event on the topic (progress bar)")
    r.add_argument("--wait-timeout", type=argtypes.positive_float, default=600.0, metavar="SECONDS",
                   help="with --wait: give up after this long (exit 1)")

    r = command(sub, "tail", _tail, "print a topic's messages (dead letters: reason, source line, bytes)",
                "medassist tail deadletters")
    r.add_argument("topic", help="events|decisions|instructions|deadletters|reconciliation|monitoring, "
                                 "or a full topic name")
    add_bootstrap(r)
    r.add_argument("--prefix", help="topic prefix (default: MEDASSIST_TOPIC_PREFIX, else `up`'s, else medassist)")
    r.add_argument("-f", "--follow", action="store_true", help="keep waiting for new messages")
    r.add_argument("--json", action="store_true", help="dead letters as JSON lines, not for reading")

    r = command(sub, "sample", _sample, "write a seeded year of events for N people (JSONL)",
                "medassist sample events.jsonl --people 300")
    r.add_argument("out", metavar="OUT.jsonl", type=argtypes.output_file, help="the file to write")
    r.add_argument("--people", type=argtypes.positive_int, default=300, help="people in the sample")
    r.add_argument("--seed", type=int, default=7, help="random seed (same seed, same file)")

    r = command(sub, "demo", _demo, "sample data -> the whole cluster -> summary, checked against replay",
                "medassist demo --people 300", starts_processes=True)
    r.add_argument("--people", type=argtypes.positive_int, default=300, help="people in the sample")
    r.add_argument("--workers", type=argtypes.positive_int, default=2, help="worker processes to start")
    r.add_argument("--seed", type=int, default=7, help="random seed of the sample")

    r = command(sub, "up", _up, "start the embedded stack and keep it up until Ctrl-C; prints the settings",
                "medassist up --workers 2      # then in another terminal: eval \"$(medassist up --print-env)\"",
                starts_processes=True)
    r.add_argument("--workers", type=argtypes.positive_int, default=2, help="worker processes to start")
    r.add_argument("--partitions", type=argtypes.positive_int, default=8, help="partitions of each topic")
    r.add_argument("--prefix", default="medassist", help="topic prefix")
    r.add_argument("--dir", metavar="DIR", type=argtypes.output_dir,
                   help="keep logs, Redis's AOF and month-end exports here (default: a new temp folder)")
    r.add_argument("--print-env", action="store_true",
                   help="only print the running `up`'s export lines (for eval) and exit")

    command(sub, "down", _down, "stop everything `medassist up` started", "medassist down")

    r = command(sub, "ledger", _ledger, "county fund accounts: consume, statement, movements, interest",
                "medassist ledger statement --month 2023-05")
    from medassist.ledger.cli import add_arguments as ledger_arguments

    ledger_arguments(r)

    r = command(sub, "month-end", _month_end,
                "close a month: institution statements, reconciliation, exports",
                "medassist month-end --month 2023-05 --out exports/")
    from medassist.monthend.cli import add_arguments

    add_arguments(r)

    r = command(sub, "policy", _policy, "check policy files; show a policy's parameters in force on a date",
                "medassist policy show qinhuangdao-2023 --on 2023-06-01")
    psub = r.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    q = command(psub, "check", _policy, "load and check every policy file; non-zero exit on any fault",
                "medassist policy check")
    q.add_argument("dir", nargs="?", help="directory of policy files (default: MEDASSIST_POLICIES or the package's)")
    q = command(psub, "show", _policy, "a policy's parameters in force on a date, each with its clause",
                "medassist policy show qinhuangdao-2023 --on 2023-06-01 --json")
    q.add_argument("policy", help="policy_id, e.g. qinhuangdao-2023")
    q.add_argument("--on", metavar="YYYY-MM-DD", help="the day (default: today)")
    q.add_argument("--json", action="store_true", help="one JSON object, for tools")
    q.add_argument("--dir", help="directory of policy files")

    r = command(sub, "whatif", _whatif, "a year of events under a changed policy: its cost, who gains or loses",
                "medassist whatif events.jsonl --set qinhuangdao-2023:caps.inpatient=30000 --out whatif/",
                starts_processes=True)
    from medassist.whatif.command import add_arguments as whatif_arguments

    whatif_arguments(r)

    r = command(sub, "bench", _bench, "benchmarks; the last line is one JSON object of figures",
                "medassist bench replay --people 20000", starts_processes=True)
    kinds = r.add_subparsers(dest="what", required=True, metavar="BENCHMARK")
    b = command(kinds, "replay", _bench, "the engine in memory: settlements per second",
                "medassist bench replay --people 20000")
    b.add_argument("--people", type=argtypes.positive_int, help="people in the data set (default 100000)")
    b.add_argument("--seed", type=int, default=7, help="random seed of the data set")
    b = command(kinds, "stream", _bench, "the cluster: throughput, then latency at an offered rate",
                "medassist bench stream --workers 2 --events 20000", starts_processes=True)
    b.add_argument("--workers", type=argtypes.positive_int, default=1, help="worker processes")
    b.add_argument("--events", type=argtypes.positive_int, help="events in the throughput run")
    b.add_argument("--people", type=argtypes.positive_int, help="people (default: from --events)")
    b.add_argument("--seed", type=int, default=7, help="random seed of the data set")
    b.add_argument("--rate", type=argtypes.positive_float, default=500.0,
                   help="settlements/s offered in the latency run")
    b = command(kinds, "whatif", _bench, "a year of events under one variant, on every core",
                "medassist bench whatif --events 1000000", starts_processes=True)
    b.add_argument("--events", type=argtypes.positive_int, help="events in the year (default 1000000)")
    b.add_argument("--seed", type=int, default=7, help="random seed of the data set")
    b.add_argument("--workers", type=argtypes.positive_int, help="processes (default: one per core)")
    b.add_argument("--set", action="append", metavar="POLICY:KEY.PATH=VALUE",
                   help="the change (repeatable; default qinhuangdao-2023:caps.regular_total=30000)")
    b.add_argument("--full", action="store_true", help="replay every person under the variant")
    b = command(kinds, "month-end", _bench, "closing a month over N settlements",
                "medassist bench month-end --events 100000", starts_processes=True)
    b.add_argument("--events", type=argtypes.positive_int, help="settlements in the month")
    b.add_argument("--seed", type=int, default=7, help="random seed of the data set")
    b = command(kinds, "state", _bench, "Redis bytes per person over years, bounded vs unbounded state",
                "medassist bench state --people 1000 --years 5", starts_processes=True)
    b.add_argument("--people", type=argtypes.positive_int, help="persons (default 1000)")
    b.add_argument("--years", type=argtypes.positive_int, help="years of history (default 5, from 2023)")
    b.add_argument("--settlements", type=float, help="settlements per person a year (default 30)")
    b.add_argument("--seed", type=int, default=7, help="random seed of the data set")
    return p


# Commands that start processes of their own (broker, redis-server, workers) must stop them
# when they are told to stop: SIGTERM then unwinds like Ctrl-C, through their cleanup.
def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # -h, or a refused argument (argparse has printed why): 0 or 2
        return int(e.code or 0)
    if getattr(args, "starts_processes", False):
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # Replay, whatif and a worker hold every person's state: millions of small long-lived objects that
    # the default first-generation threshold (700 allocations) makes the collector rescan over and over.
    # A larger one does the same collections less often (bench replay, 100,000 people: engine pass
    # 19.4 -> 13.5 s, parse 23.6 -> 19.2 s); decisions cannot change, only when garbage is freed.
    gc.set_threshold(50_000, 20, 100)
    name = " ".join(x for x in (args.command, getattr(args, "what", None)) if x)
    try:
        return int(args.func(args))
    except CommandError as e:
        if args.debug:
            traceback.print_exc()
        print(f"medassist {name}: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:  # the reader went away (| head): not our failure
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return EXIT_OK
    except KeyboardInterrupt:
        print(f"medassist {name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - one line for the operator; the traceback on --debug
        if args.debug:
            traceback.print_exc()
        first = (str(e).strip().splitlines() or [""])[0]
        print(f"medassist {name}: {type(e).__name__}: {first}" + ("" if args.debug else
              " (run again with --debug for the traceback)"), file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
