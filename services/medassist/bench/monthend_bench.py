"""`medassist bench month-end`: close and reconcile a month of 1,000,000 settlements, 500 institutions.

The instructions are generated in memory (seeded) as the JSON bytes the topic would carry,
then taken through the same path as `medassist month-end`: streamed, deduplicated and closed
into a real redis-server (embedded) as they come (ids seen and detail rows in temporary sqlite
files), reconciled against the institutions' 3201 totals with a few injected differences
answered by 3202 detail rows read one institution at a time. Reported: wall seconds of that
path (generation excluded) and the peak RSS of this process (redis-server's memory is its own).
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

from medassist.engine.dates import SHANGHAI
from medassist.engine.money import yuan
from medassist.monthend.closes import CloseStore, StoredDetails
from medassist.monthend.closing import close
from medassist.monthend.details import DetailLookup
from medassist.monthend.figures import from_json_lines
from medassist.monthend.instructions import StreamSource
from medassist.monthend.reconcile import reconcile
from medassist.ops.embedded import RedisServer
from medassist.state.redis_client import sync_client

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


def institution_figures(details: DetailLookup, statements: list[dict[str, Any]], seed: int) -> Iterator[bytes]:
    """The institutions' 3201 totals; INJECTED of them differ by one settlement and send 3202 rows.

    Read one institution's rows at a time from the stored close, as reconciliation does."""
    rng = random.Random(seed + 1)
    codes = sorted(s["fixmedins_code"] for s in statements)
    count = {s["fixmedins_code"]: s["settlement_count"] for s in statements}
    odd = set(rng.sample(codes, min(INJECTED, len(codes))))
    for code in codes:
        d = dict(details.get(code, {}))
        if code in odd:
            victim = sorted(d)[0]
            d[victim] += 1  # off by one fen
        yield orjson.dumps({"fixmedins_code": code, "month": MONTH, "setl_cnt": count[code],
                            "amount": yuan(sum(d.values()))})
        if code in odd:
            yield from (orjson.dumps({"fixmedins_code": code, "month": MONTH, "setl_id": s, "amount": yuan(f)})
                        for s, f in d.items())


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main(args: argparse.Namespace) -> dict[str, object]:
    n = getattr(args, "events", None) or SETTLEMENTS
    seed = getattr(args, "seed", 7)
    gen_s = [0.0]
    started = [0.0]

    def messages() -> Iterator[tuple[int, int, bytes]]:
        """The topic's messages, generated in chunks off the clock (the topic would hand us these bytes)."""
        stream = instructions(n, INSTITUTIONS, seed)
        k = 0
        while True:
            g = time.perf_counter()
            chunk = list(islice(stream, CHUNK))
            gen_s[0] += time.perf_counter() - g
            if not chunk:
                return
            for raw in chunk:
                yield 0, k, raw
                k += 1
            if k // CHUNK % (500_000 // CHUNK) == 0:
                _say(f"read {k} instruction messages ({time.perf_counter() - started[0] - gen_s[0]:.1f}s, "
                     f"peak {peak_rss_mib():.0f} MiB)")

    with RedisServer(appendfsync="everysec") as server:
        source = StreamSource(messages)
        store = CloseStore(sync_client(server.url), "bench")
        started[0] = time.perf_counter()
        record, _ = close(MONTH, source, store, datetime(2023, 6, 6, 9, tzinfo=SHANGHAI))
        t_close = time.perf_counter()
        seen = source.last
        _say(f"intake: {seen.items_seen} institution items, {seen.duplicates} duplicates, "
             f"{seen.not_institution_money} not institution money")
        close_s = t_close - started[0] - gen_s[0]
        _say(f"closed {MONTH}: {len(record['statements'])} statements, net due "
             f"{record['summary']['net_due']} ({close_s:.1f}s reading and closing)")
        details = StoredDetails(store, MONTH)
        figs = from_json_lines(institution_figures(details, record["statements"], seed))
        result = reconcile(MONTH, record["statements"], details, figs.for_month(MONTH), figs.errors)
        reconcile_s = time.perf_counter() - t_close
        _say(f"reconciled: {len(result['matched'])} matched, differences {result['difference_counts']} "
             f"({reconcile_s:.1f}s)")
    diffs = sum(result["difference_counts"].values())
    if diffs != INJECTED or len(result["matched"]) != len(record["statements"]) - INJECTED or figs.errors:
        _say(f"WARNING: expected {INJECTED} differences and the rest matched; found {diffs}, "
             f"{len(result['matched'])} matched, figure errors {figs.errors[:3]}")
    return {"settlements": n, "institutions": len(record["statements"]), "seconds": round(close_s + reconcile_s, 2),
            "peak_rss_mib": round(peak_rss_mib(), 1), "differences": diffs, "matched": len(result["matched"]),
            "close_s": round(close_s, 2), "reconcile_s": round(reconcile_s, 2), "generate_s": round(gen_s[0], 2),
            "duplicates": seen.duplicates}
