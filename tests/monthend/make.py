"""Hand-made payment instructions in the exact shape stream/instructions.py builds."""

from __future__ import annotations

from typing import Any

from medassist.engine.money import yuan


def assistance(iid: str, setl_id: str, fen: int, day: str, code: str = "H1", *, mode: str = "direct",
               payee_kind: str = "institution", rules: list[tuple[str, int]] | None = None) -> dict[str, Any]:
    lines = rules or [("inpatient", fen)]
    return {"instruction_id": iid, "kind": "assistance", "amount_fen": fen, "amount": yuan(fen),
            "payer_account": "130302:assistance_expenditure", "payee_kind": payee_kind,
            "payee_id": code if payee_kind == "institution" else "P1", "psn_no": "P1", "event_id": setl_id,
            "setl_id": setl_id, "policy_id": "qinhuangdao-2023", "category": "dibao", "settlement_mode": mode,
            "setl_date": day, "year": int(day[:4]), "insuplc_admdvs": "130302", "fixmedins_code": code,
            "lines": [{"rule": r, "base_fen": 0, "deductible_fen": 0, "ratio": None, "amount_fen": a,
                       "capped_by": None} for r, a in lines],
            "reverses_instruction_id": None}


def clawback(iid: str, setl_id: str, fen: int, setl_day: str, reversed_on: str, code: str = "H1",
             rule: str = "inpatient") -> dict[str, Any]:
    c = assistance(iid, setl_id, -fen, setl_day, code, rules=[(rule, -fen)])
    c["amount_fen"] = -fen
    c.update(kind="clawback", reversed_on=reversed_on, reverses_instruction_id=f"A-{setl_id}")
    return c


def premium(iid: str) -> dict[str, Any]:
    p = assistance(iid, "x", 38000, "2023-01-01", rules=[("premium_subsidy", 38000)])
    p.update(kind="premium_subsidy", setl_id=None, settlement_mode=None, setl_date=None,
             payee_kind="premium_fund", fixmedins_code=None)
    return p
