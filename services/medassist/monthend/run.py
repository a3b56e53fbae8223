"""`medassist month-end`: read the instructions topic, close the month, publish, reconcile, export.

Order matters for safety: the close is stored before anything is published, so a crash
after storing only means the rerun republishes the same statements (same ids; consumers
deduplicate on statement_id). The counties' fund statements are frozen in the same close
and published next to the institution statements (type fund_statement).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import fastjsonschema
import orjson

from medassist.engine.dates import SHANGHAI
from medassist.monthend import companions as comp
from medassist.monthend import figures as figs
from medassist.monthend.closes import CloseStore, StoredDetails
from medassist.monthend.closing import close
from medassist.monthend.export import write_all
from medassist.monthend.instructions import StreamSource
from medassist.monthend.metrics import MonthEndMetrics
from medassist.monthend.reconcile import reconcile
from medassist.schemas import load_schema
from medassist.security.kafka import kafka_options
from medassist.state.redis_client import sync_client
from medassist.stream.topics import Topics


@dataclass(frozen=True)
class Options:
    bootstrap: str
    redis_url: str
    prefix: str = "medassist"
    out_dir: str | None = None
    figures_file: str | None = None
    figures_topic: str | None = None
    companions: bool = True  # also the ledger's fund statements and the warning push lists


def read_instructions(bootstrap: str, topic: str) -> StreamSource:
    """The instructions topic as a stream up to its end now, read (again) by each attempt to close:
    only signed ones count, clawbacks checked against what they reverse; ids, items and detail rows
    kept on disk, so that memory does not grow with the month."""
    from medassist.security.signing import verifier_from_env
    from medassist.stream.topics import end_offsets

    end = end_offsets(bootstrap, topic)

    def messages() -> Iterator[tuple[int, int, bytes]]:
        from medassist.progress import Progress, counted
        from medassist.stream.tail import read_until

        with Progress("month-end: instructions read", total=sum(end.values()), unit="messages") as bar:
            yield from counted(read_until(bootstrap, topic, end), bar)

    return StreamSource(messages, {str(p): o for p, o in end.items()}, verifier_from_env())


def load_figures(opts: Options) -> figs.Figures | None:
    if opts.figures_file is None and opts.figures_topic is None:
        return None
    out = figs.Figures()
    if opts.figures_file is not None:
        try:
            out = figs.from_file(opts.figures_file)
        except (OSError, UnicodeDecodeError) as e:
            out.errors.append(f"{opts.figures_file}: cannot read: {e}")
    if opts.figures_topic is not None:
        from medassist.stream.tail import read_topic

        figs.from_json_lines(read_topic(opts.bootstrap, opts.figures_topic), out, source=opts.figures_topic)
    return out


def publish(bootstrap: str, topic: str, messages: list[tuple[str, dict[str, Any]]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=5, **kafka_options())
    try:
        for key, value in messages:
            producer.send(topic, key=key.encode(), value=orjson.dumps(value))
        producer.flush()
    finally:
        producer.close()


_valid_fund_statement = fastjsonschema.compile(load_schema("fund_statement"))


def valid_fund_statements(statements: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """(the ones the schema accepts, "id: why" for the others): a wrong one is reported, never published."""
    good, bad = [], []
    for s in statements:
        try:
            _valid_fund_statement(s)
            good.append(s)
        except fastjsonschema.JsonSchemaValueException as e:
            bad.append(f"{s.get('statement_id')}: {e.message}")
    return good, bad


def month_end(month: str, opts: Options, metrics: MonthEndMetrics | None = None,
              now: datetime | None = None) -> dict[str, Any]:
    """Close (or re-read the close of) `month`, publish, reconcile, export; returns a summary."""
    topics = Topics(opts.prefix)
    intake = read_instructions(opts.bootstrap, topics.instructions)
    store = CloseStore(sync_client(opts.redis_url), opts.prefix)
    loaded: list[comp.Companions] = []

    def companions() -> comp.Companions:  # the ledger and the warnings, read once, and only when needed
        if not loaded:
            loaded.append(comp.load(opts.bootstrap, opts.redis_url, topics))
        return loaded[0]

    record, new = close(month, intake, store, now, companions if opts.companions else None)
    seen = intake.last  # what the close read (nothing when the month was closed before)
    statements: list[dict[str, Any]] = record["statements"]
    messages = [(s["statement_id"], s) for s in statements]
    funds, invalid = valid_fund_statements((record.get("funds") or {}).get("statements", []))
    messages += [(f["statement_id"], f) for f in funds]
    summary: dict[str, Any] = {**record["summary"], "closed_now": new,
                               "intake": {"institution_instructions": seen.items_seen,
                                          "duplicates": seen.duplicates, "conflicts": seen.conflicts,
                                          "not_institution_money": seen.not_institution_money,
                                          "errors": seen.errors, "unverified": seen.unverified,
                                          "set_aside": seen.set_aside}}
    submitted = load_figures(opts)
    result = None
    if submitted is not None:
        result = reconcile(month, statements, StoredDetails(store, month), submitted.for_month(month),
                           submitted.errors)
        result = {"type": "reconciliation_result", "closed_at": record["closed_at"], **result}
        messages.append((result["reconciliation_id"], result))
        summary["reconciliation"] = {k: len(result[k]) for k in ("matched", "differs", "details_required",
                                                                   "not_submitted")}
        summary["reconciliation"].update(difference_counts=result["difference_counts"],
                                         errors=result["errors"][:50])  # the first few say what to fix
    publish(opts.bootstrap, topics.reconciliation, messages)
    if opts.out_dir is not None:
        summary["files"] = [str(p) for p in write_all(opts.out_dir, month, statements, result, seen.set_aside)]
    if opts.companions:
        if not loaded and record.get("pushed") is not None:  # a rerun: the lists are rebuilt from the topic
            from medassist.monthend.pushlist import read_warnings

            loaded.append(comp.Companions({}, "", read_warnings(opts.bootstrap, topics.monitoring)))
        summary.update(comp.show(record, loaded[0].warnings if loaded else None, opts.out_dir))
    if invalid:
        summary.setdefault("fund_statements", {})["invalid"] = invalid
    if metrics is not None:
        metrics.record_close(record["closed_at_unix"], len(statements))
        metrics.record_unverified(seen.unverified)
        if result is not None:
            metrics.record_reconciliation(result)
    return summary


def previous_month(now: datetime) -> str:
    d = now.astimezone(SHANGHAI)
    y, m = (d.year, d.month - 1) if d.month > 1 else (d.year - 1, 12)
    return f"{y:04d}-{m:02d}"


def due_month(now: datetime, close_day: int) -> str | None:
    """The month the schedule should close now: the previous one, once day `close_day` has passed."""
    return previous_month(now) if now.astimezone(SHANGHAI).day > close_day else None


def tick(opts: Options, now: datetime, close_day: int, metrics: MonthEndMetrics | None) -> dict[str, Any] | None:
    """One round of the schedule: close the due month if it is not closed yet."""
    month = due_month(now, close_day)
    if month is None or month in CloseStore(sync_client(opts.redis_url), opts.prefix).closed_months():
        return None
    return month_end(month, opts, metrics, now)


def schedule(opts: Options, close_day: int, interval_s: float, metrics: MonthEndMetrics | None) -> None:
    """Forever: close the previous month once it is due (what the cluster runs)."""
    while True:
        try:
            summary = tick(opts, datetime.now(SHANGHAI), close_day, metrics)
            if summary is not None:
                print(orjson.dumps(summary).decode(), flush=True)
        except Exception as e:  # a broker or Redis outage: say so and try again next round
            print(f"month-end: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        time.sleep(interval_s)
