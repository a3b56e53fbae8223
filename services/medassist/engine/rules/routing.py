"""Who pays and who is paid (digest: "Payees and payers")."""

from __future__ import annotations

from typing import Any

from medassist.engine.events import Settlement
from medassist.engine.policy import Policy


def payer(policy: Policy, admdvs: str) -> str:
    """The assistance fund's expenditure account (医疗救助资金支出户) of the paying level."""
    return f"{policy.payer_admdvs(admdvs)}:assistance_expenditure"


def settlement_payee(policy: Policy, s: Settlement, mode: str, category_payee: str | None) -> dict[str, Any]:
    if mode == "manual" or category_payee == "beneficiary":
        return {"kind": "beneficiary", "id": s.psn_no}
    if s.insutype in policy.resident_fund_insutypes:
        # The city resident basic-insurance fund advanced it to the institution (Qinhuangdao §八(四)).
        return {"kind": "resident_fund", "id": f"{policy.region}:resident_basic_fund_expenditure"}
    return {"kind": "institution", "id": s.fixmedins_code}


def premium_payee(policy: Policy, admdvs: str) -> dict[str, Any]:
    """The basic-insurance fund's fiscal special account of the same level."""
    return {"kind": "premium_fund", "id": f"{policy.payer_admdvs(admdvs)}:basic_fund_fiscal_special"}
