"""Refusals that depend on where and how the care happened, each a named reason."""

from __future__ import annotations

from medassist.engine.dates import add_days
from medassist.engine.events import Settlement
from medassist.engine.policy import Policy


def refusal(policy: Policy, s: Settlement) -> str | None:
    if not s.designated and not (
        ("emergency" in policy.designated_exceptions and s.emergency)
        or ("referral" in policy.designated_exceptions and s.referral)
    ):
        return "not_designated"
    if s.location in policy.referral_required_locations and not s.referral:
        return "not_referred"
    if policy.remote_days is not None and s.location == "out_of_province" and s.inpatient:
        # Cross-province inpatient care needs a registration at most N days after admission.
        if s.remote_reg_date is None or s.remote_reg_date > add_days(s.begndate, policy.remote_days):
            return "remote_not_registered"
    return None
