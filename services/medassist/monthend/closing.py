"""Closing a month: idempotent and final.

The first close computes the statements and stores them; every later call for that month
returns exactly what was stored, whatever arrived since (late items wait for the next close).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from medassist.engine.dates import SHANGHAI
from medassist.monthend.closes import CloseStore
from medassist.monthend.instructions import Item
from medassist.monthend.statement import close_month

MAX_ATTEMPTS = 5


def valid_month(text: str) -> bool:
    return (len(text) == 7 and text[4] == "-" and (text[:4] + text[5:]).isdigit()
            and 1 <= int(text[5:]) <= 12)


def close(month: str, items: Collection[Item], store: CloseStore,
          now: datetime | None = None) -> tuple[dict[str, Any], bool]:
    """(the close record of `month`, True if this call closed it)."""
    if not valid_month(month):
        raise ValueError(f"month {month!r} is not YYYY-MM")
    for _ in range(MAX_ATTEMPTS):
        seen = store.closed_months()
        if month in seen:
            stored = store.get(month)
            if stored is not None:
                return stored, False
        closed_at = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).isoformat(timespec="seconds")
        c = close_month(month, items, seen, store.included(), closed_at)
        record = {"month": month, "closed_at": closed_at, "closed_at_unix": _unix(closed_at),
                  "statements": c.statements, "instruction_ids": c.instruction_ids,
                  "details": c.details, "summary": c.summary}
        done = store.put_once(month, record, seen)
        if done is not None:
            return done
    raise RuntimeError(f"closing {month}: other closes kept changing the closed months")


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
