"""A Qinhuangdao revision written as data alone: it changes exactly the decisions dated on or after its day.

The revision adds values dated 2024-07-01 to the shipped file (no Python, no new file): the inpatient and
the shared cap rise from 20,000 to 30,000 and the dibao inpatient ratio from 0.80 to 0.85. A two-year
history (2023-2024) is replayed under the shipped policy and under the revised one.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

from medassist.engine.policy import POLICY_DIR, PolicyBook, load_policies
from medassist.replay import replay_events

REVISION_DAY = "2024-07-01"
REVISED_VALUES = {
    '      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}\n  regular_total:':
        '      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}\n'
        '      2024-07-01: {value: 30000, unit: yuan, ref: "§二(三)2"}\n  regular_total:',
    '  regular_total:               # the three lines together\n    values:\n'
    '      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}\n':
        '  regular_total:               # the three lines together\n    values:\n'
        '      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}\n'
        '      2024-07-01: {value: 30000, unit: yuan, ref: "§二(三)2"}\n',
    '        2023-01-01: {value: {tekun: 0.80, dibao: 0.80, dibao_edge: 0.77, monitored_rural: 0.77, '
    'illness_poverty: 0.77}, unit: ratio, ref: "§二(三)2"}\n':
        '        2023-01-01: {value: {tekun: 0.80, dibao: 0.80, dibao_edge: 0.77, monitored_rural: 0.77, '
        'illness_poverty: 0.77}, unit: ratio, ref: "§二(三)2"}\n'
        '        2024-07-01: {value: {tekun: 0.80, dibao: 0.85, dibao_edge: 0.77, monitored_rural: 0.77, '
        'illness_poverty: 0.77}, unit: ratio, ref: "§二(三)2"}\n',
}


def revised_book(tmp_path: Path) -> PolicyBook:
    for p in POLICY_DIR.glob("*.yaml"):
        shutil.copy(p, tmp_path / p.name)
    path = tmp_path / "qinhuangdao-2023.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in REVISED_VALUES.items():
        assert old in text
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return load_policies(tmp_path)


def settlement(psn: str, n: int, day: str, med_type: str, inscp: int, fund: int, **extra: Any) -> dict[str, Any]:
    return {"type": "settlement", "event_id": f"S-{psn}-{n}", "setl_id": f"S-{psn}-{n}", "mdtrt_id": f"M-{psn}-{n}",
            "psn_no": psn, "insuplc_admdvs": "130302", "fixmedins_code": "H13030100001", "hosp_lv": "3",
            "designated": True, "med_type": med_type, "opsp_kind": extra.get("opsp_kind"), "dise_codg": "I10",
            "gend": "1", "age": 60, "begndate": day, "setl_time": f"{day}T10:00:00+08:00",
            "medfee_sumamt": f"{inscp}.00", "inscp_scp_amt": f"{inscp}.00", "hifp_pay": f"{fund}.00",
            "insured": True, "location": "local", "settlement_mode": "direct", "insutype": "310"}


def two_years(people: int = 40, seed: int = 3) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    events: list[dict[str, Any]] = []
    for i in range(people):
        psn = f"P{i:03d}"
        cat = ["dibao", "tekun", "dibao_edge", "monitored_rural"][i % 4]
        events.append({"type": "eligibility", "event_id": f"E-{psn}", "psn_no": psn, "insuplc_admdvs": "130302",
                       "category": cat, "action": "grant", "reported_at": "2022-11-03"})
        for n in range(14):
            year = 2023 + n // 7
            day = f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
            kind = rnd.choice(["21", "21", "14c", "14s", "11"])
            inscp = rnd.randint(2_000, 60_000)
            fund = inscp * rnd.randint(40, 70) // 100
            med_type = kind[:2]
            opsp = {"c": "chronic", "s": "special"}.get(kind[2:])
            events.append(settlement(psn, n, day, med_type, inscp, fund, opsp_kind=opsp))
    # Events of a person in date order (as the platform sends them), people interleaved.
    events.sort(key=lambda e: (e.get("setl_time") or "0", e["psn_no"]))
    return events


def test_the_revision_changes_exactly_the_decisions_dated_on_or_after_its_day(tmp_path: Path) -> None:
    events = two_years()
    before = replay_events(events, load_policies())
    after = replay_events(events, revised_book(tmp_path))
    assert len(before) == len(after)
    changed = []
    for b, a in zip(before, after, strict=True):
        assert b["event_id"] == a["event_id"]
        if b["setl_date"] < REVISION_DAY:
            assert a == b, "a decision dated before the revision changed"
        else:
            assert a["policy_version"] == "qinhuangdao-2023@2024-07-01"
            if {k: v for k, v in a.items() if k != "policy_version"} != {k: v for k, v in b.items()
                                                                        if k != "policy_version"}:
                changed.append(a)
    assert changed, "the revision changed nothing: the history does not reach its numbers"
    assert all(d["setl_date"] >= REVISION_DAY for d in changed)
    assert {d["category"] for d in changed} <= {"dibao", "tekun", "dibao_edge", "monitored_rural"}


def test_a_cap_raised_mid_year_applies_to_what_is_left_of_the_year(tmp_path: Path) -> None:
    # dibao, inpatient: 2024-03 base 25,000 x 0.80 = 20,000 -> the 20,000 cap is used up. On 2024-08 the cap
    # is 30,000 (revised 1 July): 10,000 left, not 30,000; 0.85 x 20,000 = 17,000 -> cut to 10,000.
    events = [
        {"type": "eligibility", "event_id": "E1", "psn_no": "P1", "insuplc_admdvs": "130302", "category": "dibao",
         "action": "grant", "reported_at": "2022-11-03"},
        settlement("P1", 1, "2024-03-10", "21", 50_000, 25_000),
        settlement("P1", 2, "2024-08-10", "21", 40_000, 20_000),
    ]
    d1, d2 = replay_events(events, revised_book(tmp_path))
    inpatient = [ln for ln in d2["lines"] if ln["rule"] == "inpatient"][0]
    assert [ln["amount_fen"] for ln in d1["lines"] if ln["rule"] == "inpatient"] == [20_000_00]
    assert d1["policy_version"] == "qinhuangdao-2023@2024-01-01"
    assert (inpatient["ratio"], inpatient["amount_fen"], inpatient["capped_by"]) == ("0.85", 10_000_00, "inpatient")
    assert inpatient["ref"] == "§二(三)2" and d2["policy_version"] == "qinhuangdao-2023@2024-07-01"
