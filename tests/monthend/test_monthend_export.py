"""The finance officer's files: CSV and an Excel workbook in yuan with two decimals; the metrics."""

from __future__ import annotations

from pathlib import Path

from medassist.monthend.figures import Submission
from medassist.monthend.instructions import Intake
from medassist.monthend.metrics import MonthEndMetrics
from medassist.monthend.reconcile import reconcile
from medassist.monthend.statement import close_month
from openpyxl import load_workbook

from .test_monthend_statements import may_instructions


def test_csv_and_workbook(tmp_path: Path) -> None:
    c = close_month("2023-05", list(Intake().add_all(may_instructions())), set(), set(), "2023-06-06T09:00:00+08:00")
    res = reconcile("2023-05", c.statements, c.details,
                    {"H1": Submission("H1", "2023-05", 2, 930000, {"S-1": 800000, "S-2": 150000})})
    from medassist.monthend.export import write_all

    paths = write_all(tmp_path, "2023-05", c.statements, res)
    assert sorted(p.name for p in paths) == ["adjustments-2023-05.csv", "by_rule-2023-05.csv",
                                             "differences-2023-05.csv", "month-end-2023-05.xlsx",
                                             "statements-2023-05.csv"]
    lines = (tmp_path / "statements-2023-05.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("结算单号 statement id,清算年月 month,定点机构编码 institution")
    assert lines[1] == "ST-202305-H1,202305,H1,2,9500.00,1,-200.00,0.00,9300.00,2023-06-06T09:00:00+08:00"
    wb = load_workbook(tmp_path / "month-end-2023-05.xlsx")
    assert wb.sheetnames == ["statements", "by_rule", "adjustments", "differences"]
    ws = wb["statements"]
    assert ws["I1"].value == "应付净额 net due"
    assert (ws["I2"].value, ws["I2"].number_format) == (9300, "#,##0.00")
    diff = [[c.value for c in r] for r in wb["differences"].iter_rows(min_row=2)]
    # S-0 missing at the institution; H2 sent nothing
    assert diff == [["H1", "differs", "missing_at_institution", "S-0", -200, None, "1 settlement(s) differ"],
                    ["H2", "not_submitted", "totals", None, 300, None, "no figures submitted"]]


def test_metrics_names_and_values() -> None:
    m = MonthEndMetrics()
    m.record_close(1686013200.0, 2)
    m.record_reconciliation({"difference_counts": {"missing_at_institution": 1, "missing_in_medassist": 0,
                                                   "amount_differs": 2}})
    g = m.registry.get_sample_value
    assert g("medassist_monthend_last_close_timestamp_seconds") == 1686013200.0
    assert g("medassist_monthend_statements_total") == 2
    assert g("medassist_reconciliation_differences", {"kind": "amount_differs"}) == 2
    assert g("medassist_reconciliation_differences", {"kind": "missing_in_medassist"}) == 0
