"""The run's tables: one CSV each (amounts in integer fen, exact) and one Excel workbook (yuan).

Every header carries Chinese and English ("县区 county"), in the CSV and in the workbook.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from medassist.whatif.aggregate import DIMENSIONS, Partial, deciles, roll_up

HEADERS: dict[str, tuple[str, str]] = {
    "county": ("参保地区划", "county (insuplc_admdvs)"),
    "category": ("救助类别", "category"),
    "rule": ("救助项目", "rule"),
    "month": ("月份", "month"),
    "payee": ("收款方类型", "payee kind"),
    "psn_no": ("人员编号", "person number"),
    "baseline_fen": ("现行政策", "baseline"),
    "variant_fen": ("调整后", "variant"),
    "delta_fen": ("差额", "difference"),
    "decile": ("十分位", "decile"),
    "policy_id": ("政策", "policy"),
    "cap": ("封顶线", "cap"),
    "baseline_lines": ("现行政策触顶次数", "baseline: times it bound"),
    "variant_lines": ("调整后触顶次数", "variant: times it bound"),
    "delta_lines": ("次数差", "difference in times"),
    "measure": ("指标", "measure"),
    "baseline": ("现行政策", "baseline"),
    "variant": ("调整后", "variant"),
}
MONEY = frozenset({"baseline_fen", "variant_fen", "delta_fen"})
SHEETS_ZH = {"county": "按区县", "category": "按类别", "rule": "按项目", "month": "按月", "payee": "按收款方"}


def header(key: str, unit: str) -> str:
    zh, en = HEADERS[key]
    if key in MONEY:
        return f"{zh}({'元' if unit == 'yuan' else '分'}) {en} ({unit})"
    return f"{zh} {en}"


def tables(r: Partial, summary: dict[str, Any]) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """name -> (keys, rows); amounts in fen."""
    out: dict[str, tuple[list[str], list[list[Any]]]] = {}
    money = ["baseline_fen", "variant_fen", "delta_fen"]
    for dim in DIMENSIONS:
        rows = roll_up(r.base.cube, r.var.cube, dim)
        out[f"impact_by_{dim}"] = ([dim, *money], [[x[dim], *(x[m] for m in money)] for x in rows])
    keys = sorted(set(r.base.cube) | set(r.var.cube))
    out["impact"] = ([*DIMENSIONS, *money],
                     [[*k, r.base.cube[k], r.var.cube[k], r.var.cube[k] - r.base.cube[k]] for k in keys])
    out["people_changed"] = (["psn_no", *money],
                             [[p, b, v, v - b] for p, b, v in sorted(r.changed)])
    db, dv = deciles(r.burden_base), deciles(r.burden_var)
    out["burden_deciles"] = (["decile", *money],
                             [[f"{10 * (i + 1)}%", b, v, v - b] for i, (b, v) in enumerate(zip(db, dv, strict=True))])
    out["burden_warnings"] = (["measure", "baseline", "variant"], [
        ["people above their city's early-warning threshold", r.warned_base, r.warned_var],
        ["people whose city's threshold lacks an operator figure", r.warning_gaps, r.warning_gaps],
        ["people", summary["people"], summary["people"]],
    ])
    caps = sorted(set(r.base.caps) | set(r.var.caps))
    out["caps_binding"] = (["policy_id", "cap", "baseline_lines", "variant_lines", "delta_lines"],
                           [[p, c, r.base.caps[(p, c)], r.var.caps[(p, c)], r.var.caps[(p, c)] - r.base.caps[(p, c)]]
                            for p, c in caps])
    return out


def write_tables(out_dir: Path, r: Partial, summary: dict[str, Any]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    all_tables = tables(r, summary)
    for name, (keys, rows) in all_tables.items():
        path = out_dir / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8-sig") as f:  # BOM: Excel opens the Chinese as UTF-8
            w = csv.writer(f)
            w.writerow([header(k, "fen") for k in keys])
            w.writerows(rows)
        written.append(path)
    written.append(write_workbook(out_dir / "whatif.xlsx", all_tables))
    return written


def write_workbook(path: Path, all_tables: dict[str, tuple[list[str], list[list[Any]]]]) -> Path:
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for name, (keys, rows) in all_tables.items():
        dim = name.removeprefix("impact_by_")
        ws = wb.create_sheet(f"{SHEETS_ZH[dim]} {dim}" if dim in SHEETS_ZH else name[:31])
        money = [k in MONEY for k in keys]
        head = []
        for k in keys:
            zh, en = HEADERS[k]
            head.append((zh, en + (" (yuan)" if k in MONEY else "")))
        zh_row, en_row = [], []
        for zh, en in head:
            c1 = _cell(ws, zh, bold)
            c2 = _cell(ws, en, bold)
            zh_row.append(c1)
            en_row.append(c2)
        ws.append(zh_row)
        ws.append(en_row)
        for row in rows:
            ws.append([round(v / 100, 2) if m and isinstance(v, int) else v for v, m in zip(row, money, strict=True)])
    wb.save(path)
    return path


def _cell(ws: Any, value: str, font: Font) -> Any:
    from openpyxl.cell import WriteOnlyCell

    c = WriteOnlyCell(ws, value=value)
    c.font = font
    return c
