"""Payment instructions as month-end sees them: checked, deduplicated, attributed to a month.

Only money a designated institution advanced at its counter (one-stop, `settlement_mode`
`direct`, paid to the institution itself) is owed to it at month-end. Manual claims and
reach-backs are paid to the beneficiary, premium subsidies to a fund, and Qinhuangdao's
resident-insurance cases are cleared through the resident fund (digest "Payees and payers"):
none of these is the institution's money, so none of them is on its statement.

With a verifier (what `medassist month-end` always gives it), an institution-money instruction
counts only when its Ed25519 signature holds (security/signing.py), and a clawback only when the
instruction it names as reversed was counted and it takes back no more than that paid; the
others are set aside with their reasons and listed in the month-end summary.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from medassist.security.signing import Verifier

KINDS = ("assistance", "clawback")  # the kinds that can be institution money


class BadInstruction(ValueError):
    """An instruction month-end cannot use; the message names the field."""


@dataclass(frozen=True, slots=True)
class Item:
    """One institution-money instruction, reduced to what a statement needs."""

    instruction_id: str
    kind: str
    amount_fen: int  # negative for a clawback
    setl_id: str
    fixmedins_code: str
    month: str  # YYYY-MM it counts in: settlement date, or reversal date for a clawback
    rules: tuple[tuple[str, int], ...]  # (rule, amount_fen) per line
    reverses: str | None = None  # a clawback: the instruction it takes back


def _month(text: object, name: str) -> str:
    if not isinstance(text, str) or len(text) != 10:
        raise BadInstruction(f"{name}: not a YYYY-MM-DD date")
    try:
        date.fromisoformat(text)
    except ValueError as e:
        raise BadInstruction(f"{name}: not a YYYY-MM-DD date") from e
    return text[:7]


def is_institution_money(ins: dict[str, Any]) -> bool:
    """Advanced by the institution: one-stop (direct) and paid back to that institution."""
    return (ins.get("kind") in KINDS and ins.get("settlement_mode") == "direct"
            and ins.get("payee_kind") == "institution")


def to_item(ins: dict[str, Any]) -> Item:
    """Check an institution-money instruction; raises BadInstruction naming the field."""
    iid = ins.get("instruction_id")
    if not isinstance(iid, str) or not iid:
        raise BadInstruction("instruction_id: missing")
    kind = ins["kind"]
    amount = ins.get("amount_fen")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise BadInstruction("amount_fen: not an integer")
    if (kind == "assistance" and amount < 0) or (kind == "clawback" and amount > 0):
        raise BadInstruction("amount_fen: wrong sign for its kind")
    setl_id, code = ins.get("setl_id"), ins.get("fixmedins_code")
    if not isinstance(setl_id, str) or not setl_id:
        raise BadInstruction("setl_id: missing")
    if not isinstance(code, str) or not code:
        raise BadInstruction("fixmedins_code: missing")
    if kind == "clawback":  # a reversal counts in the month it happened, not the settlement's
        month = _month(ins.get("reversed_on") or ins.get("setl_date"), "reversed_on")
    else:
        month = _month(ins.get("setl_date"), "setl_date")
    lines = ins.get("lines")
    if not isinstance(lines, list):
        raise BadInstruction("lines: not a list")
    rules: list[tuple[str, int]] = []
    for ln in lines:
        if not isinstance(ln, dict) or not isinstance(ln.get("rule"), str) \
                or not isinstance(ln.get("amount_fen"), int) or isinstance(ln.get("amount_fen"), bool):
            raise BadInstruction("lines: each needs a rule and an integer amount_fen")
        rules.append((sys.intern(ln["rule"]), ln["amount_fen"]))
    if sum(a for _, a in rules) != amount:
        raise BadInstruction("lines: do not add up to amount_fen")
    # interned: a million items share a few hundred institution codes, months and rule names
    reverses = ins.get("reverses_instruction_id") if kind == "clawback" else None
    if kind == "clawback" and (not isinstance(reverses, str) or not reverses):
        raise BadInstruction("reverses_instruction_id: missing (a clawback names what it reverses)")
    return Item(iid, sys.intern(kind), amount, setl_id, sys.intern(code), sys.intern(month), tuple(rules),
                reverses)


@dataclass
class Intake:
    """Institution-money items, deduplicated by instruction_id, and what was set aside and why."""

    items: dict[str, Item] = field(default_factory=dict)
    duplicates: int = 0
    conflicts: list[str] = field(default_factory=list)  # same id, different content: a bug upstream
    not_institution_money: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # reason -> count
    verifier: Verifier | None = None  # given: only signed instructions count
    set_aside: list[str] = field(default_factory=list)  # "instruction_id: reason", signature or reversal
    unverified: dict[str, int] = field(default_factory=dict)  # Unverified.code -> count

    def _error(self, reason: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1

    def add(self, raw: bytes | str | dict[str, Any]) -> None:
        """Take one message; never raises on bad input (it is counted under its reason)."""
        if isinstance(raw, dict):
            ins: Any = raw
        else:
            try:
                ins = orjson.loads(raw)
            except orjson.JSONDecodeError:
                self._error("not valid JSON")
                return
        if not isinstance(ins, dict):
            self._error("not a JSON object")
            return
        if not is_institution_money(ins):
            self.not_institution_money += 1
            return
        if self.verifier is not None:
            bad = self.verifier.check(ins)
            if bad is not None:
                self.unverified[bad.code] = self.unverified.get(bad.code, 0) + 1
                self.set_aside.append(f"{str(ins.get('instruction_id'))[:40]}: {bad.reason}")
                return
        try:
            item = to_item(ins)
        except BadInstruction as e:
            self._error(str(e))
            return
        seen = self.items.get(item.instruction_id)
        if seen is None:
            self.items[item.instruction_id] = item
        elif seen == item:
            self.duplicates += 1  # the topics are at-least-once
        else:
            self.conflicts.append(item.instruction_id)

    def add_all(self, raws: Iterable[bytes | str | dict[str, Any]]) -> Intake:
        for r in raws:
            self.add(r)
        return self

    def check_reversals(self) -> Intake:
        """Set aside every clawback whose reversed instruction was not counted, or which takes back
        more than that one paid (the topic is read whole first: partitions interleave)."""
        for iid, item in list(self.items.items()):
            if item.kind != "clawback":
                continue
            original = self.items.get(item.reverses or "")
            if original is None or original.kind != "assistance":
                why = "reverses_instruction_id: names no counted assistance instruction"
            elif -item.amount_fen > original.amount_fen or original.fixmedins_code != item.fixmedins_code:
                why = "reverses_instruction_id: takes back more than, or other than, the instruction paid"
            else:
                continue
            del self.items[iid]
            self.set_aside.append(f"{iid}: {why}")
        return self

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items.values())
