"""JSON Schema's "integer" takes 2024.0 and 45.0: they must decide exactly as 2024 and 45 do.

Kept as floats they made a second "2024.0" year of accumulators (a second premium subsidy for
one year) and echoed 2024.0 in decisions.
"""

from __future__ import annotations

import orjson
from medassist.replay import replay_events

ENROL = {"type": "enrollment", "event_id": "N-1", "psn_no": "P1", "insuplc_admdvs": "500154", "year": 2024,
         "insutype": "390", "tier": 2, "contribution": "400.00", "tier1_contribution": "380.00",
         "enrolled_at": "2023-12-01"}
ELIG = {"type": "eligibility", "event_id": "E-1", "psn_no": "P1", "insuplc_admdvs": "500154", "category": "tekun",
        "action": "grant", "reported_at": "2023-11-01"}
SETL = {"type": "settlement", "event_id": "S-1", "setl_id": "S-1", "psn_no": "P1", "insuplc_admdvs": "500154",
        "fixmedins_code": "H1", "hosp_lv": "2", "med_type": "21", "dise_codg": "C50.9", "gend": "2", "age": 45,
        "begndate": "2024-05-01", "setl_time": "2024-05-10T10:00:00+08:00", "medfee_sumamt": "50000",
        "inscp_scp_amt": "40000", "hifp_pay": "20000", "hifmi_pay": "0"}


def decided(*events: dict) -> list[bytes]:
    return [orjson.dumps(d, option=orjson.OPT_SORT_KEYS) for d in replay_events(list(events))]


def test_float_year_and_tier_decide_as_integers() -> None:
    assert decided(ELIG, {**ENROL, "year": 2024.0, "tier": 2.0}) == decided(ELIG, ENROL)


def test_one_year_whatever_its_spelling_pays_one_premium_subsidy() -> None:
    again = {**ENROL, "event_id": "N-2", "year": 2024.0}
    first, second = replay_events([ELIG, ENROL, again])  # eligibility updates make no decision
    assert first["status"] == "paid" and first["assistance_fen"] > 0
    assert (second["status"], second["reason"], second["assistance_fen"]) == ("rejected", "duplicate_enrollment", 0)


def test_float_age_decides_as_integer() -> None:
    assert decided(ELIG, {**SETL, "age": 45.0}) == decided(ELIG, SETL)
