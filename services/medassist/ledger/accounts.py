"""The accounts of one county's fund (the paying level of a decision's `payer`).

Every posting moves money from one account to another, so the balances of a
county (sources included) always sum to zero. The fund itself is the fiscal
special account plus the agency expenditure account; payee accounts add up
what has been paid to each kind of payee; `source:*` is the outside world
the fund's income comes from (it runs negative as money comes in).
"""

from __future__ import annotations

SPECIAL = "special"  # 财政专户: fiscal subsidies, lottery, donations, interest, other income
EXPENDITURE = "expenditure"  # 支出户: fed from the special account; every payment leaves from here
FUND_ACCOUNTS = (SPECIAL, EXPENDITURE)

PAYEE_KINDS = ("institution", "resident_fund", "beneficiary", "premium_fund")
SOURCES = ("fiscal_subsidy", "lottery", "donation", "interest", "other")
PURPOSES = ("assistance", "clawback", "premium_subsidy")  # instruction kinds; clawbacks are negative outflows


def payee(kind: str) -> str:
    return f"payee:{kind}"


def source(name: str) -> str:
    return f"source:{name}"


def county_of(payer_account: object) -> str | None:
    """'130302:assistance_expenditure' -> '130302' (None when it is not such an account)."""
    if not isinstance(payer_account, str):
        return None
    county, _, account = payer_account.partition(":")
    if account != "assistance_expenditure" or len(county) != 6 or not county.isdigit():
        return None
    return county
