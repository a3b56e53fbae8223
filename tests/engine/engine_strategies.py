"""Hypothesis strategies for contract events, and the digest's caps written out independently of the YAML.

A "person" is an eligibility grant (in force all year) and settlements of one city;
amounts reach far beyond every cap so that caps, deductibles and tilts all bind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

# city -> (a county admdvs, a year the policy is in force (and the next), its categories)
CITIES: dict[str, tuple[str, int, list[str]]] = {
    "qinhuangdao-2023": ("130302", 2023, ["tekun", "dibao", "dibao_edge", "monitored_rural", "illness_poverty"]),
    "fushun-2014": ("210402", 2023, ["tekun", "dibao", "dibao_edge"]),
    "kaizhou-2023": ("500154", 2024, ["tekun", "dibao", "returned_to_poverty", "monitored_rural",
                                      "dibao_edge", "illness_poverty"]),
    "lanzhou-2022": ("620102", 2023, ["tekun", "orphan", "unsupported_child", "dibao", "returned_to_poverty",
                                      "monitored_rural", "poverty_alleviated", "dibao_edge", "illness_poverty"]),
}
DIBAO_CLASSES = ["urban_full", "urban_partial", "rural_1", "rural_2", "rural_3", "rural_4"]
# Fushun special-outpatient and major-disease codes, and some that are neither.
DISEASES = ["C50.9", "C91.0", "C53.x01", "Q21.0", "N18.5", "F20.0", "B20.1", "E10.9", "G80.1", "D61",
            "I10", "J18.0", "K74.6", "I63.9"]


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class Person:
    psn_no: str
    policy_id: str
    category: str
    events: list[dict[str, Any]]  # the grant first, then settlements (and reversals, if asked)

    @property
    def settlements(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == "settlement"]


def base_fen(s: dict[str, Any]) -> int:
    """The digest's base: inscp - every fund payment (the uninsured: inscp itself, Fushun §五(一))."""
    inscp = int(s["inscp_scp_amt"].replace(".", ""))
    if not s["insured"]:
        return inscp
    funds = ("hifp_pay", "hifmi_pay", "hifob_pay", "cvlserv_pay", "hifes_pay")
    return inscp - sum(int(s[k].replace(".", "")) for k in funds)


@st.composite
def settlement(draw: st.DrawFn, psn: str, admdvs: str, year: int, n: int) -> dict[str, Any]:
    med_type = draw(st.sampled_from(["11", "13", "14", "14", "21", "21", "22"]))
    inscp = draw(st.one_of(st.integers(0, 1_000_000), st.integers(0, 40_000_000)))
    hifp = draw(st.integers(0, inscp))
    hifmi = draw(st.integers(0, inscp - hifp))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    location = draw(st.sampled_from(["local", "local", "local", "in_province", "out_of_province"]))
    return {
        "type": "settlement", "event_id": f"S{n}", "setl_id": f"S{n}", "mdtrt_id": f"M{n}", "psn_no": psn,
        "insuplc_admdvs": admdvs, "fixmedins_code": f"H{admdvs}0001", "hosp_lv": draw(st.sampled_from("123")),
        "designated": draw(st.sampled_from([True, True, True, True, False])), "med_type": med_type,
        "opsp_kind": draw(st.sampled_from(["chronic", "special"])) if med_type == "14" else None,
        "dise_codg": draw(st.sampled_from(DISEASES)), "special_disease": draw(st.booleans()),
        "major_disease": draw(st.booleans()), "gend": draw(st.sampled_from(["1", "2"])),
        "age": draw(st.integers(0, 90)), "begndate": f"{year}-{month:02d}-{day:02d}",
        "setl_time": f"{year}-{month:02d}-{day:02d}T{draw(st.integers(8, 18)):02d}:00:00+08:00",
        "medfee_sumamt": yuan(inscp + draw(st.integers(0, 500_000))), "inscp_scp_amt": yuan(inscp),
        "hifp_pay": yuan(hifp), "hifmi_pay": yuan(hifmi), "hifob_pay": "0", "cvlserv_pay": "0",
        "hifes_pay": "0", "insured": draw(st.sampled_from([True, True, True, True, False])),
        "emergency": draw(st.booleans()), "referral": draw(st.booleans()), "location": location,
        "remote_reg_date": f"{year}-{month:02d}-{day:02d}" if location == "out_of_province" else None,
        "settlement_mode": draw(st.sampled_from(["direct", "direct", "manual"])),
        "inpatient_rated": draw(st.booleans()) if med_type != "21" else False,
        "insutype": "390",
    }


