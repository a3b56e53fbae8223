"""Statements and differences as CSV files and one Excel workbook a finance officer opens as is.

Amounts are yuan with two decimals, computed from fen as exact decimals (no float arithmetic);
headers carry Chinese and English. CSV is UTF-8 with a BOM so Excel shows the Chinese.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

STATEMENT_COLS = [
    ("statement_id", "结算单号 statement id"), ("setlym", "清算年月 month"),
    ("fixmedins_code", "定点机构编码 institution"), ("settlement_count", "结算人次 settlements"),
    ("assistance_fen", "垫付救助金额 assistance advanced"), ("reversal_count", "撤销笔数 reversals"),
    ("reversals_fen", "撤销冲减 reversals amount"), ("adjustments_fen", "以前月份调整 adjustments"),
    ("net_due_fen", "应付净额 net due"), ("closed_at", "结账时间 closed at"),
]
RULE_COLS = [("statement_id", "结算单号 statement id"), ("fixmedins_code", "定点机构编码 institution"),
             ("rule", "救助项目 policy rule"), ("assistance_fen", "救助金额 assistance"),
             ("reversals_fen", "撤销冲减 reversals"), ("adjustments_fen", "调整 adjustments"),
             ("net_fen", "净额 net")]
ADJ_COLS = [("statement_id", "结算单号 statement id"), ("fixmedins_code", "定点机构编码 institution"),
            ("original_month", "原结算月份 original month"), ("setl_id", "结算ID setl_id"),
            ("kind", "类型 kind"), ("amount_fen", "金额 amount"), ("instruction_id", "支付指令 instruction id")]
DIFF_COLS = [("fixmedins_code", "定点机构编码 institution"), ("status", "对账结果 result"),
             ("kind", "差异类型 difference"), ("setl_id", "结算ID setl_id"),
             ("medassist_fen", "本系统金额 medassist amount"), ("institution_fen", "机构金额 institution amount"),
             ("stmt_rslt_dscr", "说明 description")]


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen) / 100  # exact: fen/100 has two decimals


def _cells(row: dict[str, Any], cols: list[tuple[str, str]]) -> list[Any]:
    return [_yuan(row.get(k)) if k.endswith("_fen") else row.get(k) for k, _ in cols]


def sheets(statements: list[dict[str, Any]], result: dict[str, Any] | None) -> dict[str, tuple[list, list]]:
    """{sheet name: (columns, rows of cells)}: the same tables for CSV and Excel."""
    rules, adjs, diffs = [], [], []
    for s in statements:
        ids = {"statement_id": s["statement_id"], "fixmedins_code": s["fixmedins_code"]}
        rules += [_cells({**ids, **r}, RULE_COLS) for r in s["by_rule"]]
        adjs += [_cells({**ids, **a}, ADJ_COLS) for a in s["adjustments"]]
    for inst in (result or {}).get("institutions", []):
        if inst["status"] == "balanced":
            continue
        base = {"fixmedins_code": inst["fixmedins_code"], "status": inst["status"],
                "stmt_rslt_dscr": inst["stmt_rslt_dscr"]}
        if not inst["differences"]:  # a totals-level difference: show both totals
            ours, theirs = inst["medassist"], inst["institution"] or {}
            diffs.append(_cells({**base, "kind": "totals", "medassist_fen": ours["amount_fen"],
                                 "institution_fen": theirs.get("amount_fen")}, DIFF_COLS))
        diffs += [_cells({**base, **d}, DIFF_COLS) for d in inst["differences"]]
    return {"statements": (STATEMENT_COLS, [_cells(s, STATEMENT_COLS) for s in statements]),
            "by_rule": (RULE_COLS, rules), "adjustments": (ADJ_COLS, adjs), "differences": (DIFF_COLS, diffs)}


def _text(v: Any) -> Any:
    return f"{v:.2f}" if isinstance(v, Decimal) else ("" if v is None else v)


def write_all(out_dir: str | Path, month: str, statements: list[dict[str, Any]],
              result: dict[str, Any] | None, set_aside: list[str] | None = None) -> list[Path]:
    """Write the CSVs and the workbook into out_dir; returns the paths written. `set_aside`: the
    instructions not counted ("instruction_id: reason": signature, reversal), a sheet of their own."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = sheets(statements, result)
    if set_aside:
        tables["set_aside"] = ([("instruction_id", "instruction_id"), ("reason", "reason (not counted)")],
                               [r.split(": ", 1) for r in set_aside])
    written: list[Path] = []
    for name, (cols, rows) in tables.items():
        p = out / f"{name}-{month}.csv"
        with p.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow([h for _, h in cols])
            w.writerows([_text(v) for v in r] for r in rows)
        written.append(p)
    wb = Workbook()
    wb.remove(wb.active)
    for name, (cols, rows) in tables.items():
        ws = wb.create_sheet(name)
        ws.append([h for _, h in cols])
        for c in ws[1]:
            c.font = Font(bold=True)
        money = [i + 1 for i, (k, _) in enumerate(cols) if k.endswith("_fen")]
        for r in rows:
            ws.append(r)
        for col in money:
            for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
                cell.number_format = "#,##0.00"
        for i, (_, h) in enumerate(cols, 1):
            ws.column_dimensions[ws.cell(1, i).column_letter].width = max(14, len(h) + 4)
        ws.freeze_panes = "A2"
    p = out / f"month-end-{month}.xlsx"
    wb.save(p)
    written.append(p)
    return written
