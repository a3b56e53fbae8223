"""Annual caps: what is left of each, and which one binds."""

from __future__ import annotations

from medassist.engine.policy import Policy
from medassist.engine.state import PersonView


def limit(view: PersonView, policy: Policy, year: int, caps: tuple[str, ...], key: str,
          category: str, amount: int) -> tuple[int, str | None]:
    """`amount` cut to the tightest of `caps`; returns (amount, the cap that cut it)."""
    capped_by = None
    for cap in caps:
        left = policy.cap_limit(cap, key, category) - view.acc(f"{year}:cap:{cap}")
        if left < amount:
            amount, capped_by = max(0, left), cap
    return amount, capped_by


def use(view: PersonView, year: int, caps: tuple[str, ...], amount: int, moved: dict[str, int]) -> None:
    if amount:
        for cap in caps:
            view.add(f"{year}:cap:{cap}", amount, moved)
