"""`medassist run FILE`: the whole cluster on this machine, for one file, then a summary."""

from __future__ import annotations

import collections
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson

from medassist.engine.money import yuan
from medassist.ops.cluster import WorkerProcess, end_total, wait_processed
from medassist.ops.embedded import RedisServer, TansuBroker, embedded_signing_keys
from medassist.replay import invalid_listing
from medassist.stream.config import WorkerConfig
from medassist.stream.feed import feed_file
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, ensure_topics


def run(file: str, workers: int = 2, decisions_out: str | None = None, instructions_out: str | None = None,
        bootstrap: str | None = None, redis_url: str | None = None, partitions: int = 8,
        prefix: str | None = None, timeout_s: float = 1800.0, deadletters_out: str | None = None) -> dict[str, Any]:
    t_start = time.monotonic()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="medassist-run-")))
        embedded_signing_keys(workdir)
        if bootstrap is None:
            broker = stack.enter_context(TansuBroker(workdir=workdir / "tansu"))
            bootstrap = broker.bootstrap
            print(f"started Tansu broker on {bootstrap}", file=sys.stderr)
        if redis_url is None:
            rs = stack.enter_context(RedisServer(workdir=workdir / "redis"))
            redis_url = rs.url
            print(f"started redis-server on {redis_url} (AOF, appendfsync always)", file=sys.stderr)
        # A fresh prefix per run on a shared broker: earlier runs' messages never mix in.
        topics = Topics(prefix or f"medassist-run-{int(time.time() * 1000)}")
        cfg = WorkerConfig(bootstrap=bootstrap, redis_url=redis_url, topics=topics,
                           group=f"{topics.prefix}-workers", partitions=partitions,
                           fast_rebalance=True, datadir=str(workdir / "faust"))
        ensure_topics(bootstrap, topics.all(), partitions)
        procs = [WorkerProcess(cfg, f"worker-{i}", workdir).start() for i in range(workers)]
        for proc in procs:
            stack.callback(proc.stop)
        print(f"started {workers} workers (group {cfg.group}, {partitions} partitions)", file=sys.stderr)
        fed = feed_file(bootstrap, topics.events, file)
        expected = end_total(bootstrap, topics.events)
        print(f"fed {fed} events to {topics.events}", file=sys.stderr)
        try:
            seconds = wait_processed(bootstrap, cfg.group, topics.events, expected, timeout_s, procs,
                                     restarts=3 * workers)
        except (TimeoutError, RuntimeError):
            for p in procs:
                print(f"--- {p.log_path.name} (tail)\n" + "\n".join(
                    p.log_path.read_text(errors="replace").splitlines()[-20:]), file=sys.stderr)
            raise
        decisions = list(read_topic(bootstrap, topics.decisions))
        instructions = list(read_topic(bootstrap, topics.instructions))
        dead = list(read_topic(bootstrap, topics.deadletters))
        for path, rows in ((decisions_out, decisions), (instructions_out, instructions), (deadletters_out, dead)):
            if path:
                with open(path, "wb") as f:
                    f.writelines(r + b"\n" for r in rows)
        summary = summarise(fed, decisions, instructions, dead, read_inputs(file))
        summary.update(workers=workers, partitions=partitions, processing_seconds=round(seconds, 2),
                       wall_seconds=round(time.monotonic() - t_start, 2))
        print(sentence(summary["accounting"]), file=sys.stderr)
        lines = invalid_lines(dead)
        if lines:
            where = deadletters_out or "run again with --deadletters OUT.jsonl to keep them"
            print(f"{file}: {invalid_listing(lines)}; see {where}", file=sys.stderr)
    return summary


def invalid_lines(dead: list[bytes]) -> list[int]:
    """Line numbers of the fed file's invalid lines, from the dead letters' origin."""
    out = set()
    for raw in dead:
        d = orjson.loads(raw)
        if d["status"] == "invalid" and d.get("origin"):
            out.add(int(d["origin"]["line"]))
    return sorted(out)


def decision_key(d: dict[str, Any], i: int) -> tuple[Any, ...]:
    """Decisions carry no id of their own; (event, settlement, type) names one. Unnamed invalid
    events (no event_id) cannot be told apart, so each counts once per message."""
    return (d["event_id"], d["setl_id"], d["type"]) if d["event_id"] is not None else ("#", i)


