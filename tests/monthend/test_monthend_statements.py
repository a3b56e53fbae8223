"""Statements with worked numbers: attribution to months, what counts as institution money, dedup."""

from __future__ import annotations

from typing import Any

from medassist.monthend.instructions import Intake
from medassist.monthend.statement import close_month, statement_id
from medassist.replay import replay_events
from medassist.stream.instructions import build

from .make import assistance, clawback, premium

CLOSED_AT = "2023-06-06T09:00:00+08:00"


def may_instructions() -> list[Any]:
    return [
        assistance("A-S1", "S-1", 800000, "2023-05-10"),
        assistance("A-S2", "S-2", 150000, "2023-05-31", rules=[("outpatient_chronic", 100000), ("tilt", 50000)]),
        assistance("A-S3", "S-3", 50000, "2023-05-12", mode="manual", payee_kind="beneficiary"),
        assistance("A-S4", "S-4", 70000, "2023-05-12", payee_kind="resident_fund"),
        clawback("C-S0", "S-0", 20000, "2023-04-20", "2023-05-03"),
        clawback("C-S2", "S-2", 150000, "2023-05-31", "2023-06-01", rule="outpatient_chronic"),
        assistance("A-S1", "S-1", 800000, "2023-05-10"),  # redelivered: at-least-once topic
        premium("N-1"),
        b"not json",
        assistance("A-S6", "S-6", 9900, "2023-04-30"),
        assistance("A-S5", "S-5", 30000, "2023-05-15", code="H2"),
    ]


def by_code(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["fixmedins_code"]: s for s in statements}


def test_may_statement_worked_numbers() -> None:
    intake = Intake().add_all(may_instructions())
    assert (intake.duplicates, intake.not_institution_money, intake.errors) == (1, 3, {"not valid JSON": 1})
    c = close_month("2023-05", list(intake), set(), set(), CLOSED_AT)
    st = by_code(c.statements)
    h1 = st["H1"]
    # 8000.00 + 1500.00 advanced; the 200.00 reversal of an April settlement happened in May
    assert (h1["settlement_count"], h1["assistance_fen"], h1["reversal_count"], h1["reversals_fen"]) == \
        (2, 950000, 1, -20000)
    assert (h1["adjustments_fen"], h1["net_due_fen"], h1["net_due"]) == (0, 930000, "9300.00")
    assert h1["by_rule"] == [
        {"rule": "inpatient", "assistance_fen": 800000, "reversals_fen": -20000, "adjustments_fen": 0,
         "net_fen": 780000, "net": "7800.00"},
        {"rule": "outpatient_chronic", "assistance_fen": 100000, "reversals_fen": 0, "adjustments_fen": 0,
         "net_fen": 100000, "net": "1000.00"},
        {"rule": "tilt", "assistance_fen": 50000, "reversals_fen": 0, "adjustments_fen": 0,
         "net_fen": 50000, "net": "500.00"}]
    assert h1["statement_id"] == statement_id("2023-05", "H1") == "ST-202305-H1"
    assert (st["H2"]["settlement_count"], st["H2"]["net_due_fen"]) == (1, 30000)
    assert c.details == {"H1": {"S-1": 800000, "S-2": 150000, "S-0": -20000}, "H2": {"S-5": 30000}}
    assert sorted(c.instruction_ids) == ["A-S1", "A-S2", "A-S5", "C-S0"]
    # the April settlement waits for April's close; the June reversal for June's
    assert (c.pending_earlier, c.later) == (1, 1)
    assert (c.summary["statements"], c.summary["settlements"], c.summary["net_due_fen"]) == (2, 3, 960000)


def test_only_direct_money_paid_to_the_institution_is_on_its_statement() -> None:
    # manual claims go to the beneficiary; Qinhuangdao's resident-insurance cases clear via the resident fund
    intake = Intake().add_all([
        assistance("M", "S-M", 50000, "2023-05-12", mode="manual", payee_kind="beneficiary"),
        assistance("R", "S-R", 70000, "2023-05-12", payee_kind="resident_fund"),
        assistance("B", "S-B", 60000, "2023-05-12", payee_kind="beneficiary"),
        assistance("D", "S-D", 10000, "2023-05-12")])
    c = close_month("2023-05", list(intake), set(), set(), CLOSED_AT)
    assert [(s["fixmedins_code"], s["settlement_count"], s["net_due_fen"]) for s in c.statements] == \
        [("H1", 1, 10000)]
    assert intake.not_institution_money == 3


