"""Closing a month: idempotent and final.

The first close computes the statements and stores them; every later call for that month
returns exactly what was stored, whatever arrived since (late items wait for the next close).
Given the companions (ledger flows, warnings), the same put-once freezes the counties' fund
statements and the warning ids pushed.

Which items a close took is not a list of ids (a province's month has millions) but where it
read the topic to (`read_to`, the end offset of every partition when it read): an item whose
first copy sits below that offset was seen by that close. `taken_by` replays the rule of
`statement.close_month` over the stored closes in the order they were made: an item was taken
by the close of its own month, or else by the first later close made after its month was closed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from medassist.engine.dates import SHANGHAI
from medassist.monthend.closes import CloseStore
from medassist.monthend.companions import Companions, freeze_funds, freeze_pushed
from medassist.monthend.details import DetailRows, MemoryDetails
from medassist.monthend.instructions import Item
from medassist.monthend.statement import close_month

MAX_ATTEMPTS = 5


def valid_month(text: str) -> bool:
    return (len(text) == 7 and text[4] == "-" and (text[:4] + text[5:]).isdigit()
            and 1 <= int(text[5:]) <= 12)


def taken_by(records: dict[str, dict[str, Any]]) -> Callable[[Item], bool]:
    """Whether an item is on a statement of one of these closes already."""
    order = sorted(records.values(), key=lambda r: (r.get("seq", 0), r.get("closed_at_unix", 0.0)))
    legacy = {i for r in order for i in r.get("instruction_ids", ())}  # closes stored before read_to
    limits: dict[tuple[str, int], int] = {}

    def limit(month: str, partition: int) -> int:
        """Items of `month` on `partition` below this offset were taken by some close."""
        t, closed = 0, set()
        for r in order:
            if "read_to" in r and (r["month"] == month or (r["month"] > month and month in closed)):
                t = max(t, int(r["read_to"].get(str(partition), 0)))
            closed.add(r["month"])
        return t

    def taken(it: Item) -> bool:
        if legacy and it.instruction_id in legacy:
            return True
        key = (it.month, it.at[0])
        t = limits.get(key)
        if t is None:
            t = limits[key] = limit(*key)
        return it.at[1] < t

    return taken


def close(month: str, items: Iterable[Item], store: CloseStore, now: datetime | None = None,
          companions: Callable[[], Companions] | None = None) -> tuple[dict[str, Any], bool]:
    """(the close record of `month`, True if this call closed it).

    `items` is read once per attempt: a list, an `Intake`, or a streaming source (which also
    says `read_to`, where it read the topic to, and keeps the detail rows on disk).
    `companions` is called (once) only when the month is really closed now: a rerun
    needs no ledger. Without it the close holds the institution statements only.
    """
    if not valid_month(month):
        raise ValueError(f"month {month!r} is not YYYY-MM")
    extra: list[Companions] = []
    for _ in range(MAX_ATTEMPTS):
        seen = store.closed_months()
        if month in seen:
            stored = store.get(month)
            if stored is not None:
                return stored, False
        closed_at = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).isoformat(timespec="seconds")
        records = store.records()
        make_rows = getattr(items, "details", None)
        rows: DetailRows = make_rows() if callable(make_rows) else MemoryDetails()
        try:
            c = close_month(month, items, seen, taken_by(records), closed_at, rows, keep_ids=False)
            read_to = getattr(items, "read_to", None) or c.read_to
            record = {"month": month, "closed_at": closed_at, "closed_at_unix": _unix(closed_at),
                      "seq": len(seen), "read_to": read_to, "statements": c.statements,
                      "instruction_count": c.instruction_count, "summary": c.summary}
            if companions is not None:
                if not extra:
                    extra.append(companions())
                x = extra[0]
                record["funds"] = freeze_funds(month, x.flows, x.flows_source, records, closed_at)
                record["pushed"] = freeze_pushed(month, x.warnings, seen, records)
            done = store.put_once(month, record, seen, ((code, rows.get(code, {})) for code in rows.codes()))
        finally:
            closer = getattr(rows, "close", None)
            if callable(closer):
                closer()
        if done is not None:
            return done
    raise RuntimeError(f"closing {month}: other closes kept changing the closed months")


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()