def read_inputs(path: str) -> tuple[collections.Counter[str], set[str]]:
    """(lines by event type, the eligibility events' ids): what the accounting needs of the input."""
    types: collections.Counter[str] = collections.Counter()
    eligibility: set[str] = set()
    with open(path, "rb") as f:
        for line in f:
            if line.isspace():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                types["unreadable"] += 1
                continue
            kind = obj.get("type") if isinstance(obj, dict) else None
            types[kind if isinstance(kind, str) else "unreadable"] += 1
            if kind == "eligibility" and isinstance(obj.get("event_id"), str):
                eligibility.add(obj["event_id"])
    return types, eligibility


def account(fed: int, unique_d: dict[tuple[Any, ...], dict[str, Any]], decision_messages: int,
            inputs: tuple[collections.Counter[str], set[str]], dead: list[dict[str, Any]]) -> dict[str, Any]:
    """How every fed event is accounted for, so that a reader can add it up.

    events_fed = decided + eligibility_updates + invalid: an eligibility update decides nothing of
    its own (it changes the person's status); when an approval reaches back, the settlements it
    reaches are decided again and those decisions carry the approval's event_id (reach_back_decisions,
    not events). Redelivered messages are published again after a crash or rebalance and counted once.
    """
    types, eligibility_ids = inputs
    invalid = [d for d in unique_d.values() if d["status"] == "invalid"]
    valid = [d for d in unique_d.values() if d["status"] != "invalid"]
    own = {d["event_id"] for d in valid if d["event_id"] not in eligibility_ids}
    reach_back = sum(1 for d in valid if d["event_id"] in eligibility_ids)
    invalid_eligibility = sum(1 for d in invalid if d["event_id"] in eligibility_ids)
    eligibility_updates = types["eligibility"] - invalid_eligibility
    unique_dead = {d["dead_letter_id"]: d for d in dead}
    refused = sum(1 for d in unique_dead.values() if d["status"] != "invalid")
    return {
        "events_fed": fed,
        "decided": len(own),
        "eligibility_updates": eligibility_updates,
        "invalid": len(invalid),
        "adds_up": fed == len(own) + eligibility_updates + len(invalid),
        "reach_back_decisions": reach_back,
        "redelivered_messages": decision_messages - len(unique_d),
        "dead_lettered": {"invalid": len(unique_dead) - refused, "refused": refused},
        "how_to_read": "events_fed = decided + eligibility_updates + invalid; decisions = decided events' "
                       "decisions + reach_back_decisions + invalid; dead_lettered.invalid = invalid, and "
                       "dead_lettered.refused are decided events the platform must look at",
    }


def sentence(a: dict[str, Any]) -> str:
    """The accounting in one line for stderr."""
    eq = "=" if a["adds_up"] else "!="
    return (f"{a['events_fed']} events fed {eq} {a['decided']} decided + {a['eligibility_updates']} eligibility "
            f"updates (no decision of their own) + {a['invalid']} invalid (dead-lettered); "
            f"{a['reach_back_decisions']} decisions reached back from approvals; "
            f"{a['redelivered_messages']} redelivered messages counted once; "
            f"{a['dead_lettered']['refused']} decided events refused and dead-lettered")


def summarise(fed: int, decisions: list[bytes], instructions: list[bytes], dead: list[bytes],
              inputs: tuple[collections.Counter[str], set[str]] | None = None) -> dict[str, Any]:
    unique_d: dict[tuple[Any, ...], dict[str, Any]] = {}
    for i, raw in enumerate(decisions):
        d = orjson.loads(raw)
        unique_d[decision_key(d, i)] = d
    by_status = collections.Counter(d["status"] for d in unique_d.values())
    paid = sum(d["assistance_fen"] for d in unique_d.values())
    unique_i = {}
    for raw in instructions:
        ins = orjson.loads(raw)
        unique_i[ins["instruction_id"]] = ins  # finance deduplicates on the id; so do we
    by_kind: dict[str, dict[str, int]] = {}
    for ins in unique_i.values():
        k = by_kind.setdefault(ins["kind"], {"count": 0, "fen": 0})
        k["count"] += 1
        k["fen"] += ins["amount_fen"]
    return {
        "events_fed": fed, "decisions": len(unique_d), "decision_messages": len(decisions),
        "decisions_by_status": dict(sorted(by_status.items())),
        "net_assistance": yuan(paid), "net_assistance_fen": paid,
        "instructions": len(unique_i), "instruction_messages": len(instructions),
        "instructions_by_kind": {k: {"count": v["count"], "amount": yuan(v["fen"])}
                                 for k, v in sorted(by_kind.items())},
        "dead_letters": len({orjson.loads(r)["dead_letter_id"] for r in dead}), "dead_letter_messages": len(dead),
        **({"accounting": account(fed, unique_d, len(decisions), inputs, [orjson.loads(r) for r in dead])}
           if inputs is not None else {}),
    }
