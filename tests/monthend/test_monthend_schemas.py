"""What month-end publishes matches schemas/statement and reconciliation-*.schema.json."""

from __future__ import annotations

from typing import Any

import fastjsonschema
import pytest
from medassist.monthend.figures import Submission, to_csv_rows
from medassist.monthend.instructions import Intake
from medassist.monthend.reconcile import reconcile
from medassist.monthend.statement import close_month
from medassist.schemas import load_schema

from .make import assistance
from .test_monthend_statements import may_instructions


def validator(name: str) -> Any:
    return fastjsonschema.compile(load_schema(name))


def test_statements_and_result_match_their_schemas() -> None:
    intake = Intake().add_all(may_instructions())
    may = close_month("2023-05", list(intake), set(), set(), "2023-06-06T09:00:00+08:00")
    intake.add(assistance("A-S7", "S-7", 40000, "2023-05-20"))
    june = close_month("2023-06", list(intake), {"2023-05"}, set(may.instruction_ids), "2023-07-06T09:00:00+08:00")
    assert may.instruction_ids and may.instruction_count == len(may.instruction_ids)
    check = validator("statement")
    for s in may.statements + june.statements:
        check(s)
    assert any(s["adjustments"] for s in june.statements)
    subs = {"H1": Submission("H1", "2023-05", 3, 950000, {"S-1": 800000, "S-9": 1}),
            "H3": Submission("H3", "2023-05", 1, 100)}
    res = {"type": "reconciliation_result", "closed_at": "x", **reconcile("2023-05", may.statements, may.details, subs)}
    validator("reconciliation-result")(res)
    assert {r["status"] for r in res["institutions"]} == {"differs", "details_required", "not_submitted"}
    rows = to_csv_rows(subs.values())
    check_row = validator("reconciliation-submission")
    for row in rows:
        check_row({k: v for k, v in row.items() if v != ""})


def test_schemas_refuse_what_month_end_would_refuse() -> None:
    check = validator("reconciliation-submission")
    with pytest.raises(fastjsonschema.JsonSchemaException):
        check({"fixmedins_code": "H1", "month": "2023-05", "amount": "1.00"})  # totals without setl_cnt
    with pytest.raises(fastjsonschema.JsonSchemaException):
        check({"fixmedins_code": "H1", "setl_cnt": 1, "amount": "1.005", "setlym": "202305"})
    bad = close_month("2023-05", list(Intake().add_all(may_instructions())), set(), set(), "x").statements[0]
    with pytest.raises(fastjsonschema.JsonSchemaException):
        validator("statement")({**bad, "net_due": 9300.0})  # yuan on the wire is text, never a float
