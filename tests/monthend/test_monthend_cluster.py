"""Month-end on the real broker and a real redis-server, fed a month of generated instructions.

The institutions' figures are computed here independently from the raw instructions, then
three differences are injected; the reconciliation must report exactly those three.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson
import pytest
from kafka import KafkaProducer
from medassist.engine.money import yuan
from medassist.monthend.run import Options, month_end
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.population import population
from medassist.replay import replay_events
from medassist.schemas import load_schema
from medassist.stream.instructions import build
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, ensure_topics
from signed import signed

from .make import assistance

pytestmark = pytest.mark.integration
MAY = "2023-05"


def generated_instructions() -> list[dict[str, Any]]:
    decisions = replay_events(population(300, seed=11, institutions_per_county=2))
    return [signed(i) for i in (build(d) for d in decisions) if i is not None]


def institution_books(instructions: list[dict[str, Any]], month: str) -> dict[str, dict[str, int]]:
    """What each institution's own books say: one-stop assistance it advanced, per setl_id, in `month`."""
    books: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for i in instructions:
        if i["settlement_mode"] != "direct" or i["payee_kind"] != "institution":
            continue
        day = i["reversed_on"] if i["kind"] == "clawback" else i["setl_date"]
        if day[:7] == month:
            books[i["fixmedins_code"]][i["setl_id"]] += i["amount_fen"]
    return books


def produce(bootstrap: str, topic: str, messages: list[dict[str, Any]]) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for m in messages:
        p.send(topic, key=m["instruction_id"].encode(), value=orjson.dumps(signed(m)))
    p.flush()
    p.close()


def write_figures(path: Path, books: dict[str, dict[str, int]], with_detail: set[str],
                  settlements: dict[str, int]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["fixmedins_code", "month", "setl_cnt", "setl_id", "amount"])
        for code, rows in sorted(books.items()):
            w.writerow([code, MAY, settlements[code], "", yuan(sum(rows.values()))])
            if code in with_detail:
                w.writerows([code, MAY, "", sid, yuan(fen)] for sid, fen in sorted(rows.items()))


def published(bootstrap: str, topics: Topics) -> list[dict[str, Any]]:
    return [orjson.loads(v) for v in read_topic(bootstrap, topics.reconciliation)]


