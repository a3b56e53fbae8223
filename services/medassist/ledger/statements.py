"""Monthly fund statement per county (digest §八), the year-end checks, the quarterly interest move.

Computed from the month figures alone (book.py's Flows), so the Redis book and
a rebuild from the topics give the very same statement. The fund's balance is
the special plus the expenditure account; transfers between them move nothing
in or out of the fund and are shown apart.

Given a `Prior` (what the last month-end close froze), the opening is that close's
closing and every flow dated before the month that the frozen statements did not
count shows up as a prior-period adjustment, so the statements chain and the
closing is still the ledger's true balance at the end of the month.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from typing import Any, Protocol

from medassist.engine.money import Ratio, yuan
from medassist.engine.policy import PolicyBook, load_policies
from medassist.ledger import accounts as A
from medassist.ledger.book import Flows

SECTIONS = {"in:": "inflows", "out:": "outflows", "tr:": "transfers"}  # flow prefix -> statement section
TRANSFERS = ("special_to_expenditure", "interest_to_special")


class HasFlows(Protocol):
    def load_flows(self) -> Flows: ...


@dataclass(frozen=True)
class Prior:
    """A closed month's frozen statements (county -> statement) and the flows they count (months <= month)."""

    month: str
    statements: dict[str, dict[str, Any]] = field(default_factory=dict)
    basis: Flows = field(default_factory=dict)


def statement_id(month: str, county: str) -> str:
    """Deterministic: one statement per county and month, whoever computes it and how often."""
    return f"FS-{month.replace('-', '')}-{county}"


def basis(flows: Flows, month: str) -> Flows:
    """The flows dated up to `month`: what statements of that month count (stored with a close)."""
    return {c: {m: dict(f) for m, f in months.items() if m <= month} for c, months in flows.items()}


def _sum(months: dict[str, dict[str, int]], keep: Any, name: str) -> int:
    return sum(f.get(name, 0) for m, f in months.items() if keep(m))


def fund_statements(source: HasFlows | Flows, month: str, policies: PolicyBook | None = None,
                    prior: Prior | None = None) -> list[dict[str, Any]]:
    """One statement per county with postings up to `month` (YYYY-MM), ordered by county."""
    flows = source if isinstance(source, dict) else source.load_flows()
    book = policies or load_policies()
    out = []
    for county in sorted(flows.keys() | (prior.statements.keys() if prior else set())):
        months = flows.get(county, {})
        if not any(m <= month for m in months) and not (prior and county in prior.statements):
            continue
        out.append(_statement(county, month, months, book, prior))
    return out


def _adjustments(months: dict[str, dict[str, int]], base: dict[str, dict[str, int]],
                 month: str) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """(field -> fen not counted by `base`, the lines per original month and flow) for months before `month`."""
    total: dict[str, int] = {}
    lines: list[dict[str, Any]] = []
    for m in sorted(months.keys() | base.keys()):
        if m >= month:
            continue
        now, then = months.get(m, {}), base.get(m, {})
        for name in sorted(now.keys() | then.keys()):
            fen = now.get(name, 0) - then.get(name, 0)
            if fen == 0:
                continue
            total[name] = total.get(name, 0) + fen
            prefix = name[:name.index(":") + 1] if ":" in name else ""
            if prefix in SECTIONS:
                lines.append({"original_month": m, "section": SECTIONS[prefix], "name": name[len(prefix):],
                              "amount_fen": fen, "amount": yuan(fen)})
    return total, lines


