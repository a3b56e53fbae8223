"""A person's state as the engine sees it, and the change one event makes to it.

The engine never writes a store: it reads a `PersonState` snapshot through a
`PersonView`, which collects every change in a `StateChange`. The in-memory
store (replay) and the Redis store (workers) apply that change, the latter
atomically. Everything here is plain JSON-able data so both stores hold it as is.

Accumulator keys are "<year>:<name>", e.g. "2023:ded:inpatient", "2023:cap:regular_total",
"2023:burden", "2023:tilt_paid": every annual figure restarts with the year in its key.

State is bounded (`kept_from`): the engine keeps the accumulators and settlement records of the
year of a person's newest event and the year before, and drops older ones on the next event
(docs/capacity.md says why these two years, with the clauses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict


class SettlementRecord(TypedDict, total=False):
    """What a reversal or a later approval needs to know of a decided settlement."""

    status: str  # the decision's: paid, zero, not_eligible, ... reversed
    setl_date: str
    setl_time: str
    policy_id: str | None
    policy_version: str | None
    event_id: str  # of the decision (an approval's, when it reached back)
    moved: dict[str, int]  # accumulator deltas a reversal takes back
    paid: dict[str, int]  # rule -> fen paid, clawed back by a reversal
    payee: dict[str, str] | None
    payer: str | None
    settlement_mode: str
    fixmedins_code: str
    admdvs: str
    category: str | None
    raw: str | None  # the event, while a reach-back approval may still assist it


class EligibilityRecord(TypedDict):
    """One grant or revocation of a category, in arrival order (`seq`)."""

    category: str
    action: str
    reported_at: str
    applied_at: str | None
    dibao_class: str | None
    residence: str | None
    admdvs: str
    seq: int


@dataclass(slots=True)
class PersonState:
    acc: dict[str, int] = field(default_factory=dict)
    settlements: dict[str, SettlementRecord] = field(default_factory=dict)
    eligibility: list[EligibilityRecord] = field(default_factory=list)
    events: dict[str, str] = field(default_factory=dict)  # event_id -> content fingerprint
    kept_from: str = ""  # ISO date: records and accumulators before it were dropped; "" = nothing dropped


@dataclass(slots=True, init=False)  # one per event: a plain __init__ is cheaper than default factories
class StateChange:
    acc: dict[str, int]  # increments
    settlements: dict[str, SettlementRecord]  # replaced whole
    eligibility_add: list[EligibilityRecord]  # appended
    events: dict[str, str]
    kept_from: str  # the new watermark ("" = unchanged); with it the old keys below are dropped
    drop_acc: list[str]
    drop_settlements: list[str]

    def __init__(self, acc: dict[str, int] | None = None, settlements: dict[str, SettlementRecord] | None = None,
                 eligibility_add: list[EligibilityRecord] | None = None, events: dict[str, str] | None = None) -> None:
        self.acc = {} if acc is None else acc
        self.settlements = {} if settlements is None else settlements
        self.eligibility_add = [] if eligibility_add is None else eligibility_add
        self.events = {} if events is None else events
        self.kept_from = ""
        self.drop_acc = []
        self.drop_settlements = []

    def empty(self) -> bool:
        return not (self.acc or self.settlements or self.eligibility_add or self.events or self.kept_from)


class PersonView:
    """Snapshot plus the change under construction: reads see the change."""

    __slots__ = ("snap", "change", "moved")

    def __init__(self, snap: PersonState) -> None:
        self.snap = snap
        self.change = StateChange()
        self.moved: dict[str, int] = {}  # what the settlement being decided moved (a reversal undoes it)

    def acc(self, key: str) -> int:
        return self.snap.acc.get(key, 0) + self.change.acc.get(key, 0)

    def add(self, key: str, delta: int, moved: dict[str, int]) -> None:
        """Add to an accumulator and remember it in `moved` (what a reversal must undo)."""
        if delta:
            self.change.acc[key] = self.change.acc.get(key, 0) + delta
            moved[key] = moved.get(key, 0) + delta

    def settlement(self, setl_id: str) -> SettlementRecord | None:
        rec = self.change.settlements.get(setl_id)
        return rec if rec is not None else self.snap.settlements.get(setl_id)

    def put_settlement(self, setl_id: str, rec: SettlementRecord) -> None:
        self.change.settlements[setl_id] = rec

    def all_settlements(self) -> dict[str, SettlementRecord]:
        if not self.change.settlements:
            return self.snap.settlements
        return {**self.snap.settlements, **self.change.settlements}

    def eligibility(self) -> list[EligibilityRecord]:
        if not self.change.eligibility_add:
            return self.snap.eligibility
        return self.snap.eligibility + self.change.eligibility_add

    def seen(self, event_id: str) -> str | None:
        return self.change.events.get(event_id) or self.snap.events.get(event_id)


def apply_change(state: PersonState, change: StateChange) -> None:
    """What the in-memory store does; the Redis store's Lua script does the same."""
    if change.kept_from:
        state.kept_from = change.kept_from
        for k in change.drop_acc:
            state.acc.pop(k, None)
        for sid in change.drop_settlements:
            state.settlements.pop(sid, None)
    acc = state.acc
    for k, d in change.acc.items():
        v = acc.get(k, 0) + d
        if v:
            acc[k] = v
        else:
            acc.pop(k, None)
    state.settlements.update(change.settlements)
    state.eligibility.extend(change.eligibility_add)
    state.events.update(change.events)
