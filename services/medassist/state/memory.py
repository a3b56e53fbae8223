"""In-memory person store: replay and tests. The Redis store holds the same data.

`load` and `apply` are replay's direct path; the async methods are the PersonStore interface
(state/store.py) that the worker's code runs on, with the same refusals as Redis.
"""

from __future__ import annotations

from medassist.engine.state import PersonState, StateChange, apply_change
from medassist.state.store import ALREADY_DONE, APPLIED, CONFLICT, PendingEvent, Snapshot


class MemoryStore:
    def __init__(self) -> None:
        self.people: dict[str, PersonState] = {}
        self.versions: dict[str, int] = {}
        self.stored_outputs: dict[tuple[str, str], bytes] = {}

    def load(self, psn_no: str) -> PersonState:
        st = self.people.get(psn_no)
        if st is None:
            st = self.people[psn_no] = PersonState()
        return st

    def apply(self, psn_no: str, change: StateChange) -> None:
        if not change.empty():
            apply_change(self.load(psn_no), change)

    async def load_many(self, people: list[str]) -> dict[str, Snapshot]:
        # A copy, as Redis gives one: the caller applies changes to it while deciding.
        out = {}
        for p in people:
            st = self.load(p)
            copy = PersonState(dict(st.acc), dict(st.settlements), list(st.eligibility), dict(st.events),
                               st.kept_from)
            out[p] = Snapshot(copy, self.versions.get(p, 0))
        return out

    async def apply_many(self, items: list[PendingEvent]) -> list[tuple[int, str]]:
        results: list[tuple[int, str]] = []
        refused: set[str] = set()
        expect: dict[str, int] = {}
        for it in items:
            st = self.load(it.psn_no)
            ver = self.versions.get(it.psn_no, 0)
            done = st.events.get(it.event_id)
            if done is not None:
                results.append((ALREADY_DONE, done))
                refused.add(it.psn_no)
            elif it.psn_no in refused or ver != expect.setdefault(it.psn_no, it.version):
                results.append((CONFLICT, str(ver)))
                refused.add(it.psn_no)
            else:
                apply_change(st, it.change)
                self.versions[it.psn_no] = expect[it.psn_no] = ver + 1
                if it.outputs:
                    self.stored_outputs[(it.psn_no, it.event_id)] = it.outputs
                results.append((APPLIED, str(ver + 1)))
        return results

    async def outputs(self, psn_no: str, event_id: str) -> bytes | None:
        return self.stored_outputs.get((psn_no, event_id))
