"""The institutions' own figures (NHSA 3201 totals, 3202 detail rows) from JSONL, CSV or a topic.

Each row is one object (a CSV row has the same columns):
  totals: {"fixmedins_code", "month": "YYYY-MM" (or "setlym": "YYYYMM"), "setl_cnt", "amount"}
  detail: {"fixmedins_code", "month" | "setlym", "setl_id", "amount"}
`amount` is yuan (decimal text or number, 2 decimals at most): the one-stop assistance the
institution advanced, net of reversals (refunds included, 3201 refd_setl_flag 1); negative
only when the month's reversals outweigh it. A bad row is reported with its line and reason
and the rest is read on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from medassist.engine.money import MoneyError

COLUMNS = ("fixmedins_code", "month", "setl_cnt", "setl_id", "amount")


@dataclass
class Submission:
    """One institution's figures for one month."""

    fixmedins_code: str
    month: str
    setl_cnt: int | None = None  # None: no totals row came
    amount_fen: int | None = None
    details: dict[str, int] | None = None  # setl_id -> fen; None: no detail rows came


@dataclass
class Figures:
    by_key: dict[tuple[str, str], Submission] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def for_month(self, month: str) -> dict[str, Submission]:
        return {code: s for (code, m), s in self.by_key.items() if m == month}


def signed_fen(value: object) -> int:
    """Yuan to fen; a leading minus is allowed (a month whose reversals outweigh it).

    Not engine.money.to_fen: its ten-million-yuan cap guards one settlement, and an
    institution's month legitimately adds up to more than that.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MoneyError("not an amount")
    if isinstance(value, float) and value != value:
        raise MoneyError("not a finite amount")
    text = (format(value, "f") if isinstance(value, float) else str(value)).strip()
    sign = -1 if text.startswith("-") else 1
    whole, dot, frac = text.lstrip("-").partition(".")
    if not whole.isdigit() or (dot and not frac.isdigit()) or len(whole) > 15:
        raise MoneyError("not a decimal amount")
    if len(frac) > 2 and frac[2:].strip("0"):
        raise MoneyError("more than two decimals")
    return sign * (int(whole) * 100 + int(frac[:2].ljust(2, "0")))


def _month_of(row: dict[str, Any]) -> str:
    m = row.get("month")
    if m in (None, ""):
        ym = str(row.get("setlym") or "")
        m = f"{ym[:4]}-{ym[4:]}" if len(ym) == 6 else ""
    m = str(m)
    if len(m) != 7 or m[4] != "-" or not (m[:4] + m[5:]).isdigit() or not 1 <= int(m[5:]) <= 12:
        raise ValueError("month: not YYYY-MM (or setlym YYYYMM)")
    return m


def _add(figs: Figures, row: object, where: str) -> None:
    if not isinstance(row, dict):
        figs.errors.append(f"{where}: not an object")
        return
    try:
        code = row.get("fixmedins_code")
        if not isinstance(code, str) or not code.strip():
            raise ValueError("fixmedins_code: missing")
        code = code.strip()
        month = _month_of(row)
        try:
            fen = signed_fen(row.get("amount"))
        except MoneyError as e:
            raise ValueError(f"amount: {e}") from e
        setl_id = row.get("setl_id")
        sub = figs.by_key.setdefault((code, month), Submission(code, month))
        if setl_id not in (None, ""):
            details = sub.details if sub.details is not None else {}
            if str(setl_id) in details:
                raise ValueError(f"setl_id {setl_id}: listed twice (first kept)")
            details[str(setl_id)] = fen
            sub.details = details
            return
        cnt = row.get("setl_cnt")
        try:
            n = int(str(cnt).strip()) if cnt not in (None, "") and not isinstance(cnt, bool) else -1
        except ValueError:
            n = -1
        if n < 0:
            raise ValueError("setl_cnt: not a whole number >= 0")
        if sub.setl_cnt is not None:
            raise ValueError("totals: given twice for this institution and month (first kept)")
        sub.setl_cnt, sub.amount_fen = n, fen
    except ValueError as e:
        figs.errors.append(f"{where}: {e}")


def from_json_lines(lines: Iterable[bytes | str], figs: Figures | None = None, source: str = "line") -> Figures:
    figs = figs or Figures()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            figs.errors.append(f"{source} {n}: not valid JSON")
            continue
        _add(figs, row, f"{source} {n}")
    return figs


def from_csv_text(text: str, figs: Figures | None = None, source: str = "row") -> Figures:
    figs = figs or Figures()
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("fixmedins_code", "amount") if c not in (reader.fieldnames or [])]
    if missing:
        figs.errors.append(f"{source}: CSV header lacks {', '.join(missing)}")
        return figs
    for n, row in enumerate(reader, 2):  # line 1 is the header
        _add(figs, {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}, f"{source} {n}")
    return figs


def from_file(path: str | Path) -> Figures:
    """JSONL, or CSV when the name ends in .csv (UTF-8, a BOM is fine)."""
    p = Path(path)
    text = p.read_text(encoding="utf-8-sig")
    if p.suffix.lower() == ".csv":
        return from_csv_text(text, source=f"{p.name} line")
    return from_json_lines(text.splitlines(), source=f"{p.name} line")


def to_csv_rows(subs: Iterable[Submission]) -> list[dict[str, Any]]:
    """The CSV/JSONL rows that say the same as `subs` (for tests and for institutions' tooling)."""
    from medassist.engine.money import yuan

    rows: list[dict[str, Any]] = []
    for s in subs:
        if s.setl_cnt is not None and s.amount_fen is not None:
            rows.append({"fixmedins_code": s.fixmedins_code, "month": s.month, "setl_cnt": s.setl_cnt,
                         "setl_id": "", "amount": yuan(s.amount_fen)})
        for sid, fen in sorted((s.details or {}).items()):
            rows.append({"fixmedins_code": s.fixmedins_code, "month": s.month, "setl_cnt": "",
                         "setl_id": sid, "amount": yuan(fen)})
    return rows
