"""Reconciliation with worked numbers: 3201 totals, 3202 detail, and the institutions' files."""

from __future__ import annotations

from typing import Any

from medassist.monthend.figures import Figures, Submission, from_csv_text, from_json_lines
from medassist.monthend.reconcile import reconcile

from .test_monthend_statements import may_instructions

MONTH = "2023-05"
# our May (see test_monthend_statements): H1 2 settlements, 9500.00 advanced, 200.00 reversed; H2 1, 300.00
STATEMENTS = [{"fixmedins_code": "H1", "settlement_count": 2, "assistance_fen": 950000, "reversals_fen": -20000},
              {"fixmedins_code": "H2", "settlement_count": 1, "assistance_fen": 30000, "reversals_fen": 0}]
DETAILS = {"H1": {"S-1": 800000, "S-2": 150000, "S-0": -20000}, "H2": {"S-5": 30000}}


def rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["fixmedins_code"]: r for r in result["institutions"]}


def test_matching_totals_balance_and_silence_is_not_submitted() -> None:
    res = reconcile(MONTH, STATEMENTS, DETAILS, {"H1": Submission("H1", MONTH, 2, 930000)})
    assert res["matched"] == ["H1"] and res["not_submitted"] == ["H2"]
    assert rows(res)["H1"]["stmt_rslt"] == "0" and rows(res)["H2"]["stmt_rslt"] == "1"
    assert res["difference_counts"] == {"missing_at_institution": 0, "missing_in_medassist": 0, "amount_differs": 0}


def test_differing_totals_without_detail_ask_for_the_3202_rows() -> None:
    res = reconcile(MONTH, STATEMENTS, DETAILS, {"H1": Submission("H1", MONTH, 2, 950000)})
    h1 = rows(res)["H1"]
    assert (h1["status"], h1["institution"]["amount"], h1["medassist"]["amount"]) == \
        ("details_required", "9500.00", "9300.00")


def test_detail_rows_name_exactly_the_differing_settlements() -> None:
    # the institution forgot the April reversal, booked S-2 at 1400.00 and has a settlement we never saw
    sub = Submission("H1", MONTH, 3, 950000, {"S-1": 800000, "S-2": 140000, "S-9": 10000})
    res = reconcile(MONTH, STATEMENTS, DETAILS, {"H1": sub, "H2": Submission("H2", MONTH, 1, 30000)})
    assert res["matched"] == ["H2"] and res["differs"] == ["H1"]
    diffs = rows(res)["H1"]["differences"]
    assert [(d["kind"], d["setl_id"], d["medassist_fen"], d["institution_fen"]) for d in diffs] == [
        ("missing_at_institution", "S-0", -20000, None), ("amount_differs", "S-2", 150000, 140000),
        ("missing_in_medassist", "S-9", None, 10000)]
    assert res["difference_counts"] == {"missing_at_institution": 1, "missing_in_medassist": 1, "amount_differs": 1}


def test_institution_unknown_to_medassist_and_detail_only_submissions() -> None:
    subs = {"H3": Submission("H3", MONTH, None, None, {"S-30": 5000}),
            "H2": Submission("H2", MONTH, None, None, {"S-5": 30000})}
    res = rows(reconcile(MONTH, STATEMENTS, DETAILS, subs))
    assert res["H2"]["status"] == "balanced"
    assert [(d["kind"], d["setl_id"]) for d in res["H3"]["differences"]] == [("missing_in_medassist", "S-30")]


def test_csv_figures_with_bad_rows_report_each_and_keep_the_rest() -> None:
    text = ("\ufefffixmedins_code,month,setl_cnt,setl_id,amount\n"
            "H1,2023-05,2,,9300.00\n"
            "H1,2023-05,,S-0,-200.00\n"
            "H1,2023-05,,S-1,8000\n"
            ",2023-05,1,,1.00\n"
            "H1,2023-13,1,,1.00\n"
            "H1,2023-05,,S-2,15.001\n"
            "H1,2023-05,,S-1,1.00\n"
            "H2,2023-05,x,,300.00\n")
    figs = from_csv_text(text.lstrip("\ufeff"))
    assert figs.errors == ["row 5: fixmedins_code: missing", "row 6: month: not YYYY-MM (or setlym YYYYMM)",
                           "row 7: amount: more than two decimals", "row 8: setl_id S-1: listed twice (first kept)",
                           "row 9: setl_cnt: not a whole number >= 0"]
    h1 = figs.for_month(MONTH)["H1"]
    assert (h1.setl_cnt, h1.amount_fen, h1.details) == (2, 930000, {"S-0": -20000, "S-1": 800000})


def test_json_lines_figures_accept_setlym_and_numbers() -> None:
    figs = from_json_lines([b'{"fixmedins_code": "H2", "setlym": "202305", "setl_cnt": 1, "amount": 300}',
                            b'{"fixmedins_code": "H2", "setlym": "202305", "setl_cnt": 1, "amount": 300}',
                            b"oops", b"[]"], Figures())
    assert figs.errors == ["line 2: totals: given twice for this institution and month (first kept)",
                           "line 3: not valid JSON", "line 4: not an object"]
    assert figs.for_month(MONTH)["H2"].amount_fen == 30000


def test_an_institution_month_may_exceed_the_per_settlement_cap() -> None:
    # ten million yuan caps one settlement (engine.money), not a hospital's month
    figs = from_json_lines([b'{"fixmedins_code": "H1", "month": "2023-05", "setl_cnt": 2100, "amount": "12345678.90"}'])
    assert (figs.errors, figs.for_month(MONTH)["H1"].amount_fen) == ([], 1234567890)


def test_statements_fixture_matches_the_real_close() -> None:
    # keeps the hand-written STATEMENTS/DETAILS above honest
    from medassist.monthend.instructions import Intake
    from medassist.monthend.statement import close_month

    c = close_month(MONTH, list(Intake().add_all(may_instructions())), set(), set(), "x")
    assert [{k: s[k] for k in STATEMENTS[0]} for s in c.statements] == STATEMENTS
    assert c.details == DETAILS
