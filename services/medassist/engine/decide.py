"""(state, event) -> (decisions, state change): the one function replay and the workers share.

Pure: no I/O, no clock. The order of refusals is fixed so that a decision
always names the first rule that stops it: policy in force -> insurance ->
category -> place and referral -> amounts.
"""

from __future__ import annotations

from typing import Any

from medassist.engine.dates import shanghai_date
from medassist.engine.decision import ASSISTED, Decision, DecisionLine, decision, line
from medassist.engine.events import (
    Eligibility,
    Enrollment,
    Event,
    Reversal,
    Settlement,
    parse_event,
)
from medassist.engine.money import yuan
from medassist.engine.policy import Policy, PolicyBook
from medassist.engine.rules import admission, eligibility, premium, routing
from medassist.engine.rules import warnings as early_warnings
from medassist.engine.rules.eligibility import Choice
from medassist.engine.rules.regular import regular
from medassist.engine.rules.supplement import supplements
from medassist.engine.rules.tilt import tilt
from medassist.engine.state import PersonState, PersonView, SettlementRecord, StateChange

REUSED_EVENT_ID = "event_id: reused with different contents"
BEYOND_STATE_WINDOW = "beyond_state_window"  # policies/refusal-codes.yaml


def window_start(day: str) -> str:
    """The first day a person's state keeps once an event dated `day` arrives: 1 January of the
    year before (accumulators restart every 1 January; a reversal restores its own year's; a
    Lanzhou approval reaches 12 months back before its application, into the previous year)."""
    if not day:
        return ""
    year = day[:4]
    start = _WINDOW_STARTS.get(year)
    if start is None:  # formatted once a year, not once an event (it was 3% of replay's CPU)
        start = _WINDOW_STARTS[year] = f"{int(year) - 1:04d}-01-01"
    return start


_WINDOW_STARTS: dict[str, str] = {}  # year -> window_start of its days (event dates are checked: a few years)


