"""Early-warning rules of a policy file (`early_warnings:`), compiled once with the policy.

Kept apart from engine/policy.py so the policy loader only gains one call (publishing the warnings is
monitoring/publish.py's job); it imports nothing but money.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medassist.engine.money import Ratio, to_fen

DEPARTMENTS = ("civil_affairs", "rural_revitalisation")


@dataclass(frozen=True, slots=True)
class IncomeBasis:
    """A threshold set as a share of an operator parameter (yuan by province and year)."""

    parameter: str  # e.g. rural_disposable_income_yuan
    province: str
    year_offset: int  # -1: the previous year's figure
    share: Ratio


@dataclass(frozen=True, slots=True)
class WarningRule:
    kind: str  # relapse (因病返贫) or impoverishment (因病致贫)
    measure: str  # year_total (the person's year out-of-pocket) or single_stay (one inpatient stay)
    categories: frozenset[str]  # who it watches; empty with `ordinary` = people with no category
    ordinary: bool
    insutypes: frozenset[str] | None
    residence: frozenset[str] | None
    amount_fen: int | None  # a fixed threshold, or
    income: IncomeBasis | None  # one derived from the operator's income figure
    notify: tuple[str, ...]


def compile_warnings(entries: list[dict[str, Any]]) -> tuple[WarningRule, ...]:
    """The schema has checked the shape; here only yuan -> fen and ratios."""
    out = []
    for e in entries:
        th = e["threshold"]
        income = None
        if "income" in th:
            income = IncomeBasis(th["income"], th["province"], th.get("year_offset", -1),
                                 Ratio.parse(th["share"]))
        out.append(WarningRule(
            kind=e["kind"], measure=e["measure"], categories=frozenset(e.get("categories", [])),
            ordinary=e.get("ordinary", False),
            insutypes=frozenset(e["insutypes"]) if "insutypes" in e else None,
            residence=frozenset(e["residence"]) if "residence" in e else None,
            amount_fen=to_fen(th["amount"]) if "amount" in th else None, income=income,
            notify=tuple(e.get("notify", DEPARTMENTS)),
        ))
    return tuple(out)
