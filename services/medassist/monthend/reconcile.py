"""Reconciliation NHSA style: 3201 totals per institution and month, 3202 detail when they differ.

Our side of a month is what its close included for that month itself (settlements and
reversals dated in it); adjustments for earlier months are not, because the institution
reports those under their own months. A settlement that reached us only after the close is
therefore rightly reported missing in medassist here, and shows up as an adjustment next month.
"""

from __future__ import annotations

from typing import Any

from medassist.engine.money import yuan
from medassist.monthend.details import DetailLookup
from medassist.monthend.figures import Submission

KINDS = ("missing_at_institution", "missing_in_medassist", "amount_differs")


def reconciliation_id(month: str) -> str:
    return f"RC-{month.replace('-', '')}"


def _diff(kind: str, setl_id: str, ours: int | None, theirs: int | None) -> dict[str, Any]:
    return {"kind": kind, "setl_id": setl_id, "medassist_fen": ours, "institution_fen": theirs,
            "medassist": None if ours is None else yuan(ours), "institution": None if theirs is None else yuan(theirs)}


def compare_details(ours: dict[str, int], theirs: dict[str, int]) -> list[dict[str, Any]]:
    """The exact settlements missing on either side or differing in amount, by setl_id."""
    out: list[dict[str, Any]] = []
    for sid in sorted(ours.keys() | theirs.keys()):
        a, b = ours.get(sid), theirs.get(sid)
        if b is None:
            out.append(_diff("missing_at_institution", sid, a, None))
        elif a is None:
            out.append(_diff("missing_in_medassist", sid, None, b))
        elif a != b:
            out.append(_diff("amount_differs", sid, a, b))
    return out


def reconcile(month: str, statements: list[dict[str, Any]], details: DetailLookup,
              submissions: dict[str, Submission], errors: list[str] | None = None) -> dict[str, Any]:
    """Compare a closed month with the institutions' figures; returns the result document."""
    ours_tot = {s["fixmedins_code"]: (s["settlement_count"], s["assistance_fen"] + s["reversals_fen"])
                for s in statements}
    rows: list[dict[str, Any]] = []
    for code in sorted(ours_tot.keys() | submissions.keys()):
        cnt, fen = ours_tot.get(code, (0, 0))
        sub = submissions.get(code)
        if sub is None and cnt == 0 and fen == 0:
            continue  # only adjustments for earlier months: nothing of this month to agree on
        rows.append(_institution(code, cnt, fen, details.get(code, {}), sub))
    counts = {k: sum(1 for r in rows for d in r["differences"] if d["kind"] == k) for k in KINDS}
    status = {st: [r["fixmedins_code"] for r in rows if r["status"] == st]
              for st in ("balanced", "differs", "details_required", "not_submitted")}
    return {"reconciliation_id": reconciliation_id(month), "month": month, "setlym": month.replace("-", ""),
            "matched": status["balanced"], "differs": status["differs"],
            "details_required": status["details_required"], "not_submitted": status["not_submitted"],
            "difference_counts": counts, "institutions": rows, "errors": list(errors or [])}


def _institution(code: str, cnt: int, fen: int, ours: dict[str, int], sub: Submission | None) -> dict[str, Any]:
    row: dict[str, Any] = {"fixmedins_code": code,
                           "medassist": {"setl_cnt": cnt, "amount_fen": fen, "amount": yuan(fen)},
                           "institution": None, "differences": []}
    if sub is None:
        return {**row, "status": "not_submitted", "stmt_rslt": "1", "stmt_rslt_dscr": "no figures submitted"}
    theirs_cnt, theirs_fen = sub.setl_cnt, sub.amount_fen
    row["institution"] = {"setl_cnt": theirs_cnt, "amount_fen": theirs_fen,
                          "amount": None if theirs_fen is None else yuan(theirs_fen)}
    totals_agree = (theirs_cnt, theirs_fen) == (cnt, fen)
    if sub.details is not None and (totals_agree or theirs_cnt is None) and not compare_details(ours, sub.details):
        return {**row, "status": "balanced", "stmt_rslt": "0", "stmt_rslt_dscr": "detail rows agree"}
    if sub.details is None and totals_agree:
        return {**row, "status": "balanced", "stmt_rslt": "0", "stmt_rslt_dscr": "totals agree"}
    if sub.details is None:
        return {**row, "status": "details_required", "stmt_rslt": "1",
                "stmt_rslt_dscr": "totals differ; send the 3202 detail rows"}
    diffs = compare_details(ours, sub.details)
    dscr = f"{len(diffs)} settlement(s) differ" if diffs else "details agree but totals do not: totals row is wrong"
    return {**row, "status": "differs", "stmt_rslt": "1", "stmt_rslt_dscr": dscr, "differences": diffs}
