"""Seeded synthetic events: a year of a population across the four cities.

Realistic enough to exercise every rule kind (categories, lines, deductibles,
caps, tilt, reversals, reach-back, premiums) and fully deterministic for a
seed, so benchmarks and integration tests are repeatable.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

CITIES = {
    # admdvs codes of counties/districts routed to each policy, and its categories
    "130300": (["130302", "130303", "130304", "130321"], 2023,
               ["tekun", "dibao", "dibao_edge", "monitored_rural", "illness_poverty", None]),
    "210400": (["210402", "210403", "210421"], 2023, ["tekun", "dibao", "dibao_edge", None]),
    "500154": (["500154"], 2024, ["tekun", "dibao", "returned_to_poverty", "monitored_rural",
                                  "dibao_edge", "illness_poverty", None]),
    "620100": (["620102", "620103", "620121"], 2023,
               ["tekun", "orphan", "dibao", "returned_to_poverty", "monitored_rural",
                "poverty_alleviated", "dibao_edge", "illness_poverty", None]),
}
DIBAO_CLASSES = ["urban_full", "urban_partial", "rural_1", "rural_2", "rural_3", "rural_4"]
DISEASES = ["C50.9", "C34.1", "I10", "E11.9", "N18.5", "F20.0", "J18.0", "K74.6", "Q21.0", "C92.0", "I63.9"]


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _settlement(rng: random.Random, n: int, psn: str, admdvs: str, year: int, inst: int) -> dict[str, Any]:
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    kind = rng.random()
    if kind < 0.45:
        med_type, opsp, scale = "11", None, 300_00
    elif kind < 0.75:
        med_type, opsp, scale = "14", rng.choice(["chronic", "special"]), 2_000_00
    else:
        med_type, opsp, scale = "21", None, 25_000_00
    medfee = int(rng.expovariate(1 / scale)) + 1_00
    inscp = medfee * rng.randint(70, 95) // 100
    hifp = inscp * rng.randint(40, 70) // 100
    hifmi = (inscp - hifp) * rng.randint(0, 30) // 100 if med_type == "21" else 0
    loc = rng.choices(["local", "in_province", "out_of_province"], [85, 10, 5])[0]
    begn_day = max(1, day - rng.randint(0, 10) if med_type == "21" else day)
    return {
        "type": "settlement", "event_id": f"S-{n}", "setl_id": f"S-{n}", "mdtrt_id": f"M-{n}",
        "psn_no": psn, "insuplc_admdvs": admdvs, "fixmedins_code": f"H{admdvs}{inst:05d}",
        "hosp_lv": rng.choice(["1", "2", "3"]), "designated": rng.random() > 0.02,
        "med_type": med_type, "opsp_kind": opsp, "dise_codg": rng.choice(DISEASES),
        "special_disease": rng.random() < 0.1, "major_disease": rng.random() < 0.05,
        "gend": rng.choice(["1", "2"]), "age": rng.randint(0, 90),
        "begndate": f"{year}-{month:02d}-{begn_day:02d}",
        "setl_time": f"{year}-{month:02d}-{day:02d}T{rng.randint(8, 18):02d}:{rng.randint(0, 59):02d}:00+08:00",
        "medfee_sumamt": _yuan(medfee), "inscp_scp_amt": _yuan(inscp), "hifp_pay": _yuan(hifp),
        "hifmi_pay": _yuan(hifmi), "hifob_pay": "0", "cvlserv_pay": "0", "hifes_pay": "0",
        "insured": True, "emergency": rng.random() < 0.05, "referral": rng.random() < 0.6,
        "location": loc, "remote_reg_date": f"{year}-{month:02d}-{begn_day:02d}" if loc != "local" else None,
        "settlement_mode": "direct" if rng.random() < 0.9 else "manual",
        "insutype": "390" if rng.random() < 0.8 else "310",
    }


def population(people: int, seed: int = 7, settlements_per_person: float = 10.0,
               institutions_per_county: int = 40) -> Iterator[dict[str, Any]]:
    """Events of `people` persons for one year, person by person, settlements in time order."""
    rng = random.Random(seed)
    n = 0
    cities = list(CITIES.items())
    for p in range(people):
        city, (counties, year, cats) = cities[p % len(cities)]
        admdvs = rng.choice(counties)
        psn = f"P{p:07d}"
        cat = rng.choice(cats)
        events: list[tuple[str, dict[str, Any]]] = []
        if cat is not None:
            ev: dict[str, Any] = {"type": "eligibility", "event_id": f"E-{p}", "psn_no": psn,
                                  "insuplc_admdvs": admdvs, "category": cat, "action": "grant",
                                  "reported_at": f"{year - 1}-12-0{rng.randint(1, 5)}",
                                  "residence": rng.choice(["urban", "rural"])}
            if cat == "dibao":
                ev["dibao_class"] = rng.choice(DIBAO_CLASSES)
            if cat in ("illness_poverty", "dibao_edge") and city == "620100":
                ev["reported_at"] = f"{year}-0{rng.randint(3, 9)}-15"   # approval mid-year: reach-back
                ev["applied_at"] = f"{year}-0{rng.randint(1, 2)}-10"
            events.append((ev["reported_at"] + "T00", ev))
            events.append((f"{year - 1}-12-20T00", {
                "type": "enrollment", "event_id": f"N-{p}", "psn_no": psn, "insuplc_admdvs": admdvs,
                "year": year, "insutype": "390", "tier": rng.choice([1, 1, 1, 2]),
                "contribution": "380.00", "tier1_contribution": "380.00",
                "enrolled_at": f"{year - 1}-12-20"}))
        k = max(0, int(rng.gauss(settlements_per_person, settlements_per_person / 3)))
        for _ in range(k):
            n += 1
            s = _settlement(rng, n, psn, admdvs, year, rng.randrange(institutions_per_county))
            events.append((s["setl_time"], s))
            if rng.random() < 0.02:
                events.append((s["setl_time"][:10] + "T23:59", {
                    "type": "reversal", "event_id": f"R-{n}", "setl_id": s["setl_id"], "psn_no": psn,
                    "insuplc_admdvs": admdvs, "setl_time": s["setl_time"][:10] + "T23:59:00+08:00"}))
        events.sort(key=lambda t: t[0])
        for _, e in events:
            yield e


def write_events(path: Path, events: int, seed: int = 7) -> int:
    """Exactly `events` events of a generated population as JSONL (the last person may be cut short)."""
    n = 0
    with path.open("wb") as f:
        buf: list[bytes] = []
        for ev in population(events // 10 + 1, seed=seed):  # ~11 events a person: enough people
            buf.append(orjson.dumps(ev))
            n += 1
            if len(buf) >= 8192 or n == events:
                f.write(b"\n".join(buf) + b"\n")
                buf.clear()
            if n == events:
                break
        if buf:
            f.write(b"\n".join(buf) + b"\n")
    return n
