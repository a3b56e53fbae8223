"""The person store: one interface for the in-memory store (replay, tests) and Redis (workers).

The worker's code around the engine (stream/processor.py) reads a batch's people with
`load_many`, decides their events on those snapshots, writes each event's change with
`apply_many` (all or nothing per event, refused when the event was applied before or the
person changed since the read) and, for a redelivered event, publishes again the `outputs`
stored with it. Either store runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

from medassist.engine.state import PersonState, StateChange

# apply_many's result codes, one per pending event
APPLIED, ALREADY_DONE, CONFLICT = 0, 1, 2


@dataclass(slots=True)
class Snapshot:
    state: PersonState
    version: int  # events applied to this person so far: a write must find it unchanged


class PendingEvent(NamedTuple):
    """One decided event's write: its change, computed on the snapshot of `version` (plus the
    person's earlier events of the same batch), and the outputs a redelivery publishes again."""

    psn_no: str
    version: int
    event_id: str
    fingerprint: str
    change: StateChange
    outputs: bytes


class PersonStore(Protocol):
    async def load_many(self, people: list[str]) -> dict[str, Snapshot]:
        """Each person's state and version (an unknown person: empty state, version 0)."""
        ...

    async def apply_many(self, items: list[PendingEvent]) -> list[tuple[int, str]]:
        """(code, detail) per item, in order: APPLIED (detail: the new version), ALREADY_DONE (the
        fingerprint stored), CONFLICT (the version found). A person's items form one chain: after
        one is refused, the rest of that person's are refused too."""
        ...

    async def outputs(self, psn_no: str, event_id: str) -> bytes | None:
        """The outputs stored with an applied event (None once expired)."""
        ...
