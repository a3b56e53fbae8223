"""Contract events for the warning tests, with only the amounts that matter spelled out."""

from __future__ import annotations

from typing import Any

from medassist.engine.policy import PolicyBook, load_policies
from medassist.replay import Replayer

# Hebei 2022 rural per-capita disposable income, as an operator would set it (yuan).
OPERATOR: dict[str, Any] = {
    "lanzhou_premium_subsidy_yuan": {},
    "rural_disposable_income_yuan": {"hebei": {"2022": "19364"}},
}


def book(operator: dict[str, Any] | None = None) -> PolicyBook:
    return load_policies(operator=OPERATOR if operator is None else operator)


def replayer(operator: dict[str, Any] | None = None) -> Replayer:
    return Replayer(book(operator))


def settlement(eid: str, psn: str, admdvs: str, day: str, med_type: str, medfee: str, inscp: str,
               hifp: str, hifmi: str = "0.00", **extra: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "type": "settlement", "event_id": eid, "setl_id": eid, "mdtrt_id": f"M-{eid}", "psn_no": psn,
        "insuplc_admdvs": admdvs, "fixmedins_code": "H0001", "hosp_lv": "3", "designated": True,
        "med_type": med_type, "dise_codg": "I10.x00", "begndate": day,
        "setl_time": f"{day}T10:00:00+08:00", "medfee_sumamt": medfee, "inscp_scp_amt": inscp,
        "hifp_pay": hifp, "hifmi_pay": hifmi, "hifob_pay": "0.00", "cvlserv_pay": "0.00", "hifes_pay": "0.00",
        "insured": True, "location": "local", "settlement_mode": "direct", "insutype": "390",
    }
    ev.update(extra)
    return ev


def grant(eid: str, psn: str, admdvs: str, category: str, day: str) -> dict[str, Any]:
    return {"type": "eligibility", "event_id": eid, "psn_no": psn, "insuplc_admdvs": admdvs,
            "category": category, "action": "grant", "reported_at": day, "applied_at": day}


def reversal(eid: str, psn: str, admdvs: str, setl_id: str, day: str) -> dict[str, Any]:
    return {"type": "reversal", "event_id": eid, "psn_no": psn, "insuplc_admdvs": admdvs, "setl_id": setl_id,
            "setl_time": f"{day}T09:00:00+08:00"}