def test_late_instruction_is_an_adjustment_of_the_next_close() -> None:
    intake = Intake().add_all(may_instructions())
    may = close_month("2023-05", list(intake), set(), set(), CLOSED_AT)
    intake.add(assistance("A-S7", "S-7", 40000, "2023-05-20"))  # arrives after May was closed
    june = close_month("2023-06", list(intake), {"2023-05"}, set(may.instruction_ids), "2023-07-06T09:00:00+08:00")
    h1 = by_code(june.statements)["H1"]
    assert h1["adjustments"] == [{"instruction_id": "A-S7", "kind": "assistance", "original_month": "2023-05",
                                  "setl_id": "S-7", "amount_fen": 40000, "amount": "400.00"}]
    # June: no settlement, the 1500.00 reversal of S-2, plus the 400.00 late May settlement
    assert (h1["settlement_count"], h1["reversals_fen"], h1["adjustments_fen"], h1["net_due_fen"]) == \
        (0, -150000, 40000, -110000)
    assert {r["rule"]: r["net_fen"] for r in h1["by_rule"]} == {"inpatient": 40000, "outpatient_chronic": -150000}
    assert june.details == {"H1": {"S-2": -150000}}  # adjustments are not June's own detail rows
    assert june.pending_earlier == 1  # April is still open


def test_bad_instructions_get_specific_reasons_and_the_rest_goes_on() -> None:
    bad_amount = assistance("X1", "S-X1", 100, "2023-05-01")
    bad_amount["amount_fen"] = "100"
    bad_lines = assistance("X2", "S-X2", 100, "2023-05-01", rules=[("inpatient", 99)])
    bad_date = assistance("X3", "S-X3", 100, "2023-02-30")
    wrong_sign = assistance("X4", "S-X4", 100, "2023-05-01")
    wrong_sign["amount_fen"] = -100
    conflict = assistance("A-S1", "S-1", 800001, "2023-05-10")
    intake = Intake().add_all([assistance("A-S1", "S-1", 800000, "2023-05-10"), bad_amount, bad_lines,
                               bad_date, wrong_sign, conflict, b"[1]", b"\xff"])
    assert intake.errors == {"amount_fen: not an integer": 1, "lines: do not add up to amount_fen": 1,
                             "setl_date: not a YYYY-MM-DD date": 1, "amount_fen: wrong sign for its kind": 1,
                             "not a JSON object": 1, "not valid JSON": 1}
    assert intake.conflicts == ["A-S1"] and list(intake.items) == ["A-S1"]


def _event(setl_id: str, setl_time: str) -> dict[str, Any]:
    return {"type": "settlement", "event_id": setl_id, "setl_id": setl_id, "mdtrt_id": "M-" + setl_id,
            "psn_no": "P1", "insuplc_admdvs": "130302", "fixmedins_code": "H1", "hosp_lv": "2",
            "designated": True, "med_type": "21", "opsp_kind": None, "dise_codg": "C50.9",
            "special_disease": False, "major_disease": False, "gend": "2", "age": 45, "begndate": "2023-05-25",
            "setl_time": setl_time, "medfee_sumamt": "12000.00", "inscp_scp_amt": "10000.00",
            "hifp_pay": "6000.00", "hifmi_pay": "0", "hifob_pay": "0", "cvlserv_pay": "0", "hifes_pay": "0",
            "insured": True, "emergency": False, "referral": True, "location": "local", "remote_reg_date": None,
            "settlement_mode": "direct", "insutype": "310"}


def test_months_follow_shanghai_time_through_the_real_engine() -> None:
    events = [{"type": "eligibility", "event_id": "E-1", "psn_no": "P1", "insuplc_admdvs": "130302",
               "category": "dibao", "action": "grant", "reported_at": "2023-01-02", "dibao_class": "urban_full"},
              _event("S-1", "2023-05-31T23:30:00+08:00"),
              _event("S-2", "2023-05-31T16:30:00+00:00"),  # 00:30 on 1 June in Shanghai
              {"type": "reversal", "event_id": "R-1", "setl_id": "S-1", "psn_no": "P1",
               "insuplc_admdvs": "130302", "setl_time": "2023-06-02T09:00:00+08:00"},
              _event("S-3", "2023-06-20T10:00:00+08:00"),
              {"type": "reversal", "event_id": "R-3", "setl_id": "S-3", "psn_no": "P1",  # 1 July in Shanghai
               "insuplc_admdvs": "130302", "setl_time": "2023-06-30T16:30:00+00:00"}]
    instructions = [i for i in (build(d) for d in replay_events(events)) if i is not None]
    intake = Intake().add_all(instructions)
    # dibao inpatient in Qinhuangdao: 80% of (10000.00 in scope - 6000.00 paid by the fund) = 3200.00
    may = close_month("2023-05", list(intake), set(), set(), CLOSED_AT)
    assert [(s["settlement_count"], s["net_due_fen"]) for s in may.statements] == [(1, 320000)]
    june = close_month("2023-06", list(intake), {"2023-05"}, set(may.instruction_ids), CLOSED_AT)
    h1 = june.statements[0]
    assert (h1["settlement_count"], h1["assistance_fen"], h1["reversals_fen"], h1["net_due_fen"]) == \
        (2, 640000, -320000, 320000)
    assert h1["adjustments"] == []
    july = close_month("2023-07", list(intake), {"2023-05", "2023-06"}, set(may.instruction_ids + june.instruction_ids),
                       CLOSED_AT)
    assert [(s["reversal_count"], s["net_due_fen"]) for s in july.statements] == [(1, -320000)]
