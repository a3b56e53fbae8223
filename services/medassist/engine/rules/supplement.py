"""Supplementary lines on the burden left after regular assistance (Fushun's 重特大疾病)."""

from __future__ import annotations

from medassist.engine.decision import DecisionLine, line
from medassist.engine.events import Settlement
from medassist.engine.policy import Policy
from medassist.engine.rules import caps
from medassist.engine.state import PersonView


def supplements(view: PersonView, policy: Policy, rule: str, s: Settlement, residence: str | None,
                year: int, key: str, category: str, burden: int,
                moved: dict[str, int]) -> list[DecisionLine]:
    out = []
    for sup in policy.supplements:
        ratio = sup.ratio.get(key)
        if ratio is None or rule not in sup.lines or not sup.when(s, residence):
            continue
        amount, capped_by = caps.limit(view, policy, year, sup.caps, key, category, ratio.apply(burden))
        caps.use(view, year, sup.caps, amount, moved)
        out.append(line(sup.rule, burden, 0, ratio, amount, capped_by))
        burden -= amount
    return out
