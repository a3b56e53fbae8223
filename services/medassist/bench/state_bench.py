"""`medassist bench state`: Redis bytes per person over a multi-year history, bounded vs today's layout.

A seeded population lives several years (an eligibility grant, then every year an enrollment and
`--settlements` settlements with 2% reversed). The engine decides every event in time order and
its changes are kept twice:
- the bounded state (what the workers keep now): the engine's window of this year and last year,
  each year's settlement records as one compressed msgpack value, event markers only within the
  redelivery horizon (each event applied on its own date, so the horizon runs in event time here);
- today's layout (before this change): nothing ever dropped, JSON records, every marker kept.
After each year both are written to a real redis-server and measured with MEMORY USAGE per
person hash. Also measured: the outputs kept per event for redeliveries (14 days), the bytes per
event on the topics (input, decisions, instructions), and the engine's CPU per event.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson

from medassist.engine.decide import Engine
from medassist.engine.events import fingerprint, parse_event
from medassist.engine.policy import load_policies
from medassist.engine.state import PersonState, StateChange, apply_change
from medassist.ops.embedded import RedisServer
from medassist.population import CITIES, DIBAO_CLASSES, _settlement
from medassist.state.redis_store import MARKER_HORIZON_DAYS, pack, person_key, settlement_fields
from medassist.stream import instructions

FIRST_YEAR = 2023


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def history(people: int, years: int, per_year: float, seed: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """(year index, event) of `people` persons over `years` years, person by person, in time order."""
    rng = random.Random(seed)
    n = 0
    cities = list(CITIES.items())
    for p in range(people):
        city, (counties, _, cats) = cities[p % len(cities)]
        admdvs = rng.choice(counties)
        psn = f"P{p:07d}"
        cat = rng.choice([c for c in cats if c not in ("illness_poverty", None)])
        grant: dict[str, Any] = {"type": "eligibility", "event_id": f"E-{p}", "psn_no": psn, "insuplc_admdvs": admdvs,
                                 "category": cat, "action": "grant", "reported_at": f"{FIRST_YEAR - 1}-12-01",
                                 "residence": rng.choice(["urban", "rural"])}
        if cat == "dibao":
            grant["dibao_class"] = rng.choice(DIBAO_CLASSES)
        yield 0, grant
        for y in range(years):
            year = FIRST_YEAR + y
            events: list[tuple[str, dict[str, Any]]] = [(f"{year - 1}-12-20T00", {
                "type": "enrollment", "event_id": f"N-{p}-{year}", "psn_no": psn, "insuplc_admdvs": admdvs,
                "year": year, "insutype": "390", "tier": 1, "contribution": "380.00",
                "tier1_contribution": "380.00", "enrolled_at": f"{year - 1}-12-20"})]
            for _ in range(max(0, int(rng.gauss(per_year, per_year / 3)))):
                n += 1
                s = _settlement(rng, n, psn, admdvs, year, rng.randrange(40))
                events.append((s["setl_time"], s))
                if rng.random() < 0.02:
                    events.append((s["setl_time"][:10] + "T23:59", {
                        "type": "reversal", "event_id": f"R-{n}", "setl_id": s["setl_id"], "psn_no": psn,
                        "insuplc_admdvs": admdvs, "setl_time": s["setl_time"][:10] + "T23:59:00+08:00"}))
            events.sort(key=lambda t: t[0])
            for _, e in events:
                yield y, e


def _day(ev: dict[str, Any]) -> int:
    text = ev.get("setl_time") or ev.get("enrolled_at") or ev.get("reported_at") or "2023-01-01"
    return (date.fromisoformat(text[:10]) - date(1970, 1, 1)).days


class Person:
    """One person's state, kept the new way (bounded) and today's way (everything, for ever)."""

    def __init__(self) -> None:
        self.bounded = PersonState()
        self.days: dict[str, int] = {}  # event_id -> day applied
        self.everything = PersonState()

    def apply(self, change: StateChange, day: int) -> None:
        apply_change(self.bounded, change)
        for eid in change.events:
            self.days[eid] = day
        full = StateChange(change.acc, change.settlements, change.eligibility_add, change.events)
        apply_change(self.everything, full)  # no window: nothing dropped

    def bounded_fields(self, today: int) -> dict[str, bytes | str | int]:
        st = self.bounded
        live = {eid: d for eid, d in self.days.items() if d >= today - MARKER_HORIZON_DAYS}
        self.days = live  # what the store's next write drops
        out: dict[str, bytes | str | int] = {"ver": 1, "kf": st.kept_from} if st.kept_from else {"ver": 1}
        out.update({f"a:{k}": v for k, v in st.acc.items()})
        out.update(settlement_fields(st))
        out.update({f"l:{r['seq']}": pack(r) for r in st.eligibility})
        out.update({f"e:{eid}": f"{st.events[eid]}:{d}" for eid, d in live.items()})
        return out

    def old_fields(self) -> dict[str, bytes | str | int]:
        st = self.everything
        out: dict[str, bytes | str | int] = {"ver": 1}
        out.update({f"a:{k}": v for k, v in st.acc.items()})
        out.update({f"s:{sid}": orjson.dumps(r) for sid, r in st.settlements.items()})
        out.update({f"l:{r['seq']}": orjson.dumps(r) for r in st.eligibility})
        out.update({f"e:{eid}": fp for eid, fp in st.events.items()})
        return out


def _measure(r: Any, key_of: str, fields: dict[str, dict[str, bytes | str | int]]) -> float:
    """Mean MEMORY USAGE of one hash per person (written fresh)."""
    pipe = r.pipeline(transaction=False)
    for psn, f in fields.items():
        pipe.delete(f"{key_of}{person_key(psn)}")
        pipe.hset(f"{key_of}{person_key(psn)}", mapping=f)
    pipe.execute()
    pipe = r.pipeline(transaction=False)
    for psn in fields:
        pipe.memory_usage(f"{key_of}{person_key(psn)}", samples=0)
    sizes = pipe.execute()
    return sum(int(s or 0) for s in sizes) / max(1, len(sizes))


def main(args: argparse.Namespace) -> dict[str, object]:
    people = getattr(args, "people", None) or 1000
    years = getattr(args, "years", None) or 5
    per_year = getattr(args, "settlements", None) or 30.0
    seed = getattr(args, "seed", 7)
    engine = Engine(load_policies())
    persons: dict[str, Person] = {}
    per_year_rows: list[dict[str, Any]] = []
    events = 0
    engine_s = 0.0
    kafka_bytes = 0
    outputs_bytes = 0
    by_year: dict[int, list[dict[str, Any]]] = {}
    for y, ev in history(people, years, per_year, seed):
        by_year.setdefault(y, []).append(ev)
    with RedisServer(appendonly=False) as server:
        r = server.client()
        for y in range(years):
            today = 0
            for ev in by_year.get(y, []):
                raw = orjson.dumps(ev)
                t = time.process_time()
                parsed = parse_event(raw)
                p = persons.setdefault(parsed.psn_no, Person())
                decisions, change = engine.decide(p.bounded, parsed, fingerprint(raw))
                engine_s += time.process_time() - t
                today = max(today, _day(ev))
                p.apply(change, _day(ev))
                events += 1
                out = orjson.dumps(decisions)
                outputs_bytes += len(out)
                kafka_bytes += len(raw) + sum(len(orjson.dumps(d)) for d in decisions)
                for d in decisions:
                    ins = instructions.build(d)
                    if ins is not None:
                        kafka_bytes += len(orjson.dumps(ins))
            old = _measure(r, "old:", {psn: p.old_fields() for psn, p in persons.items()})
            new = _measure(r, "new:", {psn: p.bounded_fields(today) for psn, p in persons.items()})
            row = {"year": FIRST_YEAR + y, "events": events, "bytes_per_person_today": round(old),
                   "bytes_per_person_bounded": round(new), "ratio": round(new / old, 3)}
            per_year_rows.append(row)
            _say(f"after {FIRST_YEAR + y}: {events} events; bytes per person: today's layout {old:.0f}, "
                 f"bounded {new:.0f} ({new / old:.0%})")
    last = per_year_rows[-1]
    third = per_year_rows[min(2, len(per_year_rows) - 1)]
    return {
        "people": people, "events": events, "years": years, "settlements_per_year": per_year,
        "bytes_per_person": last["bytes_per_person_today"],
        "bytes_per_event": round(last["bytes_per_person_today"] * people / events, 1),
        "bytes_per_person_after_compaction": last["bytes_per_person_bounded"],
        "bytes_per_person_after_compaction_year3": third["bytes_per_person_bounded"],
        "bytes_per_person_today_year3": third["bytes_per_person_today"],
        "outputs_bytes_per_event": round(outputs_bytes / events, 1),
        "kafka_bytes_per_event": round(kafka_bytes / events, 1),
        "engine_cpu_us_per_event": round(engine_s / events * 1e6, 1),
        "per_year": per_year_rows,
    }
