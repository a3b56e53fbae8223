"""The vocabulary is data: a category unknown to it, and a category added to it without touching Python.

Events are handed to the engine as typed events (the decoder's own checks of `category` are the
decoder's business); what is tested here is the engine and the policy files.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from medassist.engine.decide import Engine
from medassist.engine.events import Eligibility, Event, parse_event
from medassist.engine.policy import POLICY_DIR, PolicyError, load_policies
from medassist.engine.state import PersonState, apply_change


def settlement(day: str = "2023-05-10") -> dict[str, Any]:
    return {"type": "settlement", "event_id": "S1", "setl_id": "S1", "mdtrt_id": "M1", "psn_no": "P1",
            "insuplc_admdvs": "130302", "fixmedins_code": "H1", "hosp_lv": "3", "designated": True,
            "med_type": "21", "dise_codg": "I10", "gend": "1", "age": 60, "begndate": day,
            "setl_time": f"{day}T10:00:00+08:00", "medfee_sumamt": "30000.00", "inscp_scp_amt": "30000.00",
            "hifp_pay": "20000.00", "insured": True, "location": "local", "settlement_mode": "direct",
            "insutype": "310"}


def grant(category: str) -> Eligibility:
    return Eligibility("E1", "P1", "130302", category, "grant", "2022-11-03", None, None, None)


def decide_all(engine: Engine, events: list[Event]) -> list[dict[str, Any]]:
    state = PersonState()
    out = []
    for i, ev in enumerate(events):
        decisions, change = engine.decide(state, ev, f"fp{i}")
        apply_change(state, change)
        out.extend(decisions)
    return out


def test_a_category_the_vocabulary_does_not_know_is_not_covered() -> None:
    [d] = decide_all(Engine(load_policies()), [grant("severely_disabled"), parse_event(settlement())])
    assert (d["status"], d["reason"], d["assistance_fen"]) == ("not_eligible", "category_not_covered", 0)


def test_a_category_is_added_by_data_alone(tmp_path: Path) -> None:
    # 重度残疾人 added to the vocabulary and to Qinhuangdao's inpatient line: no Python, no rebuild.
    for p in POLICY_DIR.glob("*.yaml"):
        shutil.copy(p, tmp_path / p.name)
    vocab = tmp_path / "vocabulary.yaml"
    vocab.write_text(vocab.read_text(encoding="utf-8").replace(
        "  illness_poverty:", "  severely_disabled:   {rank: 5, zh: 重度残疾人}\n  illness_poverty:"), encoding="utf-8")
    qhd = tmp_path / "qinhuangdao-2023.yaml"
    text = qhd.read_text(encoding="utf-8")
    text = text.replace("  dibao_edge: {}\n", "  dibao_edge: {}\n  severely_disabled: {}\n", 1)
    text = text.replace("illness_poverty: 0.77}, unit: ratio",
                        "illness_poverty: 0.77, severely_disabled: 0.50}, unit: ratio")
    qhd.write_text(text, encoding="utf-8")
    [d] = decide_all(Engine(load_policies(tmp_path)), [grant("severely_disabled"), parse_event(settlement())])
    # base 30,000 - 20,000 = 10,000; no deductible for the new category; 50% -> 5,000
    assert (d["status"], d["category"], d["assistance_fen"]) == ("paid", "severely_disabled", 5000_00)
    # and a policy cannot name a category before the vocabulary has it
    vocab.write_text((POLICY_DIR / "vocabulary.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(PolicyError, match="'severely_disabled' is not a category of the vocabulary"):
        load_policies(tmp_path)
