"""Payment instructions and fund movements -> balanced postings, with every check made first.

A posting carries its legs (account, signed fen; they sum to zero) and the
statement figures it adds to its month (`in:<source>`, `out:<purpose>`,
`tr:<transfer>`, `raised:<level>:<scope>`, `int:expenditure`). Its id is the
instruction's or movement's own id, which is what makes posting idempotent.
Bad input raises `LedgerError("field: why")`; the caller sets it aside and goes on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import fastjsonschema

from medassist.engine.dates import is_date
from medassist.engine.money import MoneyError, to_fen
from medassist.ledger import accounts as A
from medassist.schemas import load_schema


class LedgerError(ValueError):
    """An instruction or movement the ledger cannot post; str() is "field: why"."""


@dataclass(frozen=True, slots=True)
class Posting:
    posting_id: str
    county: str
    day: str  # booking date, Asia/Shanghai
    legs: tuple[tuple[str, int], ...]
    flows: tuple[tuple[str, int], ...]
    reverses: str | None = None  # a clawback: the instruction it takes back (posted only after that one)

    @property
    def month(self) -> str:
        return self.day[:7]

    @property
    def fingerprint(self) -> str:
        """What a repeated id must agree on; a different amount under the same id is a conflict."""
        text = f"{self.county}|{self.day}|{sorted(self.legs)}"
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _transfer(pid: str, county: str, day: str, frm: str, to: str, fen: int,
              flows: list[tuple[str, int]]) -> Posting:
    return Posting(pid, county, day, ((frm, -fen), (to, fen)), tuple(flows))


# ---- payment instructions (stream/instructions.py) ------------------------------------------


def from_instruction(ins: object) -> Posting:
    if not isinstance(ins, dict):
        raise LedgerError("instruction: not a JSON object")
    pid = ins.get("instruction_id")
    if not isinstance(pid, str) or not pid:
        raise LedgerError("instruction_id: missing")
    kind = ins.get("kind")
    if kind not in A.PURPOSES:
        raise LedgerError(f"kind: unknown instruction kind {kind!r}")
    fen = ins.get("amount_fen")
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise LedgerError("amount_fen: not an integer")
    if (fen < 0) != (kind == "clawback") or fen == 0:
        raise LedgerError(f"amount_fen: {fen} has the wrong sign for {kind}")
    county = A.county_of(ins.get("payer_account"))
    if county is None:
        raise LedgerError(f"payer_account: not a county expenditure account: {ins.get('payer_account')!r}")
    payee_kind = ins.get("payee_kind")
    if payee_kind not in A.PAYEE_KINDS:
        raise LedgerError(f"payee_kind: unknown payee kind {payee_kind!r}")
    day = _booking_day(ins, kind)
    # A clawback carries a negative amount: the same two legs, run backwards.
    p = _transfer(pid, county, day, A.EXPENDITURE, A.payee(payee_kind), fen, [(f"out:{kind}", fen)])
    if kind != "clawback":
        return p
    reverses = ins.get("reverses_instruction_id")
    if not isinstance(reverses, str) or not reverses:
        raise LedgerError("reverses_instruction_id: missing (a clawback names the instruction it reverses)")
    return Posting(p.posting_id, p.county, p.day, p.legs, p.flows, reverses)


def _booking_day(ins: dict[str, Any], kind: str) -> str:
    """Assistance on its settlement date, a clawback on the day it was reversed, a premium subsidy on
    1 January of the contribution year (the instruction carries no other date for it)."""
    if kind == "premium_subsidy":
        year = ins.get("year")
        if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
            raise LedgerError(f"year: not a contribution year: {year!r}")
        return f"{year}-01-01"
    field = "reversed_on" if kind == "clawback" and ins.get("reversed_on") else "setl_date"
    day = ins.get(field)
    if not is_date(day):
        raise LedgerError(f"{field}: not a calendar date: {day!r}")
    return str(day)


# ---- fund movements (schemas/fund_movement.schema.json) -------------------------------------

_validate_movement = fastjsonschema.compile(load_schema("fund_movement"))


def from_movement(mv: object) -> Posting:
    if not isinstance(mv, dict):
        raise LedgerError("movement: not a JSON object")
    try:
        _validate_movement(mv)
    except fastjsonschema.JsonSchemaValueException as e:
        where = (e.name or "data").removeprefix("data").lstrip(".") or "movement"
        raise LedgerError(f"{where}: {e.message.removeprefix(e.name or '').strip()}") from None
    if not is_date(mv["date"]):
        raise LedgerError(f"date: not a calendar date: {mv['date']!r}")
    try:
        fen = to_fen(mv["amount"])
    except MoneyError as e:
        raise LedgerError(f"amount: {e}") from None
    if fen == 0:
        raise LedgerError("amount: zero moves nothing")
    pid, county, day, kind = mv["movement_id"], mv["county"], mv["date"], mv["kind"]
    if kind == "inflow":
        src = mv.get("source")
        if src is None:
            raise LedgerError("source: missing (an inflow names its source)")
        flows = [(f"in:{src}", fen)]
        if src == "fiscal_subsidy":
            flows.append((f"raised:{mv.get('level', 'unknown')}:{mv.get('scope', 'all')}", fen))
        return _transfer(pid, county, day, A.source(src), A.SPECIAL, fen, flows)
    if kind == "expenditure_interest":  # bank interest credited to the expenditure account
        return _transfer(pid, county, day, A.source("interest"), A.EXPENDITURE, fen,
                         [("in:interest", fen), ("int:expenditure", fen)])
    if kind == "transfer":
        return _transfer(pid, county, day, A.SPECIAL, A.EXPENDITURE, fen, [("tr:special_to_expenditure", fen)])
    # interest_transfer: the schema admits no other kind
    return _transfer(pid, county, day, A.EXPENDITURE, A.SPECIAL, fen, [("tr:interest_to_special", fen)])
