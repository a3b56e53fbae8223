"""The rest of a month-end: the counties' fund statements (ledger) and the warning push lists.

Both are frozen by the close like the institution statements: the first close of a month
stores each county's fund statement (with the ledger flows it counts) and the warning ids
it pushed; every later run shows exactly those. What arrives later for a closed month
goes to the next close: flows as prior-period adjustments, warnings marked late.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from medassist.ledger.book import Flows
from medassist.ledger.statements import Prior, basis, fund_statements
from medassist.monthend.pushlist import COLUMNS, DEPARTMENTS, push_lists
from medassist.stream.topics import Topics

Warning = bytes | str | dict[str, Any] | None


@dataclass(frozen=True)
class Companions:
    """What the close reads besides the instructions: the ledger's flows now and the monitoring topic."""

    flows: Flows
    flows_source: str
    warnings: Sequence[Warning]


def load(bootstrap: str, redis_url: str, topics: Topics) -> Companions:
    """The Redis ledger's flows (rebuilt from the topics when it is empty) and every warning so far."""
    from medassist.ledger.redis_book import RedisBook
    from medassist.monthend.pushlist import read_warnings
    from medassist.state.redis_client import sync_client

    book = RedisBook(sync_client(redis_url), topics.prefix)
    if book.counties():
        flows, source = book.load_flows(), "redis ledger"
    else:
        from medassist.ledger.consumer import rebuild

        flows, source = rebuild(bootstrap, topics)[0].load_flows(), "rebuilt from topics"
    return Companions(flows, source, read_warnings(bootstrap, topics.monitoring))


# ---- freezing, at the first close of a month (pure) ------------------------------------------


def freeze_funds(month: str, flows: Flows, source: str, records: dict[str, dict[str, Any]],
                 closed_at: str) -> dict[str, Any]:
    """The close's "funds": statements chained to the last close that froze some, and the flows they count."""
    prev = max((m for m, r in records.items() if m < month and r.get("funds")), default=None)
    prior = None
    if prev is not None:
        frozen = records[prev]["funds"]
        prior = Prior(prev, {s["county"]: s for s in frozen["statements"]}, frozen["basis"])
    statements = [{"type": "fund_statement", **s, "closed_at": closed_at}
                  for s in fund_statements(flows, month, prior=prior)]
    return {"source": source, "previous_close": prev, "statements": statements, "basis": basis(flows, month)}


def _month_of(item: Warning) -> str | None:
    try:
        w = item if isinstance(item, dict) else orjson.loads(item or b"")
        day = w.get("setl_date") if isinstance(w, dict) else None
    except orjson.JSONDecodeError:
        return None
    return day[:7] if isinstance(day, str) else None


def freeze_pushed(month: str, warnings: Sequence[Warning], closed: Collection[str],
                  records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The warning ids this close pushes: those of `month`, and (late) those of closed months not pushed yet.

    Only closes that recorded their pushes count as closed here: a month closed before
    push lists were frozen has no record of what it pushed, so nothing is guessed late.
    """
    done = {m: r["pushed"] for m, r in records.items() if r.get("pushed") is not None}
    before = {w for p in done.values() for w in [*p["on_time"], *p["late"]]}
    lists = push_lists(warnings, month)
    on_time = sorted({r["warning_id"] for rows in lists.lists.values() for r in rows} - before)
    late: dict[str, str] = {}
    for m in sorted({m for w in warnings if (m := _month_of(w)) and m < month and m in closed and m in done}):
        for rows in push_lists(warnings, m).lists.values():
            late.update({r["warning_id"]: m for r in rows if r["warning_id"] not in before})
    return {"on_time": on_time, "late": dict(sorted(late.items())), "rejected": lists.rejected[:50]}


# ---- showing a stored close ------------------------------------------------------------------


def pushed_rows(month: str, pushed: dict[str, Any], warnings: Sequence[Warning]) -> tuple[dict[str, list], list]:
    """({department: rows} of the stored ids, rebuilt from the topic; ids no longer on the topic)."""
    out: dict[str, list[dict[str, Any]]] = {d: [] for d in DEPARTMENTS}
    want = {month: set(pushed["on_time"])}
    for wid, m in pushed["late"].items():
        want.setdefault(m, set()).add(wid)
    found: set[str] = set()
    for m in sorted(want, key=lambda m: (m != month, m)):  # the month's own first, then late by month
        for dept, rows in push_lists(warnings, m).lists.items():
            for r in rows:
                if r["warning_id"] in want[m]:
                    found.add(r["warning_id"])
                    out[dept].append({**r, "late": m != month})
    missing = sorted(set().union(*want.values()) - found)
    return out, missing


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[*COLUMNS, "late"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def show(record: dict[str, Any], warnings: Sequence[Warning] | None, out_dir: str | None) -> dict[str, Any]:
    """Summary entries (and files in out_dir) for the frozen fund statements and push lists."""
    month: str = record["month"]
    summary: dict[str, Any] = {}
    funds = record.get("funds")
    if funds is None:
        summary["fund_statements"] = {"error": "this close froze no fund statements (closed without the ledger)"}
    else:
        sts = funds["statements"]
        summary["fund_statements"] = {
            "counties": len(sts), "source": funds["source"], "previous_close": funds["previous_close"],
            "prior_period_adjustment_lines": sum(len(s["prior_period_adjustments"]["lines"]) for s in sts),
            "flagged": [f"{s['county']}:{c['check']}" for s in sts for c in s["checks"] if c["flagged"]]}
        if out_dir is not None:
            p = Path(out_dir) / f"fund-statements-{month}.jsonl"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in sts))
            summary["fund_statements"]["file"] = str(p)
    pushed = record.get("pushed")
    if pushed is None or warnings is None:
        summary["push_lists"] = {"error": "this close froze no push lists (closed without the monitoring topic)"}
        return summary
    lists, missing = pushed_rows(month, pushed, warnings)
    summary["push_lists"] = {d: len(rows) for d, rows in lists.items()}
    summary["push_lists"].update(late=len(pushed["late"]), rejected=pushed["rejected"], missing=missing)
    if out_dir is not None:
        for dept, rows in lists.items():
            (Path(out_dir) / f"pushlist-{dept}-{month}.csv").write_text(to_csv(rows), encoding="utf-8-sig")
    return summary
