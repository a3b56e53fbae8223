"""Early warnings (digest: Qinhuangdao §四(一), Lanzhou §十六), decided with each settlement.

Pure, like the engine that calls it: reads the person through the `PersonView`
and records what it adds in the settlement's `mv`, so a reversal takes the
settlement's out-of-pocket cost back off the year total. A warning fires once
per person, year and kind for a year total (Qinhuangdao), and once per stay for a
single-stay rule (Lanzhou: each stay over the line is its own alarm); a marker
accumulator, which reversals leave alone, remembers it: a pushed warning is not
withdrawn, and a re-settled stay must not push it twice.
"""

from __future__ import annotations

import hashlib
from typing import Any

from medassist.engine.decision import Decision
from medassist.engine.events import Settlement
from medassist.engine.money import MoneyError, to_fen, yuan
from medassist.engine.policy import Policy
from medassist.engine.rules.eligibility import residence as civil_residence
from medassist.engine.rules.warning_rules import WarningRule
from medassist.engine.state import PersonView

YEAR_TOTAL = "oop"  # accumulator "<year>:oop": the person's out-of-pocket cost this year, in fen


def warning_id(policy_id: str, kind: str, psn_no: str, year: int, setl_id: str | None = None) -> str:
    """One id per person, year and kind; per stay too (`setl_id`) for a single-stay rule."""
    stay = f"|{setl_id}" if setl_id is not None else ""
    h = hashlib.blake2b(f"{policy_id}|{kind}|{psn_no}|{year}{stay}".encode(), digest_size=12).hexdigest()
    return f"EW-{h}"


def out_of_pocket(s: Settlement, d: Decision) -> int:
    """medfee_sumamt minus every fund payment, assistance included (digest §四(一))."""
    return max(0, s.medfee_fen - s.fund_fen - max(0, d["assistance_fen"]))


def observe(view: PersonView, policy: Policy | None, s: Settlement, d: Decision) -> None:
    """Set d["warnings"] (and d["warning_gaps"] when an income figure is missing) for one settlement."""
    d["warnings"] = []
    rules: tuple[WarningRule, ...] = policy.warnings if policy is not None else ()
    if not rules or not s.insured:
        return  # the warnings watch insured residents only
    oop = out_of_pocket(s, d)
    year = s.year
    total = view.acc(f"{year}:{YEAR_TOTAL}")
    if any(r.measure == "year_total" for r in rules):
        view.add(f"{year}:{YEAR_TOTAL}", oop, view.moved)  # undone by a reversal
        total += oop
    category = d.get("category")
    residence = s.residence or civil_residence(view.eligibility())
    gaps: list[str] = []
    assert policy is not None
    for rule in rules:
        if not _watches(rule, category, s.insutype, residence):
            continue
        if rule.measure == "single_stay":
            if not s.inpatient:
                continue
            measured = oop
        else:
            measured = total
        marker = f"{year}:warned:{rule.kind}" + (f":{s.setl_id}" if rule.measure == "single_stay" else "")
        if view.acc(marker):
            continue
        threshold, basis, gap = _threshold(rule, policy, year)
        if gap:
            gaps.append(gap)
            continue
        assert threshold is not None
        if measured <= threshold:  # "more than" / "passing": the threshold itself does not warn
            continue
        view.add(marker, 1, {})  # never undone
        d["warnings"].append(_warning(rule, policy, s, d, year, category, residence, measured, threshold, basis))
    if gaps:
        d["warning_gaps"] = gaps


def _watches(rule: WarningRule, category: str | None, insutype: str, residence: str | None) -> bool:
    if rule.ordinary:
        if category is not None:
            return False
    elif category not in rule.categories:
        return False
    if rule.insutypes is not None and insutype not in rule.insutypes:
        return False
    return rule.residence is None or residence in rule.residence


def _threshold(rule: WarningRule, policy: Policy, year: int) -> tuple[int | None, str | None, str | None]:
    """(threshold fen, basis text, gap): a missing or unusable income figure is a gap, not an error."""
    if rule.income is None:
        return rule.amount_fen, None, None
    inc = rule.income
    ref_year = year + inc.year_offset
    where = f"{inc.parameter}.{inc.province}.{ref_year}"
    table = policy.operator.get(inc.parameter)
    by_year = table.get(inc.province) if isinstance(table, dict) else None
    raw = by_year.get(str(ref_year)) if isinstance(by_year, dict) else None
    if raw is None:
        return None, None, f"{where}: missing"
    try:
        income_fen = to_fen(raw)
    except MoneyError as e:
        return None, None, f"{where}: {e}"
    return inc.share.apply(income_fen), f"{where} ({yuan(income_fen)}) x {inc.share}", None


def _warning(rule: WarningRule, policy: Policy, s: Settlement, d: Decision, year: int, category: str | None,
             residence: str | None, measured: int, threshold: int, basis: str | None) -> dict[str, Any]:
    return {
        "warning_id": warning_id(policy.policy_id, rule.kind, s.psn_no, year,
                                 s.setl_id if rule.measure == "single_stay" else None),
        "type": "early_warning", "kind": rule.kind, "measure": rule.measure,
        "policy_id": policy.policy_id, "psn_no": s.psn_no, "year": year,
        "category": category, "insutype": s.insutype, "residence": residence,
        "out_of_pocket_fen": measured, "out_of_pocket": yuan(measured),
        "threshold_fen": threshold, "threshold": yuan(threshold), "basis": basis,
        "event_id": d["event_id"], "setl_id": s.setl_id, "setl_date": s.setl_date,
        "insuplc_admdvs": s.admdvs, "fixmedins_code": s.fixmedins_code, "notify": list(rule.notify),
    }
