"""The ledger on the real broker and Redis: a generated population's payment instructions and fund
movements posted by the consumer equal a rebuild from the topics, sum to zero, and survive redelivery."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer
from ledger_data import movement
from medassist.ledger.consumer import LedgerConsumer, funds_topic, rebuild
from medassist.ledger.metrics import LedgerMetrics
from medassist.ledger.redis_book import RedisBook
from medassist.ledger.statements import fund_statements
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.ops.redis_cluster import LocalRedisCluster
from medassist.population import population
from medassist.replay import Replayer
from medassist.stream import instructions
from medassist.stream.topics import Topics, ensure_topics
from signed import signed


def _instructions(people: int) -> list[dict[str, Any]]:
    r = Replayer()
    out = []
    for ev in population(people, seed=11, settlements_per_person=4):
        for d in r.feed(ev):
            ins = instructions.build(d)
            if ins is not None:
                out.append(signed(ins))
    return out


def _produce(bootstrap: str, topic: str, values: list[bytes | None]) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap)
    for v in values:
        p.send(topic, key=b"k", value=v)  # a key, so that a None value (a tombstone) can be sent
    p.flush()
    p.close()


def redis_book_of(client: Any, topics: Topics) -> RedisBook:
    return RedisBook(client, topics.prefix)


@pytest.mark.integration
def test_consumer_equals_rebuild_and_redelivery_changes_nothing(
        kafka_broker: TansuBroker, redis_any: RedisServer | LocalRedisCluster, topics: Topics) -> None:
    ins = _instructions(60)
    kinds = Counter(i["kind"] for i in ins)
    assert kinds["assistance"] > 20 and kinds["premium_subsidy"] > 5  # a real mix, not a handful
    counties = sorted({i["payer_account"].split(":")[0] for i in ins})
    mvs = []
    for c in counties:
        mvs.append(movement(f"IN-{c}", "inflow", "500000.00", "2023-01-02", c, source="fiscal_subsidy",
                            level="city", scope="urban"))
        mvs.append(movement(f"TR-{c}", "transfer", "400000.00", "2023-01-03", c))
    bootstrap = kafka_broker.bootstrap
    ensure_topics(bootstrap, [topics.instructions, funds_topic(topics)])
    other_amount = signed({**ins[0], "amount_fen": ins[0]["amount_fen"] + 1})  # same id: a conflict
    bad: list[bytes | None] = [b"{oops", None, orjson.dumps(other_amount),
                               orjson.dumps(signed({**ins[1], "instruction_id": "PI-x", "payee_kind": "shop"}))]
    _produce(bootstrap, topics.instructions, [orjson.dumps(i) for i in ins] + [orjson.dumps(i) for i in ins[:7]] + bad)
    _produce(bootstrap, funds_topic(topics), [orjson.dumps(m) for m in mvs])

    client = redis_any.client()
    metrics = LedgerMetrics()
    c = LedgerConsumer(bootstrap, RedisBook(client, topics.prefix), topics, metrics, group=f"{topics.prefix}-ledger")
    try:
        s = c.run(until_end=True)
    finally:
        c.close()
    assert (s.posted, s.duplicates) == (len(ins) + len(mvs), 7)
    assert sorted(r.split(": ", 1)[1] for r in s.rejected) == [
        "conflict: posted before with another amount or date", "message: empty", "message: not valid JSON",
        "payee_kind: unknown payee kind 'shop'"]

    redis_book = redis_book_of(client, topics)
    balances = redis_book.load_balances()
    assert sorted(balances) == counties
    for accts in balances.values():
        assert sum(accts.values()) == 0
    # Independently of the ledger: what each county paid each kind of payee is the sum of its instructions.
    paid: Counter[tuple[str, str]] = Counter()
    for i in ins:
        paid[(i["payer_account"].split(":")[0], f"payee:{i['payee_kind']}")] += i["amount_fen"]
    for (county, acct), fen in paid.items():
        assert balances[county][acct] == fen
        assert metrics.registry.get_sample_value("medassist_fund_balance_fen",
                                                 {"county": county, "account": acct}) == fen
    assert metrics.registry.get_sample_value("medassist_ledger_postings_total") == len(ins) + len(mvs)
    # Fushun's year-end check: 500000.00 raised in 2023, far less paid: the balance is above 15% of it.
    fushun = next(c for c in counties if c.startswith("2104"))
    dec = next(s for s in fund_statements(redis_book_of(client, topics), "2023-12") if s["county"] == fushun)
    assert next(x for x in dec["checks"] if x["check"] == "year_end_balance")["flagged"]
    assert metrics.registry.get_sample_value("medassist_fund_warnings",
                                             {"county": fushun, "check": "year_end_balance"}) == 1
    assert metrics.registry.get_sample_value("medassist_fund_warnings",
                                             {"county": fushun, "check": "urban_city_share"}) == 0

    mem, rs = rebuild(bootstrap, topics)
    assert mem.balances == balances and mem.flows == redis_book.load_flows()
    assert len(rs.rejected) == 4
    assert fund_statements(redis_book, "2023-12") == fund_statements(mem, "2023-12")

    # A second ledger under a fresh group re-reads everything: all duplicates, balances unchanged.
    again = LedgerConsumer(bootstrap, RedisBook(client, topics.prefix), topics, group=f"{topics.prefix}-other")
    try:
        s2 = again.run(until_end=True)
    finally:
        again.close()
    assert (s2.posted, s2.duplicates) == (0, len(ins) + len(mvs) + 7)
    assert redis_book.load_balances() == balances
