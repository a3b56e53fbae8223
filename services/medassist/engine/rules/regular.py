"""Regular assistance (普通/基本救助): ratio x (base - what is left of the deductible), capped."""

from __future__ import annotations

from medassist.engine.decision import DecisionLine, line
from medassist.engine.policy import Line, Policy
from medassist.engine.rules import caps
from medassist.engine.state import PersonView


def regular(view: PersonView, policy: Policy, ln: Line, year: int, key: str, category: str,
            base: int, moved: dict[str, int]) -> DecisionLine | None:
    ratio = ln.ratio.get(key)
    if ratio is None:
        return None  # this line gives this category no regular assistance
    absorbed = 0
    if ln.deductible is not None:
        pool_key = f"{year}:ded:{ln.deductible}"
        left = max(0, policy.deductible(ln.deductible, key, category) - view.acc(pool_key))
        absorbed = min(base, left)
        view.add(pool_key, absorbed, moved)
    raw = ratio.apply(base - absorbed)  # rounded half-up before caps
    amount, capped_by = caps.limit(view, policy, year, ln.caps, key, category, raw)
    caps.use(view, year, ln.caps, amount, moved)
    return line(ln.rule, base, absorbed, ratio, amount, capped_by)
