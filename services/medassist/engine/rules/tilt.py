"""Tilt assistance (倾斜救助) on the burden after the three systems.

`annual`: incremental over the year (Qinhuangdao, Lanzhou's second tilt): each
settlement pays the entitlement on the year's live burden minus the tilt
already paid on live settlements; a reversal takes its burden and its tilt back
out, and the next settlement settles the difference.
`per_visit`: one visit's burden qualifies by itself (Kaizhou).
"""

from __future__ import annotations

from medassist.engine.decision import DecisionLine, line
from medassist.engine.events import Settlement
from medassist.engine.policy import Policy
from medassist.engine.state import PersonView


def tilt(view: PersonView, policy: Policy, s: Settlement, residence: str | None, year: int,
         key: str, burden: int, moved: dict[str, int]) -> DecisionLine | None:
    t = policy.tilt
    if t is None or not t.when(s, residence):
        return None
    ratio = t.ratio_for(key)
    if ratio is None:
        return None
    paid_key = f"{year}:tilt_paid"
    paid = view.acc(paid_key)
    left = None if t.cap is None else max(0, policy.cap_limit(t.cap, key, key) - paid)
    if t.mode == "annual":
        burden_key = f"{year}:burden"
        view.add(burden_key, burden, moved)
        total = view.acc(burden_key)
        base, threshold = total, t.threshold_fen
        due = max(0, ratio.apply(max(0, total - threshold)) - paid)
    else:
        if burden < t.threshold_fen or (burden == t.threshold_fen and not t.inclusive):
            return None
        base, threshold = burden, 0
        due = ratio.apply(burden)
    capped_by = None
    if left is not None and left < due:
        due, capped_by = left, t.cap
    view.add(paid_key, due, moved)
    if due == 0 and capped_by is None and t.mode == "annual" and total <= threshold:
        return None  # below the threshold: nothing to explain
    return line(t.rule, base, threshold, ratio, due, capped_by)
