"""Properties of the engine over generated people of all four cities (hypothesis).

Each property is checked against the contract's outputs (decisions) and, where it is about
bookkeeping, against the person's accumulators. The caps are the digest's numbers written
out in engine_strategies.py, not read back from the policy files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
from engine_strategies import Person, base_fen, caps_of, person, reversal, settlement
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from medassist.engine.decision import Decision
from medassist.engine.policy import PolicyBook, load_policies
from medassist.replay import Replayer

BOOK: PolicyBook = load_policies()
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(events: list[dict[str, Any]]) -> tuple[list[Decision], Replayer]:
    r = Replayer(BOOK)
    out: list[Decision] = []
    for e in events:
        out.extend(r.feed(dict(e)))  # a copy: validation fills in defaults
    return out, r


# Early warnings (monitoring/) are pushed once per person, year and kind and never withdrawn: a
# reversal leaves their markers, and a re-settled stay does not warn twice. They are not assistance.
NOT_ASSISTANCE = frozenset({"event_id", "warnings", "warning_gaps"})


def without_ids(d: Decision) -> Decision:
    return {k: v for k, v in d.items() if k not in NOT_ASSISTANCE}


def accumulators(r: Replayer, psn: str) -> dict[str, int]:
    return {k: v for k, v in r.store.load(psn).acc.items() if ":warned:" not in k}


# ---- caps and bases -----------------------------------------------------------------------------------------


@FAST
@given(person(reversals=True, max_settlements=10))
def test_no_cap_is_ever_exceeded(p: Person) -> None:
    decisions, r = run(p.events)
    by_setl = {s["setl_id"]: s for s in p.settlements}
    used: dict[tuple[int, str], int] = defaultdict(int)
    for d in decisions:  # running totals: a cap must hold after every decision, not only at the end
        for ln in d["lines"]:
            for name, limit, counts in caps_of(p.policy_id, p.category):
                if counts(ln["rule"], by_setl[d["setl_id"]]):
                    used[(d["year"], name)] += ln["amount_fen"]
                    assert used[(d["year"], name)] <= limit, f"{name} exceeded at {d['event_id']}: {decisions}"
    policy = BOOK.by_id[p.policy_id]
    for key, value in r.store.load(p.psn_no).acc.items():  # and the engine's own cap accumulators
        _, kind, *rest = key.split(":")
        if kind == "cap":
            default, per_key = policy.caps[rest[0]]
            assert 0 <= value <= max([default, *per_key.values()]), key


@FAST
@given(person(max_settlements=10))
def test_assistance_never_exceeds_the_base(p: Person) -> None:
    decisions, _ = run(p.events)
    by_setl = {s["setl_id"]: s for s in p.settlements}
    for d in decisions:
        base = base_fen(by_setl[d["setl_id"]])
        assert 0 <= d["assistance_fen"] <= base, d
        for ln in d["lines"]:
            assert 0 <= ln["amount_fen"] <= base, d


@FAST
@given(person(reversals=True, max_settlements=10))
def test_assistance_on_live_settlements_never_exceeds_their_base(p: Person) -> None:
    # With reversals a later settlement may carry tilt held back by a cap (the digest's incremental rule),
    # so the bound is over the year's live settlements together.
    decisions, _ = run(p.events)
    net: dict[str, int] = defaultdict(int)
    for d in decisions:
        net[d["setl_id"]] += d["assistance_fen"]
    reversed_ids = {d["setl_id"] for d in decisions if d["status"] == "reversed"}
    for sid in reversed_ids:
        assert net[sid] == 0, "a reversal claws back everything paid for its setl_id"
    live = [s for s in p.settlements if s["setl_id"] not in reversed_ids]
    assert sum(net[s["setl_id"]] for s in live) <= sum(base_fen(s) for s in live)


# ---- reversals ----------------------------------------------------------------------------------------------


@FAST
@given(person(max_settlements=6), st.data())
def test_reversal_then_the_same_settlement_again_is_as_if_settled_once(p: Person, data: st.DataObject) -> None:
    grant, history = p.events[0], p.settlements
    cut = data.draw(st.integers(0, len(history) - 1))
    before, s, after = history[:cut], history[cut], history[cut + 1:]
    again = dict(s, event_id=s["event_id"] + "-again")
    once, r1 = run([grant, *before, s, *after])
    twice, r2 = run([grant, *before, s, reversal(s, "R-x"), again, *after])
    assert twice[:cut + 1] == once[:cut + 1]
    assert twice[cut + 1]["status"] == "reversed"
    assert twice[cut + 1]["assistance_fen"] == -once[cut]["assistance_fen"]
    assert without_ids(twice[cut + 2]) == without_ids(once[cut])
    assert [without_ids(d) for d in twice[cut + 3:]] == [without_ids(d) for d in once[cut + 1:]]
    assert accumulators(r2, p.psn_no) == accumulators(r1, p.psn_no)


@FAST
@given(person(max_settlements=8, reversals=True), st.data())
def test_a_reversal_restores_every_accumulator_exactly(p: Person, data: st.DataObject) -> None:
    s = data.draw(st.sampled_from(p.settlements))
    upto = p.events[:p.events.index(s)]
    _, before = run(upto)
    decisions, after = run([*upto, s, reversal(s, "R-x")])
    assert accumulators(after, p.psn_no) == accumulators(before, p.psn_no)
    assert sum(d["assistance_fen"] for d in decisions if d["setl_id"] == s["setl_id"]) == 0


# ---- order, determinism, years ------------------------------------------------------------------------------


@FAST
@given(st.lists(st.integers(0, 2), min_size=0, max_size=40), st.data())
def test_people_do_not_depend_on_how_their_events_interleave(order: list[int], data: st.DataObject) -> None:
    people = [data.draw(person(psn=f"P{i}", reversals=True, max_settlements=6)) for i in range(3)]
    alone = {p.psn_no: run(p.events)[0] for p in people}
    queues = [list(p.events) for p in people]
    mixed: list[dict[str, Any]] = []
    for i in order:  # the drawn order first, then whatever is left, person by person
        if queues[i]:
            mixed.append(queues[i].pop(0))
    for q in queues:
        mixed.extend(q)
    together, _ = run(mixed)
    for p in people:
        assert [d for d in together if d["psn_no"] == p.psn_no] == alone[p.psn_no]


@FAST
@given(st.lists(person(reversals=True), min_size=1, max_size=3))
def test_replay_is_deterministic(people: list[Person]) -> None:
    events = [e for p in people for e in p.events]
    first, _ = run(events)
    second, _ = run(events)
    assert [orjson.dumps(d) for d in first] == [orjson.dumps(d) for d in second]


def test_replay_command_gives_the_same_bytes_under_any_hash_seed(tmp_path: Path) -> None:
    from medassist.population import population

    src = tmp_path / "events.jsonl"
    src.write_bytes(b"\n".join(orjson.dumps(e) for e in population(40, seed=3)) + b"\n")
    outs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-m", "medassist.cli", "replay", str(src)], env=env,
                              capture_output=True, check=True)
        outs.append(done.stdout)
    assert outs[0] == outs[1]
    assert outs[0].count(b"\n") > 300


@FAST
@given(person(max_settlements=8), st.data())
def test_every_accumulator_restarts_on_1_january(p: Person, data: st.DataObject) -> None:
    admdvs, year = p.events[0]["insuplc_admdvs"], int(p.settlements[0]["setl_time"][:4])
    nxt = data.draw(settlement(p.psn_no, admdvs, year + 1, 99))
    nxt["event_id"] = nxt["setl_id"] = "NEXT"
    after_a_year, _ = run([*p.events, nxt])
    fresh, _ = run([p.events[0], nxt])
    assert after_a_year[-1] == fresh[-1]
    assert after_a_year[-1]["year"] == year + 1
