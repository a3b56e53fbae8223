"""Payment instructions for finance, derived from decisions and nothing else.

The id is a hash of what the instruction pays for (the deciding event, the
settlement, the kind), so a redelivered or re-published decision yields the
very same instruction and finance deduplicates on `instruction_id`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from medassist.engine.decision import Decision
from medassist.engine.money import yuan


def instruction_id(event_id: str, setl_id: str | None, kind: str) -> str:
    h = hashlib.blake2b(f"{kind}|{event_id}|{setl_id or ''}".encode(), digest_size=12).hexdigest()
    return f"PI-{h}"


def kind_of(d: Decision) -> str | None:
    if d["type"] == "enrollment" and d["status"] == "paid":
        return "premium_subsidy"
    if d["type"] == "reversal" and d["status"] == "reversed" and d["assistance_fen"] < 0:
        return "clawback"
    if d["status"] == "paid" and d["type"] in ("settlement", "eligibility"):
        return "assistance"
    return None


def build(d: Decision) -> dict[str, Any] | None:
    """The instruction a decision gives rise to, or None when it moves no money."""
    kind = kind_of(d)
    if kind is None:
        return None
    payee = d["payee"] or {}
    ins: dict[str, Any] = {
        "instruction_id": instruction_id(d["event_id"], d["setl_id"], kind),
        "kind": kind,
        "amount_fen": d["assistance_fen"],
        "amount": yuan(d["assistance_fen"]),
        "payer_account": d["payer"],
        "payee_kind": payee.get("kind"),
        "payee_id": payee.get("id"),
        "psn_no": d["psn_no"],
        "event_id": d["event_id"],
        "setl_id": d["setl_id"],
        "policy_id": d["policy_id"],
        "category": d.get("category"),
        "settlement_mode": d.get("settlement_mode"),
        "setl_date": d.get("setl_date"),
        "year": d.get("year"),
        "insuplc_admdvs": d.get("insuplc_admdvs"),
        "fixmedins_code": d.get("fixmedins_code"),
        # The instruction's line shape is closed (finance validates it): the decision's clause `ref` stays there.
        "lines": [{k: v for k, v in ln.items() if k != "ref"} for ln in d["lines"]],
        "reverses_instruction_id": None,
    }
    if kind == "clawback":
        ins["reverses_instruction_id"] = instruction_id(d["reverses"], d["setl_id"], "assistance")
        ins["reversed_on"] = d.get("reversed_on")
    return ins
