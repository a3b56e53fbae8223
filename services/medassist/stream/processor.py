"""The worker's core: a batch of input messages -> state applied in Redis -> output messages.

Independent of faust so that it can be tested, and fault-injected, on its own.
Delivery is at least once; effects are exactly once: an event is applied by one
atomic script or not at all, and a redelivered event re-publishes the outputs
stored with it, so the same input always yields the same messages and ids.
Per-person order holds: events of one person are decided in arrival order,
each on the state its predecessor left.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from medassist.engine import inbound
from medassist.engine.decide import Engine
from medassist.engine.decision import Decision, decision
from medassist.engine.events import Event
from medassist.engine.state import apply_change
from medassist.monitoring import publish as early_warnings
from medassist.security.signing import Signer, signer_from_env
from medassist.state.store import ALREADY_DONE, APPLIED, CONFLICT, PendingEvent, PersonStore
from medassist.stream import deadletter, instructions
from medassist.stream.feed import origin_of
from medassist.stream.metrics import Metrics
from medassist.stream.topics import Topics


@dataclass(slots=True)
class InMessage:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None
    headers: Sequence[tuple[str, bytes]] | None = None  # `feed` puts the source file and line here


@dataclass(slots=True)
class OutMessage:
    topic: str
    key: bytes | None
    value: bytes


class PersistentConflict(RuntimeError):
    """Another writer keeps changing a person under us: stop rather than skip an event."""


def decode(m: InMessage) -> tuple[Event | None, str, list[Decision]]:
    """(event, fingerprint, []) or (None, '', [invalid decision])."""
    read = inbound.decode(m.value)
    if isinstance(read, dict):
        return None, "", [read]
    ev, fp = read
    # Per-person order rests on the key: an event keyed otherwise may sit on another
    # partition, decided concurrently with (or before) the person's earlier events.
    if m.key is None:
        return None, "", [_refused(ev, "key: missing (events are keyed by psn_no)")]
    if m.key != ev.psn_no.encode():
        return None, "", [_refused(ev, "key: not the event's psn_no")]
    return ev, fp, []


def _refused(ev: Event, reason: str) -> Decision:
    return decision(type(ev).__name__.lower(), ev.event_id, ev.psn_no, "invalid", reason=reason,
                    setl_id=getattr(ev, "setl_id", None))


class Processor:
    def __init__(self, engine: Engine, store: PersonStore, topics: Topics, metrics: Metrics,
                 max_attempts: int = 8, signer: Signer | None = None) -> None:
        self.engine = engine
        self.signer = signer or signer_from_env()  # every payment instruction leaves signed
        self.store = store
        self.topics = topics
        self.metrics = metrics
        self.max_attempts = max_attempts
        self._republished: set[int] = set()  # positions in the current batch decided earlier

    async def handle(self, batch: list[InMessage]) -> list[OutMessage]:
        results: list[list[Decision]] = [[] for _ in batch]
        self._republished = set()
        todo: dict[str, list[tuple[int, Event, str]]] = {}
        for i, m in enumerate(batch):
            ev, fp, bad = decode(m)
            if ev is None:
                results[i] = bad
            else:
                todo.setdefault(ev.psn_no, []).append((i, ev, fp))
        for _ in range(self.max_attempts):
            if not todo:
                break
            todo = await self._attempt(todo, results)
        else:
            raise PersistentConflict(f"persons still conflicting after {self.max_attempts} attempts")
        return self._outputs(batch, results)

    async def _attempt(self, todo: dict[str, list[tuple[int, Event, str]]],
                       results: list[list[Decision]]) -> dict[str, list[tuple[int, Event, str]]]:
        snaps = await self.store.load_many(list(todo))
        items = []
        applied: list[tuple[str, int, Event, str, list[Decision]]] = []
        redelivered: list[tuple[str, int, Event]] = []
        for psn, evs in todo.items():
            snap = snaps[psn]
            ver = snap.version
            for i, ev, fp in evs:
                decisions, change = inbound.decide(self.engine, snap.state, ev, fp)
                if change.empty():
                    if decisions:  # a reused event id or an engine error: nothing to store, only to report
                        results[i] = decisions
                    else:  # already applied: publish again what was decided then
                        redelivered.append((psn, i, ev))
                    continue
                items.append(PendingEvent(psn, ver, ev.event_id, fp, change, orjson.dumps(decisions)))
                applied.append((psn, i, ev, fp, decisions))
                apply_change(snap.state, change)
                ver += 1
        retry: dict[str, list[tuple[int, Event, str]]] = {}
        for (psn, i, ev, fp, decisions), (code, _) in zip(applied, await self.store.apply_many(items),
                                                           strict=True):
            if code == APPLIED:
                results[i] = decisions
            elif code == ALREADY_DONE:
                redelivered.append((psn, i, ev))
            elif code == CONFLICT:
                self.metrics.conflicts.inc()
                retry.setdefault(psn, []).append((i, ev, fp))
        for psn, i, ev in redelivered:
            self.metrics.redeliveries.inc()
            self._republished.add(i)
            stored = await self.store.outputs(psn, ev.event_id)
            results[i] = orjson.loads(stored) if stored else []
        return retry

    def _outputs(self, batch: list[InMessage], results: list[list[Decision]]) -> list[OutMessage]:
        out: list[OutMessage] = []
        t = self.topics
        m_ = self.metrics
        now = time.time()
        # Counted per batch, then added to the Prometheus children once per label set: a child's
        # labels() lookup and locked inc() per decision and per line cost ~4% of a worker's CPU.
        events: dict[tuple[str, str], int] = {}
        kinds: dict[str, int] = {}
        paid: dict[tuple[str, str], int] = {}
        clawed: dict[tuple[str, str], int] = {}
        dead: dict[str, int] = {}
        observe = m_.latency.observe
        sign = self.signer.sign
        for i, (m, decisions) in enumerate(zip(batch, results, strict=True)):
            if m.timestamp_ms:
                observe(max(0.0, now - m.timestamp_ms / 1000))
            # A redelivered event republishes the very same messages, but was counted when it was
            # decided: counting it again would overstate what was paid after every crash.
            count = i not in self._republished
            for d in decisions:
                key = d["psn_no"].encode() if d["psn_no"] else m.key
                out.append(OutMessage(t.decisions, key, orjson.dumps(d)))
                if count:
                    found = early_warnings.warnings_of(d, m_)
                else:
                    found = d.get("warnings") or []
                for w in found:  # to civil affairs / rural revitalisation
                    out.append(OutMessage(t.monitoring, key, orjson.dumps(w)))
                if count:
                    ek = (d["type"] or "unknown", d["status"])
                    events[ek] = events.get(ek, 0) + 1
                ins = instructions.build(d)
                if ins is not None:
                    sign(ins)
                    out.append(OutMessage(t.instructions, key, orjson.dumps(ins)))
                    if count:
                        kinds[ins["kind"]] = kinds.get(ins["kind"], 0) + 1
                        for ln in d["lines"]:
                            amount = ln["amount_fen"]
                            if amount:
                                lk = (d["policy_id"], ln["rule"])
                                into = paid if amount > 0 else clawed
                                into[lk] = into.get(lk, 0) + abs(amount)
                if deadletter.is_dead(d):
                    dl = deadletter.build(d, t.events, m.partition, m.offset, m.key, m.value, self.engine.book,
                                          origin=origin_of(m.headers))
                    out.append(OutMessage(t.deadletters, key, orjson.dumps(dl)))
                    if count:
                        dead[dl["reason_code"]] = dead.get(dl["reason_code"], 0) + 1
        for (kind_, outcome), n in events.items():
            m_.events.labels(kind_, outcome).inc(n)
        for kind_, n in kinds.items():
            m_.instructions.labels(kind_).inc(n)
        for (policy, rule), fen in paid.items():
            m_.assistance.labels(policy, rule).inc(fen)
        for (policy, rule), fen in clawed.items():
            m_.clawbacks.labels(policy, rule).inc(fen)
        for reason, n in dead.items():
            m_.dead_letters.labels(reason).inc(n)
        return out