class Engine:
    def __init__(self, book: PolicyBook) -> None:
        self.book = book

    # ---- entry point ------------------------------------------------------------------------

    def decide(self, snap: PersonState, ev: Event, fp: str) -> tuple[list[Decision], StateChange]:
        """Decisions for one event and the change it makes; `fp` is its content fingerprint."""
        view = PersonView(snap)
        seen = snap.events.get(ev.event_id)  # view.seen(), while the change is still empty
        if seen is not None:
            if seen == fp:
                return [], view.change  # a redelivery: already decided, nothing new
            kind = type(ev).__name__.lower()
            return [decision(kind, ev.event_id, ev.psn_no, "invalid", reason=REUSED_EVENT_ID,
                             setl_id=getattr(ev, "setl_id", None))], view.change
        view.change.events[ev.event_id] = fp
        beyond = self._keep_window(view, ev)
        if beyond is not None:
            out = [beyond]
        elif isinstance(ev, Settlement):
            out = [self._settlement(view, ev)]
        elif isinstance(ev, Reversal):
            out = [self._reversal(view, ev)]
        elif isinstance(ev, Enrollment):
            out = [self._enrollment(view, ev)]
        else:
            out = self._eligibility(view, ev)
        return out, view.change

    # ---- bounded state ----------------------------------------------------------------------

    def _keep_window(self, view: PersonView, ev: Event) -> Decision | None:
        """Move the state window to the event's year (dropping older years), or refuse an event
        dated before the window: its year's accumulators and records are gone, so deciding it
        would be a silent wrong answer."""
        snap = view.snap
        if isinstance(ev, Settlement):
            day = ev.setl_date
        elif isinstance(ev, Enrollment):
            day = ev.enrolled_at or f"{ev.year}-01-01"
        elif isinstance(ev, Eligibility):
            day = ev.reported_at
        else:
            day = shanghai_date(ev.setl_time) if ev.setl_time else ""
        if snap.kept_from and day < snap.kept_from:
            routed_on = f"{ev.year}-01-01" if isinstance(ev, Enrollment) else day  # as each path routes
            if isinstance(ev, Settlement | Enrollment) and self.book.route(ev.admdvs, routed_on) is None:
                return None  # no_policy_in_force says more, and needs no state
            if isinstance(ev, Settlement):  # not recorded either: its year is gone
                return self._refuse(ev, None, "rejected", BEYOND_STATE_WINDOW)
            if isinstance(ev, Enrollment):
                return decision("enrollment", ev.event_id, ev.psn_no, "rejected", reason=BEYOND_STATE_WINDOW,
                                year=ev.year, policy_id=None, category=None, insuplc_admdvs=ev.admdvs,
                                payer=None, payee=None)
            return None  # an old eligibility record is kept (few, and later grants need them)
        keep = window_start(day)
        if day and keep > snap.kept_from:
            view.change.kept_from = keep
            view.change.drop_acc = [k for k in snap.acc if k[:4] < keep[:4]]
            view.change.drop_settlements = [sid for sid, r in snap.settlements.items() if r["setl_date"] < keep]
        return None

    # ---- settlements ------------------------------------------------------------------------

    def _settlement(self, view: PersonView, s: Settlement) -> Decision:
        existing = view.settlement(s.setl_id)
        if existing is not None and existing["status"] != "reversed":
            return self._refuse(s, None, "rejected", "duplicate_settlement")
        policy = self.book.route(s.admdvs, s.setl_date)
        view.moved = {}  # what this settlement moves, for a reversal to undo
        if policy is None:
            d = self._refuse(s, None, "rejected", "no_policy_in_force")
        else:
            d = self._evaluate(view, policy, s, s.event_id, None, s.settlement_mode)
        early_warnings.observe(view, policy, s, d)  # year out-of-pocket total and warnings (rules/warnings.py)
        view.put_settlement(s.setl_id, self._record(d, s, policy, view.moved))
        return d

    def _evaluate(self, view: PersonView, policy: Policy, s: Settlement, event_id: str,
                  forced: Choice | None, mode: str) -> Decision:
        """Decide one settlement under `policy`; moves accumulators only when it is assisted."""
        if policy.insured_required and not s.insured:
            return self._refuse(s, policy, "not_eligible", "not_insured", event_id)
        records = view.eligibility()
        day = s.setl_date
        choice = forced
        if choice is None:
            choice = eligibility.choose(policy, eligibility.active(records, day, policy), day)
            if choice.category is None or choice.manual:
                grant = eligibility.reach_back_grant(records, day, policy)
                if grant is not None:  # a later approval reaches back to this date: 医后救助
                    choice = eligibility.choose(policy, {grant["category"]: grant}, day)
                    mode = "manual"
        if choice.category is None:
            return self._refuse(s, policy, "not_eligible", choice.refusal, event_id)
        if choice.manual:
            return self._refuse(s, policy, "manual_review", choice.manual, event_id, choice.category)
        refusal = admission.refusal(policy, s)
        if refusal:
            return self._refuse(s, policy, "rejected", refusal, event_id, choice.category)
        assert choice.key is not None
        return self._assist(view, policy, s, event_id, choice, mode)

    def _assist(self, view: PersonView, policy: Policy, s: Settlement, event_id: str,
                choice: Choice, mode: str) -> Decision:
        cat, key = choice.category, choice.key
        assert cat is not None and key is not None
        year = s.year
        residence = s.residence or eligibility.residence(view.eligibility())
        base = s.inscp_fen if not s.insured else s.inscp_fen - s.fund_fen
        for ln in policy.lines:  # the first that matches; the schema demands a catch-all last
            if ln.when(s, residence):
                break
        moved = view.moved
        lines: list[DecisionLine] = []
        reg = regular(view, policy, ln, year, key, cat, base, moved)
        burden = base
        if reg is not None:
            lines.append(reg)
            burden -= reg["amount_fen"]
            sups = supplements(view, policy, ln.rule, s, residence, year, key, cat, burden, moved)
            if sups:
                lines.extend(sups)
                burden -= sum(x["amount_fen"] for x in sups)
        if ln.burden:
            t = tilt(view, policy, s, residence, year, key, burden, moved)
            if t is not None:
                lines.append(t)
        fen = 0
        refs = policy.refs
        for x in lines:
            fen += x["amount_fen"]
            x["ref"] = refs.get(x["rule"])  # the clause of the rule that made the line
        # decision()'s shape and key order, built in place: this is the hot path
        d: Decision = {
            "event_id": event_id, "setl_id": s.setl_id, "psn_no": s.psn_no, "policy_id": policy.policy_id,
            "status": "paid" if fen > 0 else "zero", "assistance": yuan(fen), "assistance_fen": fen,
            "lines": lines, "reason": None, "type": "settlement", "category": cat, "settlement_mode": mode,
            "setl_date": s.setl_date, "year": year, "payer": routing.payer(policy, s.admdvs),
            "payee": routing.settlement_payee(policy, s, mode, choice.payee),
            "fixmedins_code": s.fixmedins_code, "insuplc_admdvs": s.admdvs,
            "policy_version": policy.version,
        }
        return d

    def _refuse(self, s: Settlement, policy: Policy | None, status: str, reason: str | None,
                event_id: str | None = None, category: str | None = None) -> Decision:
        assert status not in ASSISTED  # decision()'s shape for a refusal, built in place (the hot path)
        return {
            "event_id": event_id or s.event_id, "setl_id": s.setl_id, "psn_no": s.psn_no,
            "policy_id": policy.policy_id if policy else None, "status": status, "assistance": "0.00",
            "assistance_fen": 0, "lines": [], "reason": reason, "type": "settlement", "category": category,
            "settlement_mode": s.settlement_mode, "setl_date": s.setl_date, "year": s.year, "payer": None,
            "payee": None, "fixmedins_code": s.fixmedins_code, "insuplc_admdvs": s.admdvs,
            "policy_version": policy.version if policy else None,
        }

    @staticmethod
    def _record(d: Decision, s: Settlement, policy: Policy | None, moved: dict[str, int]) -> SettlementRecord:
        """What a reversal or a later approval needs to know of this settlement."""
        assisted = d["status"] in ASSISTED
        rec: SettlementRecord = {
            "status": d["status"], "setl_date": s.setl_date, "setl_time": s.setl_time, "policy_id": d["policy_id"],
            "event_id": d["event_id"], "moved": moved,
            "paid": {ln["rule"]: ln["amount_fen"] for ln in d["lines"] if ln["amount_fen"]},
            "payee": d["payee"], "payer": d["payer"], "settlement_mode": d["settlement_mode"],
            "fixmedins_code": s.fixmedins_code, "admdvs": s.admdvs, "category": d["category"],
            "policy_version": d["policy_version"],
        }
        # Only a policy that reaches back needs the event itself, and only while unassisted.
        if not assisted and policy is not None and policy.reach_back_months and d["status"] != "rejected":
            rec["raw"] = s.raw
        return rec

    # ---- reversals --------------------------------------------------------------------------

    def _reversal(self, view: PersonView, r: Reversal) -> Decision:
        rec = view.settlement(r.setl_id)
        base: dict[str, Any] = {"setl_id": r.setl_id}
        if rec is None:
            return decision("reversal", r.event_id, r.psn_no, "rejected", reason="unknown_settlement", **base)
        if rec["status"] == "reversed":
            return decision("reversal", r.event_id, r.psn_no, "rejected", reason="already_reversed",
                            policy_id=rec["policy_id"], policy_version=rec.get("policy_version"), **base)
        scratch: dict[str, int] = {}
        for key, delta in rec["moved"].items():
            view.add(key, -delta, scratch)
        version = self.book.by_version.get(rec.get("policy_version") or "")
        refs = version.refs if version is not None else {}
        lines = [line(rule, 0, 0, None, -amount, None) for rule, amount in rec["paid"].items()]
        for x in lines:
            x["ref"] = refs.get(x["rule"])
        view.put_settlement(r.setl_id, {**rec, "status": "reversed", "moved": {}, "paid": {}, "raw": None})
        reversed_on = shanghai_date(r.setl_time) if r.setl_time else rec["setl_date"]  # the month-end month
        return decision("reversal", r.event_id, r.psn_no, "reversed", policy_id=rec["policy_id"],
                        lines=lines, category=rec["category"], settlement_mode=rec["settlement_mode"],
                        setl_date=rec["setl_date"], year=int(rec["setl_date"][:4]), payer=rec["payer"],
                        payee=rec["payee"], fixmedins_code=rec["fixmedins_code"], insuplc_admdvs=rec["admdvs"],
                        reverses=rec["event_id"], reversed_on=reversed_on,
                        policy_version=rec.get("policy_version"), **base)

    # ---- eligibility and reach-back ---------------------------------------------------------

    def _eligibility(self, view: PersonView, ev: Eligibility) -> list[Decision]:
        rec = eligibility.record(ev, len(view.eligibility()))
        view.change.eligibility_add.append(rec)
        policy = self.book.route(ev.admdvs, ev.reported_at)
        if (ev.action != "grant" or policy is None or not policy.reach_back_months
                or ev.category not in policy.application_categories):
            return []
        start, end = eligibility.reach_back_window(rec, policy.reach_back_months)
        waiting = sorted(
            (r["setl_date"], r["setl_time"], sid) for sid, r in view.all_settlements().items()
            if r.get("raw") and r["status"] not in ASSISTED and r["status"] != "reversed"
            and start <= r["setl_date"] <= end
            and r["setl_date"] >= (view.change.kept_from or view.snap.kept_from)
        )
        out = []
        for _, _, sid in waiting:
            old = view.settlement(sid)
            assert old is not None and old["raw"] is not None
            s = parse_event(old["raw"])
            assert isinstance(s, Settlement)
            p = self.book.route(s.admdvs, s.setl_date)
            if p is None or ev.category not in p.categories:
                continue  # nothing before the policy's start is reached
            forced = eligibility.choose(p, {ev.category: rec}, s.setl_date)
            view.moved = {}
            d = self._evaluate(view, p, s, ev.event_id, forced, "manual")
            if d["status"] in ASSISTED:
                view.put_settlement(sid, self._record(d, s, p, view.moved))
                out.append(d)
        return out

    # ---- enrollments ------------------------------------------------------------------------

    def _enrollment(self, view: PersonView, e: Enrollment) -> Decision:
        # The policy (its transition periods, its ratio for the year) is the one in force on 1 January of
        # the insurance year; the category is the one held on the day of the contribution (digest).
        jan1 = f"{e.year}-01-01"
        day = e.enrolled_at or jan1
        policy = self.book.route(e.admdvs, jan1)

        def refuse(status: str, reason: str, category: str | None = None) -> Decision:
            return decision("enrollment", e.event_id, e.psn_no, status, reason=reason, year=e.year,
                            policy_id=policy.policy_id if policy else None, category=category,
                            insuplc_admdvs=e.admdvs, payer=None, payee=None,
                            policy_version=policy.version if policy else None)

        if policy is None:
            return refuse("rejected", "no_policy_in_force")
        if e.insutype not in policy.premium_insutypes:
            return refuse("not_eligible", "not_resident_insurance")
        choice = eligibility.choose(policy, eligibility.active(view.eligibility(), day, policy), jan1,
                                    need_class=False)
        if choice.category is None:
            return refuse("not_eligible", choice.refusal or "no_category")
        if choice.manual:
            return refuse("manual_review", choice.manual, choice.category)
        rule = policy.premium.get(choice.category)
        if rule is None:
            return refuse("not_eligible", "no_premium_subsidy_for_category", choice.category)
        done_key = f"{e.year}:premium_subsidies"
        if view.acc(done_key):
            return refuse("rejected", "duplicate_enrollment", choice.category)
        residence = e.residence or eligibility.residence(view.eligibility())
        try:
            ln = premium.subsidy(policy, rule, e, residence)
        except premium.ManualReview as mr:
            return refuse("manual_review", str(mr), choice.category)
        view.add(done_key, 1, {})
        ln["ref"] = policy.refs.get("premium_subsidy")
        return decision("enrollment", e.event_id, e.psn_no, "paid", policy_id=policy.policy_id,
                        policy_version=policy.version,
                        lines=[ln], category=choice.category, year=e.year, insuplc_admdvs=e.admdvs,
                        payer=routing.payer(policy, e.admdvs), payee=routing.premium_payee(policy, e.admdvs))
