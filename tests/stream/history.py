"""The history checker of the fault tests: what the cluster published vs `medassist replay`.

One piece of code for every fault scenario. Delivery is at least once, so a message
may appear more than once; the checks are on effects:
- every decision key (event_id, setl_id, type) is published, each copy with one body,
  and the set of keys is exactly replay's;
- every settlement's paid total (sum of assistance_fen over deduplicated decisions)
  equals replay's;
- every instruction_id carries exactly one body, equal to the one replay's decision
  builds, and every expected instruction is present (none extra);
- every accumulator in Redis equals the in-memory replay's (an event applied twice
  or lost would show here even when the published messages look right).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from medassist.replay import Replayer
from medassist.security.signing import signer_from_env
from medassist.state.redis_store import decode_person, person_key
from medassist.stream import instructions

Key = tuple[Any, ...]


def decision_key(d: dict[str, Any]) -> Key:
    return (d["event_id"], d["setl_id"], d["type"])


def canon(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


@dataclass
class Expected:
    """Replay's view of a list of events: decisions, instructions, final person state."""

    decisions: dict[Key, bytes]
    paid: dict[str, int]
    instructions: dict[str, bytes]
    acc: dict[str, dict[str, int]]

    @classmethod
    def of(cls, events: list[dict[str, Any]]) -> Expected:
        r = Replayer()
        decisions: dict[Key, bytes] = {}
        for ev in events:
            for d in r.feed(dict(ev)):
                decisions[decision_key(d)] = canon(d)
        paid = paid_per_settlement(decisions.values())
        ins: dict[str, bytes] = {}
        sign = signer_from_env().sign  # the session's key (conftest): what the workers sign with
        for raw in decisions.values():
            built = instructions.build(orjson.loads(raw))
            if built is not None:
                ins[built["instruction_id"]] = canon(sign(built))
        acc = {p: {k: v for k, v in st.acc.items() if v} for p, st in r.store.people.items()}
        return cls(decisions, paid, ins, acc)


def paid_per_settlement(decisions: Any) -> dict[str, int]:
    paid: dict[str, int] = defaultdict(int)
    for raw in decisions:
        d = orjson.loads(raw)
        if d["setl_id"] is not None:
            paid[d["setl_id"]] += d["assistance_fen"]
    return dict(paid)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    decision_messages: int = 0
    instruction_messages: int = 0
    unique_decisions: int = 0
    unique_instructions: int = 0

    @property
    def duplicates(self) -> int:
        return (self.decision_messages - self.unique_decisions) + (self.instruction_messages - self.unique_instructions)

    def add(self, what: str, items: list[Any], limit: int = 5) -> None:
        if items:
            self.problems.append(f"{what}: {len(items)}, e.g. {items[:limit]}")


def _one_body_each(raws: list[bytes], key_of: Any) -> tuple[dict[Any, bytes], list[Any]]:
    """Deduplicate by key; keys seen with two different bodies are returned as conflicts."""
    seen: dict[Any, bytes] = {}
    conflicts = []
    for raw in raws:
        obj = orjson.loads(raw)
        k, body = key_of(obj), canon(obj)
        if seen.setdefault(k, body) != body:
            conflicts.append(k)
    return seen, conflicts


def check(expected: Expected, decisions: list[bytes], instr: list[bytes],
          redis_client: Any | None = None) -> Report:
    rep = Report(decision_messages=len(decisions), instruction_messages=len(instr))
    got_d, d_conflicts = _one_body_each(decisions, decision_key)
    rep.unique_decisions = len(got_d)
    rep.add("decision keys published with two different bodies", d_conflicts)
    rep.add("decisions missing", sorted(set(expected.decisions) - set(got_d), key=str))
    rep.add("decisions not in replay", sorted(set(got_d) - set(expected.decisions), key=str))
    rep.add("decisions differing from replay",
            [k for k, b in got_d.items() if k in expected.decisions and expected.decisions[k] != b])

    got_paid = paid_per_settlement(got_d.values())
    rep.add("settlements whose paid total differs from replay (setl_id, stream, replay)",
            [(s, got_paid.get(s), expected.paid.get(s)) for s in sorted(set(got_paid) | set(expected.paid))
             if got_paid.get(s, 0) != expected.paid.get(s, 0)])

    got_i, i_conflicts = _one_body_each(instr, lambda o: o["instruction_id"])
    rep.unique_instructions = len(got_i)
    rep.add("instruction ids carrying two different bodies", i_conflicts)
    rep.add("instructions missing", sorted(set(expected.instructions) - set(got_i)))
    rep.add("instructions not expected", sorted(set(got_i) - set(expected.instructions)))
    rep.add("instructions differing from replay's",
            [k for k, b in got_i.items() if k in expected.instructions and expected.instructions[k] != b])

    if redis_client is not None:
        rep.add("persons whose Redis accumulators differ from replay's", _acc_diffs(expected, redis_client))
    return rep


def _acc_diffs(expected: Expected, r: Any) -> list[tuple[str, dict[str, Any]]]:
    people = sorted(expected.acc)
    pipe = r.pipeline(transaction=False)
    for p in people:
        pipe.hgetall(person_key(p))
    diffs = []
    for p, raw in zip(people, pipe.execute(), strict=True):
        acc = {k: v for k, v in decode_person(raw).state.acc.items() if v}
        want = expected.acc[p]
        if acc != want:
            diffs.append((p, {k: (acc.get(k, 0), want.get(k, 0)) for k in set(acc) | set(want)
                              if acc.get(k, 0) != want.get(k, 0)}))
    return diffs
