"""Instructions and fund movements for the ledger tests (the shapes of stream/instructions.py and the schema)."""

from __future__ import annotations

from typing import Any


def instruction(iid: str, kind: str, fen: int, payee_kind: str, county: str = "210402", day: str = "2024-01-20",
                **extra: Any) -> dict[str, Any]:
    ins: dict[str, Any] = {
        "instruction_id": iid, "kind": kind, "amount_fen": fen, "payer_account": f"{county}:assistance_expenditure",
        "payee_kind": payee_kind, "payee_id": "X", "psn_no": "P1", "event_id": f"ev-{iid}", "setl_id": f"s-{iid}",
        "policy_id": "fushun-2014", "setl_date": None if kind == "premium_subsidy" else day, "year": int(day[:4]),
        "insuplc_admdvs": county, "lines": [], "reverses_instruction_id": None,
    }
    ins.update(extra)
    return ins


def movement(mid: str, kind: str, amount: str, day: str, county: str = "210402", **extra: Any) -> dict[str, Any]:
    return {"movement_id": mid, "kind": kind, "county": county, "date": day, "amount": amount, **extra}


def fushun_quarter(county: str = "210402", city: str = "70000.00", cty: str = "30000.00",
                   prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """("instruction" | "movement", message) in arrival order; ids start with `prefix`."""
    items = [
        ("movement", movement("M1", "inflow", city, "2024-01-05", county, source="fiscal_subsidy", level="city",
                              scope="urban")),
        ("movement", movement("M2", "inflow", cty, "2024-01-05", county, source="fiscal_subsidy",
                              level="county", scope="urban")),
        ("movement", movement("M3", "inflow", "20000.00", "2024-01-10", county, source="lottery")),
        ("movement", movement("M4", "transfer", "80000.00", "2024-01-15", county)),
        ("movement", movement("M5", "expenditure_interest", "12.34", "2024-01-31", county)),
        ("instruction", instruction("PI-1", "assistance", 500_000, "institution", county, "2024-01-20")),
        ("instruction", instruction("PI-2", "assistance", 120_050, "beneficiary", county, "2024-01-22")),
        ("instruction", instruction("PI-3", "premium_subsidy", 38_000, "premium_fund", county, "2024-01-01")),
        ("instruction", instruction("PI-4", "clawback", -120_050, "beneficiary", county, "2024-01-22",
                                    reversed_on="2024-02-02", reverses_instruction_id="PI-2")),
    ]
    for _, m in items:
        for key in ("movement_id", "instruction_id"):
            if key in m:
                m[key] = prefix + m[key]
    return items
