"""Decisions in the wire shape of the contract (plain dicts: they go straight to JSON)."""

from __future__ import annotations

from typing import Any

from medassist.engine.money import Ratio, yuan

Decision = dict[str, Any]
DecisionLine = dict[str, Any]

ASSISTED = frozenset({"paid", "zero"})


def line(rule: str, base: int, deductible: int, ratio: Ratio | None, amount: int,
         capped_by: str | None) -> DecisionLine:
    return {"rule": rule, "base_fen": base, "deductible_fen": deductible,
            "ratio": None if ratio is None else ratio.text, "amount_fen": amount,
            "capped_by": capped_by}


def decision(kind: str | None, event_id: str | None, psn_no: str | None, status: str, *,
             setl_id: str | None = None, policy_id: str | None = None,
             lines: list[DecisionLine] | None = None, reason: str | None = None,
             **extra: Any) -> Decision:
    if not lines:  # most decisions: a refusal, no lines
        lines, fen, text = [], 0, "0.00"
    else:
        fen = lines[0]["amount_fen"] if len(lines) == 1 else sum(ln["amount_fen"] for ln in lines)
        text = yuan(fen)
    if status in ASSISTED:
        status = "paid" if fen > 0 else "zero"
    d: Decision = {
        "event_id": event_id, "setl_id": setl_id, "psn_no": psn_no, "policy_id": policy_id,
        "status": status, "assistance": text, "assistance_fen": fen, "lines": lines,
        "reason": reason, "type": kind,
    }
    if extra:
        d.update(extra)
    return d


def invalid(obj: object, reason: str) -> Decision:
    """A decision for an event that breaks the contract; keeps what ids it can find."""
    src = obj if isinstance(obj, dict) else {}

    def s(k: str) -> str | None:
        v = src.get(k)
        return v if isinstance(v, str) else None

    kind = s("type")
    return decision(kind if kind in ("settlement", "reversal", "enrollment", "eligibility") else None,
                    s("event_id"), s("psn_no"), "invalid", setl_id=s("setl_id"), reason=reason)
