"""Closing a month: idempotent and final.

The first close computes the statements and stores them; every later call for that month
returns exactly what was stored, whatever arrived since (late items wait for the next close).
Given the companions (ledger flows, warnings), the same put-once freezes the counties' fund
statements and the warning ids pushed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from medassist.engine.dates import SHANGHAI
from medassist.monthend.closes import CloseStore
from medassist.monthend.companions import Companions, freeze_funds, freeze_pushed
from medassist.monthend.instructions import Item
from medassist.monthend.statement import close_month

MAX_ATTEMPTS = 5


def valid_month(text: str) -> bool:
    return (len(text) == 7 and text[4] == "-" and (text[:4] + text[5:]).isdigit()
            and 1 <= int(text[5:]) <= 12)


def close(month: str, items: Collection[Item], store: CloseStore, now: datetime | None = None,
          companions: Callable[[], Companions] | None = None) -> tuple[dict[str, Any], bool]:
    """(the close record of `month`, True if this call closed it).

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
        included = {i for r in records.values() for i in r["instruction_ids"]}
        c = close_month(month, items, seen, included, closed_at)
        record = {"month": month, "closed_at": closed_at, "closed_at_unix": _unix(closed_at),
                  "statements": c.statements, "instruction_ids": c.instruction_ids,
                  "details": c.details, "summary": c.summary}
        if companions is not None:
            if not extra:
                extra.append(companions())
            x = extra[0]
            record["funds"] = freeze_funds(month, x.flows, x.flows_source, records, closed_at)
            record["pushed"] = freeze_pushed(month, x.warnings, seen, records)
        done = store.put_once(month, record, seen)
        if done is not None:
            return done
    raise RuntimeError(f"closing {month}: other closes kept changing the closed months")


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
