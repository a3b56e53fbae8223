"""`medassist bench month-end`: close and reconcile a month of 1,000,000 settlements, 500 institutions.

The instructions are generated in memory (seeded) as the JSON bytes the topic would carry,
then taken through the same path as `medassist month-end`: parse and deduplicate, close
into a real redis-server (embedded), reconcile against the institutions' 3201 totals with
a few injected differences answered by 3202 detail rows. Reported: wall seconds of that
path and the peak RSS of this process (redis-server's memory is its own).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

import orjson
import redis

from medassist.engine.dates import SHANGHAI
from medassist.engine.money import yuan
from medassist.monthend.closes import CloseStore
from medassist.monthend.closing import close
from medassist.monthend.figures import from_json_lines
from medassist.monthend.instructions import Intake
from medassist.monthend.reconcile import reconcile
from medassist.ops.embedded import RedisServer

SETTLEMENTS = 1_000_000
INSTITUTIONS = 500
MONTH = "2023-05"
CHUNK = 2_000  # small: orjson's freshly dumped bytes cost ~4 KiB of heap each until freed
INJECTED = 5  # institutions whose own figures are made to differ (one settlement each)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _code(i: int) -> str:
    return f"H130302{i:05d}"


def instructions(n: int, institutions: int, seed: int) -> Iterator[bytes]:
    """n settlements of May 2023 as instruction JSON: 95% one-stop, 2% later reversed, some redelivered."""
    rng = random.Random(seed)
    for k in range(n):
        code = _code(rng.randrange(institutions))
        fen = rng.randint(1_00, 20_000_00)
        day = f"2023-05-{rng.randint(1, 31):02d}"
        direct = rng.random() < 0.95
        rule = "inpatient" if fen > 5_000_00 else "outpatient_chronic"
        line = {"rule": rule, "base_fen": fen, "deductible_fen": 0, "ratio": "1.00", "amount_fen": fen,
                "capped_by": None}
        ins: dict[str, Any] = {
               "instruction_id": f"PI-{k:012x}", "kind": "assistance", "amount_fen": fen, "amount": yuan(fen),
               "payer_account": "130302:assistance_expenditure",
               "payee_kind": "institution" if direct else "beneficiary", "payee_id": code,
               "psn_no": f"P{k % 400_000:07d}", "event_id": f"S-{k}", "setl_id": f"S-{k}",
               "policy_id": "qinhuangdao-2023", "category": "dibao",
               "settlement_mode": "direct" if direct else "manual", "setl_date": day, "year": 2023,
               "insuplc_admdvs": "130302", "fixmedins_code": code,
               "lines": [line], "reverses_instruction_id": None}
        raw = orjson.dumps(ins)
        yield raw
        if rng.random() < 0.001:
            yield raw  # at-least-once: a redelivery
        if rng.random() < 0.02:
            on = f"2023-{rng.choice(['05', '06'])}-{rng.randint(1, 28):02d}"
            ins.update(instruction_id=f"PI-r{k:011x}", kind="clawback", amount_fen=-fen, amount=yuan(-fen),
                       reverses_instruction_id=ins["instruction_id"], reversed_on=max(on, day), event_id=f"R-{k}")
            ins["lines"] = [{**line, "amount_fen": -fen}]
            yield orjson.dumps(ins)


def institution_figures(details: dict[str, dict[str, int]], count: dict[str, int], seed: int) -> list[bytes]:
    """The institutions' 3201 totals; INJECTED of them differ by one settlement and send 3202 rows."""
    rng = random.Random(seed + 1)
    odd = set(rng.sample(sorted(details), min(INJECTED, len(details))))
    rows: list[bytes] = []
    for code, d in sorted(details.items()):
        d = dict(d)
        if code in odd:
            victim = sorted(d)[0]
            d[victim] += 1  # off by one fen
        rows.append(orjson.dumps({"fixmedins_code": code, "month": MONTH, "setl_cnt": count[code],
                                  "amount": yuan(sum(d.values()))}))
        if code in odd:
            rows += [orjson.dumps({"fixmedins_code": code, "month": MONTH, "setl_id": s, "amount": yuan(f)})
                     for s, f in d.items()]
    return rows


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main(args: argparse.Namespace) -> dict[str, object]:
    n = getattr(args, "events", None) or SETTLEMENTS
    seed = getattr(args, "seed", 7)
    with RedisServer(appendfsync="everysec") as server:
        intake = Intake()
        gen_s = work_s = 0.0
        stream = instructions(n, INSTITUTIONS, seed)
        done = 0
        while True:  # generated in chunks, off the clock: the topic would hand us these bytes
            g = time.perf_counter()
            chunk = list(islice(stream, CHUNK))
            t = time.perf_counter()
            gen_s += t - g
            if not chunk:
                break
            for raw in chunk:
                intake.add(raw)
            work_s += time.perf_counter() - t
            done += len(chunk)
            if done % 250_000 == 0:
                _say(f"read {done} instruction messages ({work_s:.1f}s, peak {peak_rss_mib():.0f} MiB)")
        del chunk
        t_read = time.perf_counter()
        t_read = time.perf_counter()
        _say(f"intake: {len(intake.items)} institution items, {intake.duplicates} duplicates, "
             f"{intake.not_institution_money} not institution money")
        store = CloseStore(redis.Redis.from_url(server.url), "bench")
        record, _ = close(MONTH, list(intake.items.values()), store, datetime(2023, 6, 6, 9, tzinfo=SHANGHAI))
        t_close = time.perf_counter()
        _say(f"closed {MONTH}: {len(record['statements'])} statements, net due "
             f"{record['summary']['net_due']} ({t_close - t_read:.1f}s)")
        count = {s["fixmedins_code"]: s["settlement_count"] for s in record["statements"]}
        figs = from_json_lines(institution_figures(record["details"], count, seed))
        result = reconcile(MONTH, record["statements"], record["details"], figs.for_month(MONTH), figs.errors)
        seconds = work_s + time.perf_counter() - t_read
        _say(f"reconciled: {len(result['matched'])} matched, differences {result['difference_counts']} "
             f"({time.perf_counter() - t_close:.1f}s)")
    diffs = sum(result["difference_counts"].values())
    if diffs != INJECTED or len(result["matched"]) != len(record["statements"]) - INJECTED or figs.errors:
        _say(f"WARNING: expected {INJECTED} differences and the rest matched; found {diffs}, "
             f"{len(result['matched'])} matched, figure errors {figs.errors[:3]}")
    return {"settlements": n, "institutions": len(record["statements"]), "seconds": round(seconds, 2),
            "peak_rss_mib": round(peak_rss_mib(), 1), "differences": diffs, "matched": len(result["matched"]),
            "read_s": round(work_s, 2), "generate_s": round(gen_s, 2), "close_s": round(t_close - t_read, 2)}
