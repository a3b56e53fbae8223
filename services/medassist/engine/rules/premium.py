"""Premium subsidies (城乡居民医保个人缴费资助) for an enrollment."""

from __future__ import annotations

from medassist.engine.decision import DecisionLine, line
from medassist.engine.events import Enrollment
from medassist.engine.money import ONE, to_fen
from medassist.engine.policy import Policy, PremiumRule


class ManualReview(Exception):
    """The engine cannot decide; str() is the reason."""


def subsidy(policy: Policy, rule: PremiumRule, e: Enrollment, residence: str | None) -> DecisionLine:
    base = e.contribution_fen
    if e.tier == 2 and rule.tier2_full:
        if e.tier1_contribution_fen is None:  # never the tier-2 amount instead (digest, Kaizhou)
            raise ManualReview("tier1_contribution_missing")
        amount = min(e.tier1_contribution_fen, base)
        return line("premium_subsidy", e.tier1_contribution_fen, 0, ONE, amount,
                    "contribution" if amount < e.tier1_contribution_fen else None)
    if rule.fixed_amount is not None:
        by_year = policy.operator.get(rule.fixed_amount) or {}
        fixed = by_year.get(str(e.year))
        if fixed is None:
            raise ManualReview("operator_parameter_missing")
        want = to_fen(fixed)
        amount = min(want, base)
        return line("premium_subsidy", base, 0, None, amount, "contribution" if amount < want else None)
    ratio = rule.ratio  # the version in force on 1 January of e.year was chosen by the caller
    if rule.ratio_by_residence is not None:
        if residence is None:
            raise ManualReview("residence_missing")
        ratio = rule.ratio_by_residence.get(residence)
    if ratio is None:
        return line("premium_subsidy", base, 0, None, 0, None)
    return line("premium_subsidy", base, 0, ratio, ratio.apply(base), None)
