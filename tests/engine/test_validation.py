"""Input validation at the edge, and the shape of every decision replay emits.

- What the contract forbids (negative money, more than two decimals, dates that do not exist,
  times without an offset) gives an `invalid` decision whose reason starts with the field, and
  the run goes on to decide the next event.
- Every decision of a generated year (plus the invalid ones) validates against
  schemas/decision.schema.json, checked with the independent `jsonschema` library.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson
import pytest
from engine_strategies import Person, person
from hypothesis import given, settings
from hypothesis import strategies as st
from medassist.population import population
from medassist.replay import Replayer, replay_events
from medassist.schemas import load_schema

GOOD: dict[str, Any] = {
    "type": "settlement", "event_id": "S-1", "setl_id": "S-1", "mdtrt_id": "M-1", "psn_no": "P001",
    "insuplc_admdvs": "130300", "fixmedins_code": "H13030100001", "hosp_lv": "3", "designated": True,
    "med_type": "21", "opsp_kind": None, "dise_codg": "C50.9", "special_disease": False, "major_disease": False,
    "gend": "2", "age": 45, "begndate": "2023-05-01", "setl_time": "2023-05-10T10:00:00+08:00",
    "medfee_sumamt": "35000.00", "inscp_scp_amt": "30000.00", "hifp_pay": "18000.00", "hifmi_pay": "2000.00",
    "hifob_pay": "0", "cvlserv_pay": "0", "hifes_pay": "0", "insured": True, "emergency": False,
    "referral": True, "location": "local", "remote_reg_date": None, "settlement_mode": "direct",
}
DIBAO = {"type": "eligibility", "event_id": "E-1", "psn_no": "P001", "insuplc_admdvs": "130300",
         "category": "dibao", "action": "grant", "reported_at": "2023-03-04"}


def good(**changes: Any) -> dict[str, Any]:
    return {**GOOD, "event_id": "S-bad", "setl_id": "S-bad", **changes}


# field, value, the start of the reason
FORBIDDEN = [
    ("medfee_sumamt", "-5.00", "medfee_sumamt: negative"),
    ("inscp_scp_amt", -5, "inscp_scp_amt: negative"),
    ("hifp_pay", "-0.01", "hifp_pay: negative"),
    ("hifp_pay", "100.005", "hifp_pay: more than two decimals"),
    ("hifmi_pay", 100.005, "hifmi_pay: more than two decimals"),
    ("medfee_sumamt", "1e5", "medfee_sumamt: "),
    ("medfee_sumamt", "12,000.00", "medfee_sumamt: "),
    ("begndate", "2023-02-30", "begndate: "),
    ("begndate", "2023/05/01", "begndate: "),
    ("remote_reg_date", "2023-13-01", "remote_reg_date: "),
    ("setl_time", "2023-02-29T10:00:00+08:00", "setl_time: "),
    ("setl_time", "2023-05-10T10:00:00", "setl_time: "),
    ("setl_time", "2023-05-10", "setl_time: "),
    ("setl_time", "2023-05-10T25:00:00+08:00", "setl_time: "),
    ("setl_time", "9999-12-31T23:00:00-12:00", "setl_time: "),
    ("setl_time", "1899-12-31T10:00:00+08:00", "setl_time: out of range"),
    ("begndate", "0001-01-01", "begndate: out of range"),
]


@pytest.mark.parametrize(("field", "value", "reason"), FORBIDDEN, ids=[f"{f}={v!r}" for f, v, _ in FORBIDDEN])
def test_what_the_contract_forbids_is_invalid_naming_the_field(field: str, value: Any, reason: str) -> None:
    after = {**GOOD, "event_id": "S-2", "setl_id": "S-2"}
    d = replay_events([DIBAO, good(**{field: value}), after])
    assert len(d) == 2
    assert d[0]["status"] == "invalid" and d[0]["assistance_fen"] == 0 and d[0]["lines"] == []
    assert d[0]["reason"].startswith(reason), d[0]["reason"]
    assert d[0]["event_id"] == "S-bad" and d[0]["psn_no"] == "P001"
    # The run goes on: base 30000.00 - 18000.00 - 2000.00 = 10000.00, dibao inpatient 80% = 8000.00
    assert d[1]["status"] == "paid" and d[1]["assistance_fen"] == 800000


def test_a_missing_field_a_bad_line_and_bad_dates_of_other_events_are_invalid_too() -> None:
    no_time = {k: v for k, v in GOOD.items() if k != "setl_time"}
    bad_grant = {**DIBAO, "event_id": "E-2", "reported_at": "2023-02-29"}
    bad_enrol = {"type": "enrollment", "event_id": "N-1", "psn_no": "P001", "insuplc_admdvs": "130300",
                 "year": 2024, "insutype": "390", "contribution": "380.001"}
    lines: list[Any] = [no_time, b"{not json", b"[1, 2]", {"type": "payment"}, bad_grant, bad_enrol,
                        {"type": "reversal", "event_id": "R-1", "setl_id": "S-1", "psn_no": "P001",
                         "insuplc_admdvs": "130300", "setl_time": "2023-05-12T09:00:00+08:00"}]
    d = replay_events(lines)
    assert [x["status"] for x in d] == ["invalid"] * 6 + ["rejected"]
    assert [x["reason"].split(":")[0] for x in d[:6]] == [
        "setl_time", "event", "event", "type", "reported_at", "contribution"]
    assert d[6]["reason"] == "unknown_settlement"


# ---- hostile values and a good event of each kind (test_conformance.py uses them too) -------------------------

HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(-10**15, 10**15), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12), st.sampled_from(["", " ", "0", "-1", "1.005", "1.", ".5", "12.34", "١٢", "2023-02-30",
                                          "2023-05-10T10:00:00+08:00", "3", "21", "chronic", "130300\n",
                                          "H1 3", "é", "\t", "1" * 13, "9999-12-31T23:00:00-12:00",
                                          "0001-01-01T00:00:00+14:00", "2023-05-10T25:00:00+08:00",
                                          "0001-01-01", "9999-12-31", "2023-W19-3", "1899-12-31"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
GOOD_OF = {
    "settlement": GOOD,
    "eligibility": {**DIBAO, "dibao_class": "urban_full", "applied_at": "2023-02-01", "residence": "rural"},
    "reversal": {"type": "reversal", "event_id": "R-1", "setl_id": "S-1", "psn_no": "P001",
                 "insuplc_admdvs": "130300", "setl_time": "2023-05-12T09:00:00+08:00"},
    "enrollment": {"type": "enrollment", "event_id": "N-1", "psn_no": "P001", "insuplc_admdvs": "130300",
                   "year": 2024, "insutype": "390", "tier": 2, "contribution": "380.00",
                   "tier1_contribution": 380, "enrolled_at": "2023-12-20", "residence": "urban"},
}


# ---- decisions against their schema -------------------------------------------------------------------------


def test_every_decision_replay_emits_validates_against_the_decision_schema() -> None:
    events: list[Any] = list(population(150, seed=11))
    events += [good(**{f: v}) for f, v, _ in FORBIDDEN] + [b"{oops", b"null", {"type": 7}]
    decisions = replay_events(events)
    validator = jsonschema.Draft7Validator(load_schema("decision"))
    for d in decisions:
        errors = [e.message for e in validator.iter_errors(orjson.loads(orjson.dumps(d)))]
        assert not errors, (d, errors)
    statuses = {d["status"] for d in decisions}
    assert {"paid", "zero", "rejected", "invalid", "reversed", "not_eligible"} <= statuses
    assert {d["policy_id"] for d in decisions if d["status"] == "paid"} == {
        "qinhuangdao-2023", "fushun-2014", "kaizhou-2023", "lanzhou-2022"}


@settings(max_examples=80, deadline=None)
@given(person(reversals=True, max_settlements=6), st.lists(st.tuples(st.integers(0, 12), st.text(max_size=0),
                                                                     HOSTILE), max_size=6))
def test_hostile_events_among_good_ones_never_reach_an_engine_error(p: Person, spoil: list[Any]) -> None:
    # A person's events with some copies spoiled field by field (dates far out, wrong types...):
    # every event gets its decision and the engine itself never fails (no "cannot be decided").
    events = list(p.events)
    for i, _, value in spoil:
        original = events[i % len(events)]
        field = sorted(original)[i % len(original)]
        events.append({**original, "event_id": f"X{len(events)}", field: value})
    r = Replayer()
    for e in events:
        for d in r.feed(dict(e)):
            assert "cannot be decided" not in (d["reason"] or ""), (e, d)


def test_an_extra_field_nested_deeper_than_orjson_writes_is_ignored_or_refused_by_name() -> None:
    # The contract ignores unknown fields: 300 levels deep it is still just an ignored field (orjson writes
    # 254 levels, so the fingerprint falls back to the json module); past what can be hashed at all the
    # event is invalid, naming `event`, and the next event is decided.
    def nested(depth: int) -> bytes:
        return orjson.dumps({**DIBAO})[:-1] + b',"x":' + b"[" * depth + b"]" * depth + b"}"

    after = {**GOOD, "event_id": "S-2", "setl_id": "S-2"}
    d = replay_events([nested(300), orjson.dumps({**GOOD}), nested(1023), after])
    assert [x["status"] for x in d] == ["paid", "invalid", "paid"]
    assert d[0]["assistance_fen"] == 800000 and d[2]["assistance_fen"] == 800000
    assert d[1]["reason"] == "event: nested too deeply"


@pytest.mark.parametrize("level", ["3", 3, 3.0])
def test_hospital_level_as_text_or_number_is_the_same_level(level: Any) -> None:
    # Kaizhou dibao, other disease: one stay at level 3 with inscp 40000.00 > 30000.00 qualifies;
    # base 40000.00 - 20000.00 = 20000.00 x 70% = 14000.00 (a level read as "3.0" would have paid nothing).
    grant = {**DIBAO, "insuplc_admdvs": "500154", "reported_at": "2024-01-01"}
    s = {**GOOD, "insuplc_admdvs": "500154", "hosp_lv": level, "referral": False, "medfee_sumamt": "40000",
         "inscp_scp_amt": "40000", "hifp_pay": "20000", "hifmi_pay": "0", "setl_time": "2024-05-10T10:00:00+08:00",
         "begndate": "2024-05-01"}
    [d] = replay_events([grant, s])
    assert (d["status"], d["assistance_fen"], d["lines"][0]["rule"]) == ("paid", 1400000, "inpatient")