def grant(psn: str, admdvs: str, year: int, category: str, cls: str | None, residence: str) -> dict[str, Any]:
    ev: dict[str, Any] = {"type": "eligibility", "event_id": f"E-{psn}", "psn_no": psn, "insuplc_admdvs": admdvs,
                          "category": category, "action": "grant", "reported_at": f"{year - 1}-11-15",
                          "residence": residence}
    if cls is not None:
        ev["dibao_class"] = cls
    return ev


def reversal(s: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {"type": "reversal", "event_id": event_id, "setl_id": s["setl_id"], "psn_no": s["psn_no"],
            "insuplc_admdvs": s["insuplc_admdvs"], "setl_time": s["setl_time"][:10] + "T23:00:00+08:00"}


@st.composite
def person(draw: st.DrawFn, psn: str = "P1", min_settlements: int = 1, max_settlements: int = 8,
           reversals: bool = False, policy_id: str | None = None, year_offset: int = 0) -> Person:
    pid = policy_id or draw(st.sampled_from(sorted(CITIES)))
    admdvs, year, cats = CITIES[pid]
    year += year_offset
    cat = draw(st.sampled_from(cats))
    cls = draw(st.sampled_from(DIBAO_CLASSES)) if cat == "dibao" else None
    events: list[dict[str, Any]] = [grant(psn, admdvs, year - year_offset, cat, cls,
                                          draw(st.sampled_from(["urban", "rural"])))]
    k = draw(st.integers(min_settlements, max_settlements))
    for i in range(k):
        s = draw(settlement(psn, admdvs, year, i))
        s["event_id"] = s["setl_id"] = f"{psn}-S{i}"
        events.append(s)
        if reversals and draw(st.integers(0, 4)) == 0:
            events.append(reversal(s, f"{psn}-R{i}"))
    return Person(psn, pid, cat, events)


# ---- the digest's annual caps, written out from policy-digest.md (not read from the YAML) ------------------

Cap = tuple[str, int, Any]  # (name, limit in fen, predicate(rule, settlement) -> counts toward it)


def caps_of(policy_id: str, category: str) -> list[Cap]:
    if policy_id == "qinhuangdao-2023":
        regular = ("outpatient_chronic", "outpatient_special", "inpatient")
        return [("outpatient_chronic", 5_000_00, lambda r, s: r == "outpatient_chronic"),
                ("outpatient_special", 20_000_00, lambda r, s: r == "outpatient_special"),
                ("inpatient", 20_000_00, lambda r, s: r == "inpatient"),
                ("the three together", 20_000_00, lambda r, s: r in regular),
                ("tilt", 20_000_00, lambda r, s: r == "tilt")]
    if policy_id == "fushun-2014":
        return [("general outpatient", 70_00, lambda r, s: r == "general_outpatient"),
                ("special outpatient", 1_000_00, lambda r, s: r == "special_outpatient"),
                ("inpatient", 3_000_00 if category == "dibao_edge" else 5_000_00, lambda r, s: r == "inpatient"),
                ("major disease", 10_000_00, lambda r, s: r == "major_disease")]
    if policy_id == "kaizhou-2023":
        return [("regular 100,000", 100_000_00, lambda r, s: r in ("special_disease", "inpatient")),
                ("other diseases 60,000", 60_000_00, lambda r, s: r == "inpatient"),
                ("tilt", 30_000_00, lambda r, s: r == "tilt")]
    assert policy_id == "lanzhou-2022"
    regular = ("inpatient", "outpatient_chronic_special")
    return [("annual 80,000", 80_000_00, lambda r, s: r in regular),
            ("not major disease 50,000", 50_000_00, lambda r, s: r in regular and not s["major_disease"])]
