"""What one share of the people returns, and the merge of the shares.

Everything here is either a bounded table (keyed by county, category, rule, month and payee kind;
by policy and cap) or one entry per person; nothing grows with the number of events.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from medassist.engine.decision import Decision
from medassist.engine.events import Event, Settlement

# (county, category, rule, month, payee kind)
CubeKey = tuple[str, str, str, str, str]
DIMENSIONS = ("county", "category", "rule", "month", "payee")

# person entry: totals under each scenario, then what the burden needs
BASE, VAR, OOP, BASE_SETL, VAR_SETL, WARN_BASE, WARN_VAR, GAP = range(8)
NOT_A_STAY = frozenset({"duplicate_settlement", "event: reused with different contents"})


def month_of(d: Decision) -> str:
    """The month the money moves: a reversal's own day, a settlement's day, an enrollment's year."""
    day = d.get("reversed_on") or d.get("setl_date")
    if day:
        return str(day)[:7]
    year = d.get("year")
    return str(year) if year is not None else ""


@dataclass
class Scenario:
    """One scenario's money: the total, the cube of line amounts, how often each cap bound."""

    total_fen: int = 0
    cube: Counter[CubeKey] = field(default_factory=Counter)
    caps: Counter[tuple[str, str]] = field(default_factory=Counter)  # (policy_id, cap) -> lines it bound

    def add(self, d: Decision) -> None:
        lines = d["lines"]
        if not lines:
            return
        self.total_fen += d["assistance_fen"]
        payee = d.get("payee")
        key_county = d.get("insuplc_admdvs") or ""
        key_cat = d.get("category") or ""
        key_month = month_of(d)
        key_payee = payee.get("kind", "") if isinstance(payee, dict) else ""
        for ln in lines:
            amount = ln["amount_fen"]
            if amount:
                self.cube[(key_county, key_cat, ln["rule"], key_month, key_payee)] += amount
            if ln["capped_by"]:
                self.caps[(d.get("policy_id") or "", ln["capped_by"])] += 1

    def merge(self, other: Scenario) -> None:
        self.total_fen += other.total_fen
        self.cube.update(other.cube)
        self.caps.update(other.caps)


@dataclass
class Partial:
    """What a share (or, merged, the whole run) found."""

    events: int = 0
    invalid: int = 0
    people: int = 0
    gaining: int = 0
    losing: int = 0
    base: Scenario = field(default_factory=Scenario)
    var: Scenario = field(default_factory=Scenario)
    changed: list[tuple[str, int, int]] = field(default_factory=list)  # (psn_no, baseline, variant)
    burden_base: list[int] = field(default_factory=list)  # each person's year out-of-pocket after assistance
    burden_var: list[int] = field(default_factory=list)
    warned_base: int = 0  # people with at least one early warning of their city
    warned_var: int = 0
    warning_gaps: int = 0  # people whose city's threshold needs a figure the operator has not set

    def merge(self, o: Partial) -> None:
        self.events += o.events
        self.invalid += o.invalid
        self.people += o.people
        self.gaining += o.gaining
        self.losing += o.losing
        self.base.merge(o.base)
        self.var.merge(o.var)
        self.changed += o.changed
        self.burden_base += o.burden_base
        self.burden_var += o.burden_var
        self.warned_base += o.warned_base
        self.warned_var += o.warned_var
        self.warning_gaps += o.warning_gaps


class ShareTally:
    """Folds one share's decisions, event by event, into a `Partial`."""

    def __init__(self) -> None:
        self.out = Partial()
        self.person: dict[str, list[int]] = {}
        self.stays: dict[str, int] = {}  # setl_id -> its burden before assistance, until reversed
        self.common = Scenario()  # money decided alike under both: added once, merged into each at the end

    def _entry(self, psn: str) -> list[int]:
        e = self.person.get(psn)
        if e is None:
            e = self.person[psn] = [0] * 8
        return e

    def add(self, ev: Event | None, base: list[Decision], var: list[Decision]) -> None:
        """One event (None: it did not decode) and its decisions under each; `var is base` when the
        variant's are the baseline's."""
        out = self.out
        out.events += 1
        same = var is base
        money = self.common if same else out.base
        for d in base:
            if d["status"] == "invalid":
                out.invalid += 1
                continue
            psn = d["psn_no"]
            e = self._entry(psn)
            money.add(d)
            fen = d["assistance_fen"]
            e[BASE] += fen
            kind = d["type"]
            settles = kind == "settlement" or kind == "reversal"
            if settles:
                e[BASE_SETL] += fen
            warned = 1 if d.get("warnings") else 0
            if warned:
                e[WARN_BASE] = 1
            if same:
                e[VAR] += fen
                if settles:
                    e[VAR_SETL] += fen
                if warned:
                    e[WARN_VAR] = 1
            if d.get("warning_gaps"):
                e[GAP] = 1
            if isinstance(ev, Settlement) and d["event_id"] == ev.event_id and d["reason"] not in NOT_A_STAY:
                # its burden before assistance: medfee minus every fund (monitoring/warnings.py's measure)
                oop = max(0, ev.medfee_fen - ev.fund_fen)
                self.stays[ev.setl_id] = oop
                e[OOP] += oop
            elif kind == "reversal" and d["status"] == "reversed":
                e[OOP] -= self.stays.pop(d["setl_id"], 0)
        if same:
            return
        for d in var:
            if d["status"] == "invalid":
                continue
            e = self._entry(d["psn_no"])
            out.var.add(d)
            fen = d["assistance_fen"]
            e[VAR] += fen
            if d["type"] == "settlement" or d["type"] == "reversal":
                e[VAR_SETL] += fen
            if d.get("warnings"):
                e[WARN_VAR] = 1

    def finish(self) -> Partial:
        out = self.out
        out.base.merge(self.common)
        out.var.merge(self.common)
        out.people = len(self.person)
        for psn, e in self.person.items():
            if e[BASE] != e[VAR]:
                out.changed.append((psn, e[BASE], e[VAR]))
                if e[VAR] > e[BASE]:
                    out.gaining += 1
                else:
                    out.losing += 1
            out.burden_base.append(max(0, e[OOP] - e[BASE_SETL]))
            out.burden_var.append(max(0, e[OOP] - e[VAR_SETL]))
            out.warned_base += e[WARN_BASE]
            out.warned_var += e[WARN_VAR]
            out.warning_gaps += e[GAP]
        self.person.clear()
        self.stays.clear()
        return out


def deciles(values: list[int]) -> list[int]:
    """The 10th, 20th, ... 90th and 100th percentile (nearest rank), in fen."""
    if not values:
        return [0] * 10
    s = sorted(values)
    n = len(s)
    return [s[max(0, -(-k * n // 10) - 1)] for k in range(1, 11)]


def roll_up(base: Counter[CubeKey], var: Counter[CubeKey], dim: str) -> list[dict[str, Any]]:
    """Baseline, variant and difference by one dimension, sorted by its key."""
    i = DIMENSIONS.index(dim)
    b: Counter[str] = Counter()
    v: Counter[str] = Counter()
    for k, x in base.items():
        b[k[i]] += x
    for k, x in var.items():
        v[k[i]] += x
    return [{dim: k, "baseline_fen": b[k], "variant_fen": v[k], "delta_fen": v[k] - b[k]}
            for k in sorted(set(b) | set(v))]
