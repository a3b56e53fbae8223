"""Month-end statements per designated institution: a pure function of items and what is closed.

A month's statement holds the institution money of that month not already on an earlier
statement; an item whose own month was closed before it arrived is late and appears, as
a visible adjustment line, on the statement of the next month closed instead. A published
statement is never changed, so a late item can never reach it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from medassist.engine.money import yuan
from medassist.monthend.details import DetailRows, MemoryDetails
from medassist.monthend.instructions import Item


def statement_id(month: str, fixmedins_code: str) -> str:
    """Deterministic: one statement per institution and month, whoever closes it and how often."""
    return f"ST-{month.replace('-', '')}-{fixmedins_code}"


@dataclass
class Closing:
    """What closing one month yields (before it is stored)."""

    month: str
    statements: list[dict[str, Any]]
    instruction_ids: list[str]  # what this close includes (own month and adjustments); [] unless asked for
    details: DetailRows  # fixmedins_code -> setl_id -> net fen of the month (3202 rows)
    instruction_count: int = 0
    read_to: dict[str, int] = field(default_factory=dict)  # partition -> end offset of what it saw
    pending_earlier: int = 0  # items of an earlier month that is not closed yet: left for that close
    later: int = 0  # items of later months: left for their close
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Acc:
    settlements: int = 0
    assistance: int = 0
    reversals: int = 0
    reversal_count: int = 0
    adjustments: list[Item] = field(default_factory=list)
    rules: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    instructions: int = 0


def close_month(month: str, items: Iterable[Item], closed_months: set[str],
                included: set[str] | Callable[[Item], bool], closed_at: str, details: DetailRows | None = None,
                keep_ids: bool = True) -> Closing:
    """Statements of `month` (which must not be closed yet) from all items seen so far.

    One pass, aggregating as it goes: memory holds one accumulator per institution (and the
    late items it lists); the detail rows go to `details` (on disk for a real month).
    `included` says whether an item is on a closed statement already.
    """
    taken: Callable[[Item], bool] = included if callable(included) else _in_ids(included)
    accs: dict[str, _Acc] = defaultdict(_Acc)
    rows = details if details is not None else MemoryDetails()
    ids: list[str] = []
    count = 0
    read_to: dict[str, int] = {}
    pending = later = 0
    for it in items:
        p = str(it.at[0])
        if it.at[1] >= read_to.get(p, 0):
            read_to[p] = it.at[1] + 1
        if taken(it):
            continue  # already on a closed statement
        if it.month == month:
            a = accs[it.fixmedins_code]
            if it.kind == "assistance":
                a.assistance += it.amount_fen
                col = 0
            else:
                a.reversals += it.amount_fen
                a.reversal_count += 1
                col = 1
            for rule, fen in it.rules:
                a.rules[rule][col] += fen
            rows.add(it.fixmedins_code, it.setl_id, it.amount_fen, it.kind == "assistance")
        elif it.month < month and it.month in closed_months:
            a = accs[it.fixmedins_code]
            a.adjustments.append(it)
            for rule, fen in it.rules:
                a.rules[rule][2] += fen
        elif it.month < month:
            pending += 1
            continue
        else:
            later += 1
            continue
        accs[it.fixmedins_code].instructions += 1
        count += 1
        if keep_ids:
            ids.append(it.instruction_id)
    for code, a in accs.items():
        a.settlements = rows.settlements(code)
    statements = [_statement(month, code, accs[code], closed_at) for code in sorted(accs)]
    ids.sort()
    closing = Closing(month, statements, ids, rows, count, read_to, pending, later)
    closing.summary = summarize(month, statements, closed_at, pending, later)
    return closing


def _in_ids(ids: set[str]) -> Callable[[Item], bool]:
    return lambda it: it.instruction_id in ids


def _statement(month: str, code: str, a: _Acc, closed_at: str) -> dict[str, Any]:
    adj = sum(i.amount_fen for i in a.adjustments)
    net = a.assistance + a.reversals + adj
    by_rule = [{"rule": r, "assistance_fen": v[0], "reversals_fen": v[1], "adjustments_fen": v[2],
                "net_fen": v[0] + v[1] + v[2], "net": yuan(v[0] + v[1] + v[2])}
               for r, v in sorted(a.rules.items())]
    adjustments = [{"instruction_id": i.instruction_id, "kind": i.kind, "original_month": i.month,
                    "setl_id": i.setl_id, "amount_fen": i.amount_fen, "amount": yuan(i.amount_fen)}
                   for i in sorted(a.adjustments, key=lambda i: (i.month, i.setl_id, i.instruction_id))]
    return {
        "type": "statement", "statement_id": statement_id(month, code), "month": month,
        "setlym": month.replace("-", ""), "fixmedins_code": code, "closed_at": closed_at,
        "settlement_count": a.settlements, "reversal_count": a.reversal_count,
        "assistance_fen": a.assistance, "reversals_fen": a.reversals, "adjustments_fen": adj,
        "net_due_fen": net, "assistance": yuan(a.assistance), "reversals": yuan(a.reversals),
        "adjustments_total": yuan(adj), "net_due": yuan(net), "instruction_count": a.instructions,
        "by_rule": by_rule, "adjustments": adjustments,
    }


def summarize(month: str, statements: list[dict[str, Any]], closed_at: str, pending: int,
              later: int) -> dict[str, Any]:
    net = sum(s["net_due_fen"] for s in statements)
    return {"month": month, "closed_at": closed_at, "statements": len(statements),
            "settlements": sum(s["settlement_count"] for s in statements),
            "reversals": sum(s["reversal_count"] for s in statements),
            "adjustment_lines": sum(len(s["adjustments"]) for s in statements),
            "net_due_fen": net, "net_due": yuan(net), "pending_earlier_unclosed": pending,
            "later_months": later}
