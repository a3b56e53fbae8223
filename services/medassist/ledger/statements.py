"""Monthly fund statement per county (digest §八), the year-end checks, the quarterly interest move.

Computed from the month figures alone (book.py's Flows), so the Redis book and
a rebuild from the topics give the very same statement. The fund's balance is
the special plus the expenditure account; transfers between them move nothing
in or out of the fund and are shown apart.
"""

from __future__ import annotations

import calendar
from typing import Any, Protocol

from medassist.engine.money import Ratio, yuan
from medassist.engine.policy import PolicyBook, load_policies
from medassist.ledger import accounts as A
from medassist.ledger.book import Flows


class HasFlows(Protocol):
    def load_flows(self) -> Flows: ...


def _sum(months: dict[str, dict[str, int]], keep: Any, name: str) -> int:
    return sum(f.get(name, 0) for m, f in months.items() if keep(m))


def fund_statements(source: HasFlows | Flows, month: str, policies: PolicyBook | None = None) -> list[dict[str, Any]]:
    """One statement per county with postings up to `month` (YYYY-MM), ordered by county."""
    flows = source if isinstance(source, dict) else source.load_flows()
    book = policies or load_policies()
    out = []
    for county in sorted(flows):
        months = flows[county]
        if not any(m <= month for m in months):
            continue
        out.append(_statement(county, month, months, book))
    return out


def _statement(county: str, month: str, months: dict[str, dict[str, int]], book: PolicyBook) -> dict[str, Any]:
    cur = months.get(month, {})
    year = month[:4]

    def before(m: str) -> bool:
        return m < month

    def upto(m: str) -> bool:
        return m <= month

    accounts = {}
    for acct in A.FUND_ACCOUNTS:
        opening = _sum(months, before, f"d:{acct}")
        accounts[acct] = {"opening_fen": opening, "closing_fen": opening + cur.get(f"d:{acct}", 0)}
    opening = sum(a["opening_fen"] for a in accounts.values())
    inflows = {s: cur.get(f"in:{s}", 0) for s in A.SOURCES}
    outflows = {p: cur.get(f"out:{p}", 0) for p in A.PURPOSES}
    closing = opening + sum(inflows.values()) - sum(outflows.values())
    policy = book.route(county, f"{month}-{calendar.monthrange(int(year), int(month[5:]))[1]:02d}")

    def ytd(m: str) -> bool:
        return m[:4] == year and m <= month

    raised = sum(_sum(months, ytd, f"in:{s}") for s in A.SOURCES)
    return {
        "statement_id": f"FS-{county}-{month}", "county": county, "month": month,
        "policy_id": policy.policy_id if policy else None,
        "opening_fen": opening, "opening": yuan(opening),
        "inflows": inflows, "inflows_total_fen": sum(inflows.values()),
        "outflows": outflows, "outflows_total_fen": sum(outflows.values()),
        "transfers": {"special_to_expenditure": cur.get("tr:special_to_expenditure", 0),
                      "interest_to_special": cur.get("tr:interest_to_special", 0)},
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
