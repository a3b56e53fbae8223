"""In-memory person store: replay and tests. The Redis store holds the same data."""

from __future__ import annotations

from medassist.engine.state import PersonState, StateChange, apply_change


class MemoryStore:
    def __init__(self) -> None:
        self.people: dict[str, PersonState] = {}

    def load(self, psn_no: str) -> PersonState:
        st = self.people.get(psn_no)
        if st is None:
            st = self.people[psn_no] = PersonState()
        return st

    def apply(self, psn_no: str, change: StateChange) -> None:
        if not change.empty():
            apply_change(self.load(psn_no), change)