def test_month_end_finds_exactly_the_injected_differences(kafka_broker: TansuBroker, redis_server: RedisServer,
                                                          topics: Topics, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap
    ensure_topics(bootstrap, topics.all(), 2)
    instructions = generated_instructions()
    produce(bootstrap, topics.instructions, instructions + instructions[:25])  # some redelivered
    books = institution_books(instructions, MAY)
    settlements = {code: sum(1 for i in instructions if i["kind"] == "assistance" and i["fixmedins_code"] == code
                             and i["settlement_mode"] == "direct" and i["payee_kind"] == "institution"
                             and i["setl_date"][:7] == MAY) for code in books}
    assert len(books) >= 8
    busy = sorted((c for c in books if len(books[c]) >= 2), key=lambda c: (-len(books[c]), c))
    a, b, c = busy[:3]
    dropped = sorted(books[a])[0]
    del books[a][dropped]  # the institution forgot a settlement
    settlements[a] -= 1
    books[b]["S-NOT-OURS"] = 12345  # one we never saw
    changed = sorted(books[c])[-1]
    books[c][changed] += 1  # off by one fen
    figures = tmp_path / "figures.csv"
    write_figures(figures, books, {a, b, c}, settlements)

    opts = Options(bootstrap=bootstrap, redis_url=redis_server.url, prefix=topics.prefix,
                   out_dir=str(tmp_path / "out"), figures_file=str(figures))
    first = month_end(MAY, opts)
    assert first["closed_now"] and first["intake"]["duplicates"] >= 1
    assert first["reconciliation"]["difference_counts"] == \
        {"missing_at_institution": 1, "missing_in_medassist": 1, "amount_differs": 1}
    assert first["reconciliation"]["matched"] == len(books) - 3
    msgs = published(bootstrap, topics)
    [result] = [m for m in msgs if m["type"] == "reconciliation_result"]
    assert result["differs"] == sorted([a, b, c])
    found = {(r["fixmedins_code"], d["kind"], d["setl_id"]) for r in result["institutions"] for d in r["differences"]}
    assert found == {(a, "missing_at_institution", dropped), (b, "missing_in_medassist", "S-NOT-OURS"),
                     (c, "amount_differs", changed)}
    statements = [m for m in msgs if m["type"] == "statement"]
    assert sorted(s["fixmedins_code"] for s in statements) == sorted(books)
    assert all(s["statement_id"] == f"ST-202305-{s['fixmedins_code']}" for s in statements)
    assert (tmp_path / "out" / "month-end-2023-05.xlsx").exists()
    # the ledger's fund statements come along (rebuilt from the topics: no ledger consumer ran here)
    assert first["fund_statements"]["source"] == "rebuilt from topics"
    assert first["fund_statements"]["counties"] >= 4 and "error" not in first["push_lists"]
    funds = [m for m in msgs if m["type"] == "fund_statement"]
    assert len(funds) == first["fund_statements"]["counties"]
    assert all(f["statement_id"] == f"FS-202305-{f['county']}" and f["previous_statement_id"] is None
               for f in funds)
    check = fastjsonschema.compile(load_schema("fund_statement"))
    for f in funds:
        check(f)

    # a settlement of May for institution a arrives late, with everything redelivered again
    late = assistance("PI-late", "S-LATE", 55500, "2023-05-30", code=a)
    produce(bootstrap, topics.instructions, [late, *instructions])
    again = month_end(MAY, opts)
    assert not again["closed_now"]
    assert {k: v for k, v in again.items() if k not in ("closed_now", "intake")} == \
        {k: v for k, v in first.items() if k not in ("closed_now", "intake")}
    copies: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in published(bootstrap, topics):
        if m["type"] == "statement":
            copies[m["statement_id"]].append(m)
    # every statement published twice, both copies the same (same id, same closed_at, same money)
    assert {k: len(v) for k, v in copies.items()} == {s["statement_id"]: 2 for s in statements}
    assert all(v[0] == v[1] == next(s for s in statements if s["statement_id"] == k) for k, v in copies.items())
    fund_copies = sorted((m for m in published(bootstrap, topics) if m["type"] == "fund_statement"),
                         key=lambda m: m["statement_id"])
    # the late instruction did not touch May's fund statements: two identical copies of each
    assert fund_copies == [f for f in sorted(funds, key=lambda f: f["statement_id"]) for _ in range(2)]

    june = month_end("2023-06", Options(bootstrap=bootstrap, redis_url=redis_server.url, prefix=topics.prefix))
    assert june["closed_now"] and june["adjustment_lines"] == 1
    june_a = [m for m in published(bootstrap, topics) if m["type"] == "statement" and m["month"] == "2023-06"
              and m["fixmedins_code"] == a][0]
    assert [(x["original_month"], x["setl_id"], x["amount_fen"]) for x in june_a["adjustments"]] == \
        [(MAY, "S-LATE", 55500)]
    # its money shows in June's fund statement of the paying county, as a prior-period adjustment
    may_funds = {f["county"]: f for f in funds}
    june_funds = {m["county"]: m for m in published(bootstrap, topics) if m["type"] == "fund_statement"
                  and m["month"] == "2023-06"}
    assert all(j["opening_fen"] == may_funds[c]["closing_fen"] for c, j in june_funds.items())
    adjusted = {c: [(x["original_month"], x["section"], x["name"], x["amount_fen"])
                    for x in j["prior_period_adjustments"]["lines"]] for c, j in june_funds.items()}
    assert {c: lines for c, lines in adjusted.items() if lines} == {"130302": [(MAY, "outflows", "assistance", 55500)]}