def _statement(county: str, month: str, months: dict[str, dict[str, int]], book: PolicyBook,
               prior: Prior | None) -> dict[str, Any]:
    cur = months.get(month, {})
    year = month[:4]
    # Without a close before, everything dated earlier is the opening; with one, what it did not count is adjusted.
    base = {m: f for m, f in months.items() if m < month} if prior is None else prior.basis.get(county, {})
    prev = prior.statements.get(county) if prior else None
    adj, lines = _adjustments(months, base, month)
    accounts = {}
    for acct in A.FUND_ACCOUNTS:
        opening = prev["accounts"][acct]["closing_fen"] if prev else sum(f.get(f"d:{acct}", 0) for f in base.values())
        a = adj.get(f"d:{acct}", 0)
        accounts[acct] = {"opening_fen": opening, "adjustments_fen": a,
                          "closing_fen": opening + cur.get(f"d:{acct}", 0) + a}
    opening = prev["closing_fen"] if prev else sum(a["opening_fen"] for a in accounts.values())
    inflows = {s: cur.get(f"in:{s}", 0) for s in A.SOURCES}
    outflows = {p: cur.get(f"out:{p}", 0) for p in A.PURPOSES}
    prior_adj: dict[str, Any] = {"inflows": {s: adj.get(f"in:{s}", 0) for s in A.SOURCES},
                 "outflows": {p: adj.get(f"out:{p}", 0) for p in A.PURPOSES},
                 "transfers": {t: adj.get(f"tr:{t}", 0) for t in TRANSFERS}, "postings": adj.get("n", 0),
                 "lines": lines}
    adj_total = sum(prior_adj["inflows"].values()) - sum(prior_adj["outflows"].values())
    prior_adj["total_fen"] = adj_total
    prior_adj["total"] = yuan(adj_total)
    closing = opening + sum(inflows.values()) - sum(outflows.values()) + adj_total
    policy = book.route(county, f"{month}-{calendar.monthrange(int(year), int(month[5:]))[1]:02d}")

    def ytd(m: str) -> bool:
        return m[:4] == year and m <= month

    raised = sum(_sum(months, ytd, f"in:{s}") for s in A.SOURCES)
    return {
        "statement_id": statement_id(month, county), "county": county, "month": month,
        "policy_id": policy.policy_id if policy else None,
        "previous_statement_id": prev["statement_id"] if prev else None,
        "opening_fen": opening, "opening": yuan(opening),
        "inflows": inflows, "inflows_total_fen": sum(inflows.values()),
        "outflows": outflows, "outflows_total_fen": sum(outflows.values()),
        "transfers": {t: cur.get(f"tr:{t}", 0) for t in TRANSFERS},
        "prior_period_adjustments": prior_adj,
        "closing_fen": closing, "closing": yuan(closing),
        "accounts": accounts, "postings": cur.get("n", 0),
        # the books agree with themselves: the flows explain the change of the two fund accounts
        "balanced": closing == sum(a["closing_fen"] for a in accounts.values()),
        "raised_year_to_date_fen": raised,
        "checks": _checks(policy.funds if policy else {}, month, months, ytd, closing, raised),
    }


def _checks(params: dict[str, Any], month: str, months: dict[str, dict[str, int]], ytd: Any,
            closing: int, raised: int) -> list[dict[str, Any]]:
    """Year-end checks: reported every month (year to date), flagged only on the December statement."""
    year_end = month.endswith("-12")
    out: list[dict[str, Any]] = []
    share = params.get("urban_city_share")
    if share is not None:
        r = Ratio.parse(share)
        city = _sum(months, ytd, "raised:city:urban")
        county = _sum(months, ytd, "raised:county:urban")
        shared = city + county
        out.append({
            "check": "urban_city_share", "required": r.text, "city_fen": city, "county_fen": county,
            "city_share": f"{city / shared:.4f}" if shared else None,  # display only; the test below is exact
            "flagged": year_end and city * r.den < shared * r.num,
        })
    limit_share = params.get("year_end_balance_max_share")
    if limit_share is not None:
        r = Ratio.parse(limit_share)
        limit = r.apply(raised)
        out.append({
            "check": "year_end_balance", "max_share": r.text, "closing_fen": closing, "raised_fen": raised,
            "limit_fen": limit, "flagged": year_end and closing > limit,
        })
    return out


def quarter_months(quarter: str) -> list[str]:
    """'2024Q2' -> ['2024-04', '2024-05', '2024-06'] (ValueError when it is not a quarter)."""
    if len(quarter) != 6 or quarter[4] != "Q" or not quarter[:4].isdigit() or quarter[5] not in "1234":
        raise ValueError(f"quarter: {quarter!r} is not YYYYQn")
    year, q = int(quarter[:4]), int(quarter[5])
    return [f"{year}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]


def interest_transfer(source: HasFlows | Flows, county: str, quarter: str) -> dict[str, Any] | None:
    """The movement that takes the quarter's expenditure-account interest to the special account.

    Its id is fixed by county and quarter, so running it twice posts once.
    """
    flows = source if isinstance(source, dict) else source.load_flows()
    months = quarter_months(quarter)
    fen = sum(flows.get(county, {}).get(m, {}).get("int:expenditure", 0) for m in months)
    if fen <= 0:
        return None
    last = months[-1]
    day = f"{last}-{calendar.monthrange(int(last[:4]), int(last[5:]))[1]:02d}"
    return {"movement_id": f"IT-{county}-{quarter}", "kind": "interest_transfer", "county": county,
            "date": day, "amount": yuan(fen), "note": f"interest of the expenditure account, {quarter}"}
