"""Bounded person state: the engine keeps this year and last year, drops older ones on the next
event, and refuses by name what it can no longer decide."""

from __future__ import annotations

from typing import Any

from medassist.bench.state_bench import history
from medassist.replay import Replayer


def feed(r: Replayer, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for e in events:
        out.extend(r.feed(dict(e)))
    return out


def test_four_years_keep_only_the_last_two_and_decide_as_before() -> None:
    events = [e for _, e in history(4, 4, 12.0, seed=3)]
    r = Replayer()
    feed(r, events)
    for psn, st in r.store.people.items():
        assert st.kept_from == "2025-01-01", psn
        assert {k[:4] for k in st.acc} <= {"2025", "2026"}
        assert all(rec["setl_date"] >= "2025-01-01" for rec in st.settlements.values())
        assert any(rec["setl_date"] < "2026-01-01" for rec in st.settlements.values())  # last year's stays
    # what was paid in the kept years is still in their accumulators: a reversal can restore it
    paid = {}
    for d in feed(Replayer(), events):
        if d["type"] == "settlement" and d["year"] == 2026:
            paid[d["psn_no"]] = paid.get(d["psn_no"], 0) + d["assistance_fen"]
    assert any(paid.values())


def test_events_beyond_the_window_get_a_named_refusal() -> None:
    events = [e for _, e in history(1, 3, 8.0, seed=5)]
    r = Replayer()
    feed(r, events)
    (psn,) = r.store.people
    assert r.store.people[psn].kept_from == "2024-01-01"
    old = next(e for e in events if e["type"] == "settlement" and e["setl_time"] < "2024")
    late = {**old, "event_id": "S-late", "setl_id": "S-late"}  # a 2023 settlement arriving in 2025
    (d,) = feed(r, [late])
    assert (d["status"], d["reason"], d["assistance_fen"]) == ("rejected", "beyond_state_window", 0)
    enrol = next(e for e in events if e["type"] == "enrollment" and e["year"] == 2023)
    (d,) = feed(r, [{**enrol, "event_id": "N-late"}])
    assert (d["status"], d["reason"]) == ("rejected", "beyond_state_window")
    # a reversal of a dropped settlement: nothing to claw back from, said so
    (d,) = feed(r, [{"type": "reversal", "event_id": "R-late", "setl_id": old["setl_id"], "psn_no": psn,
                     "insuplc_admdvs": old["insuplc_admdvs"], "setl_time": "2025-06-01T10:00:00+08:00"}])
    assert (d["status"], d["reason"]) == ("rejected", "unknown_settlement")
