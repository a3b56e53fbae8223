"""Who holds which category on a given day, and which one a decision uses.

Eligibility records are kept as they arrive; when a grant or a revocation takes
effect is judged by the policy deciding the settlement (Qinhuangdao: the 1st of
the month after the list; elsewhere and for application-based categories: the
approval date). A person with several categories is assisted under the single
most favourable one (就高不就低), by the rank in policies/vocabulary.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass

from medassist.engine.dates import add_days, first_of_next_month, months_before
from medassist.engine.events import Eligibility
from medassist.engine.policy import Policy
from medassist.engine.state import EligibilityRecord


def record(ev: Eligibility, seq: int) -> EligibilityRecord:
    return {"category": ev.category, "action": ev.action, "reported_at": ev.reported_at,
            "applied_at": ev.applied_at, "dibao_class": ev.dibao_class, "residence": ev.residence,
            "admdvs": ev.admdvs, "seq": seq}


def effective_date(rec: EligibilityRecord, policy: Policy) -> str:
    if policy.takes_effect == "next_month" and rec["category"] not in policy.application_categories:
        return first_of_next_month(rec["reported_at"])
    return rec["reported_at"]  # type: ignore[no-any-return]


def active(records: list[EligibilityRecord], day: str, policy: Policy) -> dict[str, EligibilityRecord]:
    """Categories in force on `day` under `policy`: the last grant not revoked since."""
    if len(records) == 1:  # most people hold one category: no timeline to sort
        rec = records[0]
        ok = rec["action"] == "grant" and policy.covers(rec["admdvs"]) and effective_date(rec, policy) <= day
        return {rec["category"]: rec} if ok else {}
    timeline = []
    for rec in records:
        if policy.covers(rec["admdvs"]):
            eff = effective_date(rec, policy)
            if eff <= day:
                timeline.append((eff, rec["seq"], rec))
    timeline.sort(key=lambda t: (t[0], t[1]))
    held: dict[str, EligibilityRecord] = {}
    for _, _, rec in timeline:
        if rec["action"] == "grant":
            held[rec["category"]] = rec
        else:
            held.pop(rec["category"], None)
    return held


def reach_back_window(rec: EligibilityRecord, months: int) -> tuple[str, str]:
    """[first, last] settlement dates an approval reaches back to (医后救助)."""
    start = months_before(rec["applied_at"] or rec["reported_at"], months)
    return start, add_days(rec["reported_at"], -1)


def reach_back_grant(records: list[EligibilityRecord], day: str, policy: Policy) -> EligibilityRecord | None:
    """The approval whose reach-back window holds `day`: the first one received, as if the settlement had
    arrived before every approval (the first approval reaches it, and a later one leaves it as it is).

    A revocation takes effect from its own date, after the approval, so it never cancels days of the
    window (which ends the day before the approval): the answer does not depend on arrival order."""
    if not policy.reach_back_months:
        return None
    for rec in records:  # in the order received
        if (rec["action"] != "grant" or rec["category"] not in policy.application_categories
                or not policy.covers(rec["admdvs"])):
            continue
        start, end = reach_back_window(rec, policy.reach_back_months)
        if start <= day <= end:
            return rec
    return None


def residence(records: list[EligibilityRecord]) -> str | None:
    """The household registration civil affairs last told us of."""
    for rec in reversed(records):
        if rec["residence"]:
            return rec["residence"]  # type: ignore[no-any-return]
    return None


# Not frozen: built for every settlement, and frozen __init__ costs ~3x. init=False and a written __init__:
# mypyc compiles it, where the dataclass-generated one stays interpreted.
@dataclass(slots=True, init=False)
class Choice:
    category: str | None  # None: the person holds no category the policy names
    key: str | None  # rate key (Lanzhou dibao: its class); None when manual review
    manual: str | None  # reason for manual review, if the engine cannot decide
    payee: str | None = None
    refusal: str | None = None  # not_eligible reason when category is None

    def __init__(self, category: str | None, key: str | None, manual: str | None, payee: str | None = None,
                 refusal: str | None = None) -> None:
        self.category = category
        self.key = key
        self.manual = manual
        self.payee = payee
        self.refusal = refusal


def _assess(policy: Policy, cat: str, rec: EligibilityRecord, day: str,
            need_class: bool) -> tuple[str | None, str | None]:
    """(rate key, manual-review reason) of one held category under the policy on `day`."""
    rule = policy.categories[cat]
    if rule.manual_review:
        return None, rule.manual_review
    if rule.until is not None and day > rule.until:
        return None, rule.after or "category_expired"
    if rule.classes is not None and need_class:
        cls = rec.get("dibao_class")
        if cls is None or cls not in rule.classes:
            return None, rule.class_missing or "class_missing"
        return rule.classes[cls], None
    return cat, None


def choose(policy: Policy, held: dict[str, EligibilityRecord], day: str, need_class: bool = True) -> Choice:
    if len(held) == 1:  # most people hold one category: nothing to filter or rank
        [(cat, rec)] = held.items()
        if cat not in policy.categories:
            return Choice(None, None, None, refusal="category_not_covered")
        key, manual = _assess(policy, cat, rec, day, need_class)
        return Choice(cat, key, manual, payee=policy.categories[cat].payee)
    named = {c: r for c, r in held.items() if c in policy.categories}
    if not named:
        return Choice(None, None, None, refusal="category_not_covered" if held else "no_category")
    if len(named) == 1:  # one category: nothing to rank
        [(cat, rec)] = named.items()
        key, manual = _assess(policy, cat, rec, day, need_class)
        return Choice(cat, key, manual, payee=policy.categories[cat].payee)
    best = None
    for cat, rec in named.items():
        key, manual = _assess(policy, cat, rec, day, need_class)
        # A category that goes to manual review never blocks one that can be assisted (digest); then rank;
        # within a rank, dibao class A before B; on a tie, the category with numbers wins.
        sort_key = (manual is not None, policy.rank[cat],
                    policy.class_rank.get(key, 0) if manual is None and key is not None else 2, policy.order[cat])
        if best is None or sort_key < best[0]:
            best = (sort_key, cat, key, manual)
    assert best is not None
    _, cat, key, manual = best
    return Choice(cat, key, manual, payee=policy.categories[cat].payee)
