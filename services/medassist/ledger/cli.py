"""Arguments and entry of `medassist ledger ...` (kept here so cli.py stays thin).

  consume                 instructions + fund movements -> Redis (runs until stopped, or --until-end)
  statement --month M     monthly fund statements per county, JSON lines (from Redis, or --rebuild from topics)
  movements FILE.jsonl    check fund movements and publish the good ones to <prefix>.funds
  interest --quarter Q    publish each county's quarterly interest transfer (expenditure -> special)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from medassist import argtypes
from medassist.security.kafka import kafka_options


def add_arguments(r: argparse.ArgumentParser) -> None:
    r.add_argument("action", choices=["consume", "statement", "movements", "interest"],
                   help="consume: post instructions and fund movements (runs until stopped); statement: a month's "
                        "fund statements; movements: check and publish FILE; interest: the quarter's transfer")
    r.add_argument("file", nargs="?", type=argtypes.input_file, help="movements: a JSONL file of fund movements")
    r.add_argument("--month", type=argtypes.month, help="statement: YYYY-MM")
    r.add_argument("--quarter", type=argtypes.quarter, help="interest: YYYYQn")
    r.add_argument("--rebuild", action="store_true", help="statement: from the topics, not from Redis")
    r.add_argument("--until-end", action="store_true", help="consume: stop once both topics are posted")
    r.add_argument("--group", default="medassist-ledger", help="consume: consumer group for the offsets")
    r.add_argument("--metrics-port", type=argtypes.port, help="consume: expose Prometheus metrics on this port")
    r.add_argument("--bootstrap", help="Kafka bootstrap H:P (default MEDASSIST_BOOTSTRAP)")
    r.add_argument("--redis", help="Redis URL (default MEDASSIST_REDIS_URL)")
    r.add_argument("--prefix", help="topic prefix (default MEDASSIST_TOPIC_PREFIX or medassist)")


def _fail(msg: str) -> int:
    print(f"medassist ledger: {msg}", file=sys.stderr)
    return 2


def ledger_command(args: argparse.Namespace) -> int:
    from medassist.ledger.redis_book import RedisBook
    from medassist.state.redis_client import sync_client
    from medassist.stream.config import WorkerConfig
    from medassist.stream.topics import Topics

    cfg = WorkerConfig.from_env(bootstrap=args.bootstrap, redis_url=args.redis)
    topics = Topics(args.prefix) if args.prefix else cfg.topics
    book = RedisBook(sync_client(cfg.redis_url), topics.prefix)
    if args.action == "consume":
        return _consume(args, cfg.bootstrap, book, topics)
    if args.action == "statement":
        return _statement(args, cfg.bootstrap, book, topics)
    if args.action == "movements":
        return _movements(args, cfg.bootstrap, topics)
    return _interest(args, cfg.bootstrap, book, topics)


def _consume(args: argparse.Namespace, bootstrap: str, book: Any, topics: Any) -> int:
    from medassist.ledger.consumer import LedgerConsumer, funds_topic
    from medassist.ledger.metrics import LedgerMetrics
    from medassist.stream.topics import ensure_topics

    metrics = LedgerMetrics()
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, registry=metrics.registry)
    ensure_topics(bootstrap, [topics.instructions, funds_topic(topics)])
    c = LedgerConsumer(bootstrap, book, topics, metrics, group=args.group)
    try:
        s = c.run(until_end=args.until_end)
    except KeyboardInterrupt:
        s = c.summary
    finally:
        c.close()
    print(orjson.dumps({"posted": s.posted, "duplicates": s.duplicates, "rejected": s.rejected},
                       option=orjson.OPT_INDENT_2).decode())
    return 0


def _statement(args: argparse.Namespace, bootstrap: str, book: Any, topics: Any) -> int:
    from medassist.ledger.consumer import rebuild
    from medassist.ledger.statements import fund_statements

    month = args.month or ""
    if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit() or not "01" <= month[5:] <= "12":
        return _fail("--month YYYY-MM is required")
    source = rebuild(bootstrap, topics)[0] if args.rebuild else book
    for st in fund_statements(source, month):
        sys.stdout.buffer.write(orjson.dumps(st) + b"\n")
    return 0


def _publish(bootstrap: str, topic: str, movements: list[dict[str, Any]]) -> None:
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap.split(","), **kafka_options())
    for mv in movements:
        p.send(topic, key=mv["county"].encode(), value=orjson.dumps(mv))
    p.flush()
    p.close()


def _movements(args: argparse.Namespace, bootstrap: str, topics: Any) -> int:
    from medassist.ledger.consumer import funds_topic
    from medassist.ledger.postings import LedgerError, from_movement
    from medassist.stream.topics import ensure_topics

    if not args.file:
        return _fail("movements: FILE.jsonl is required")
    good, bad = [], 0
    try:
        with open(args.file, "rb") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    mv = orjson.loads(line)
                    from_movement(mv)  # the same checks the ledger makes: refuse here, not later
                    good.append(mv)
                except (orjson.JSONDecodeError, LedgerError) as e:
                    bad += 1
                    print(f"{args.file}:{n}: {e if isinstance(e, LedgerError) else 'not valid JSON'}",
                          file=sys.stderr)
    except OSError as e:
        return _fail(f"cannot read {args.file}: {e.strerror or e}")
    ensure_topics(bootstrap, [funds_topic(topics)])
    _publish(bootstrap, funds_topic(topics), good)
    print(f"published {len(good)} fund movements to {funds_topic(topics)}; {bad} refused", file=sys.stderr)
    return 0


def _interest(args: argparse.Namespace, bootstrap: str, book: Any, topics: Any) -> int:
    from medassist.ledger.consumer import funds_topic
    from medassist.ledger.statements import interest_transfer, quarter_months

    try:
        quarter_months(args.quarter or "")
    except ValueError:
        return _fail("--quarter YYYYQn is required")
    flows = book.load_flows()
    moves = [m for c in sorted(flows) if (m := interest_transfer(flows, c, args.quarter)) is not None]
    _publish(bootstrap, funds_topic(topics), moves)
    for m in moves:
        sys.stdout.buffer.write(orjson.dumps(m) + b"\n")
    return 0
