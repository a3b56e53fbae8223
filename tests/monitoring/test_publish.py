"""Warnings through the real worker core (Redis) onto the real monitoring topic, then the monthly push lists."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from kafka import KafkaProducer
from medassist.engine.decide import Engine
from medassist.monthend.pushlist import push_lists, read_warnings, to_csv
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.state.redis_store import RedisStore
from medassist.stream.metrics import Metrics
from medassist.stream.processor import InMessage, OutMessage, Processor
from medassist.stream.topics import Topics, ensure_topics
from warning_events import book, grant, settlement

QHD, LZ = "130302", "620102"


def _events() -> list[tuple[bytes, bytes]]:
    evs = [
        # P1 ordinary resident: 12000.00 + 8000.00 out of pocket = 20000.00 > 19364.00 in March -> impoverishment.
        settlement("S1", "P1", QHD, "2023-02-10", "21", "15000.00", "14000.00", "3000.00"),
        settlement("S2", "P1", QHD, "2023-03-10", "21", "10000.00", "9000.00", "2000.00"),
        # P2 Lanzhou dibao_edge, April: base 10000.00, deductible 2000.00, 60% -> 4800.00; 20000.00 - 8000.00
        # - 4800.00 = 7200.00 > 6000.00 -> relapse (a different month: not on March's list).
        grant("E2", "P2", LZ, "dibao_edge", "2023-02-01"),
        settlement("S3", "P2", LZ, "2023-04-01", "21", "20000.00", "18000.00", "8000.00"),
    ]
    return [(e["psn_no"].encode(), orjson.dumps(e)) for e in evs]


async def _process(url: str, topics: Topics, metrics: Metrics) -> list[OutMessage]:
    store = RedisStore(url)
    try:
        proc = Processor(Engine(book()), store, topics, metrics)
        msgs = [InMessage(0, i, k, v) for i, (k, v) in enumerate(_events())]
        first = await proc.handle(msgs)
        again = await proc.handle(msgs)  # a redelivery re-publishes the very same warnings
        return first + again
    finally:
        await store.close()


@pytest.mark.integration
def test_warnings_published_once_per_id_and_listed_per_department(
        kafka_broker: TansuBroker, redis_server: RedisServer, topics: Topics) -> None:
    metrics = Metrics()
    out = asyncio.run(_process(redis_server.url, topics, metrics))
    warned = [orjson.loads(m.value) for m in out if m.topic == topics.monitoring]
    assert [(w["setl_id"], w["kind"], w["out_of_pocket_fen"]) for w in warned] == [
        ("S2", "impoverishment", 2_000_000), ("S3", "relapse", 720_000)] * 2
    # published twice (at-least-once), counted once: the redelivery is not a second warning
    assert metrics.registry.get_sample_value(
        "medassist_early_warnings_total", {"policy": "qinhuangdao-2023", "kind": "impoverishment"}) == 1

    ensure_topics(kafka_broker.bootstrap, [topics.monitoring])
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    for m in out:
        if m.topic == topics.monitoring:
            producer.send(m.topic, key=m.key, value=m.value)
    producer.send(topics.monitoring, value=b"{not json")
    producer.flush()
    producer.close()

    march = push_lists(read_warnings(kafka_broker.bootstrap, topics.monitoring), "2023-03")
    assert march.rejected == ["#4: not valid JSON"]
    for dept in ("civil_affairs", "rural_revitalisation"):
        assert [(r["psn_no"], r["kind_name"], r["out_of_pocket"], r["threshold"]) for r in march.lists[dept]] == [
            ("P1", "因病致贫预警", "20000.00", "19364.00")]
    assert to_csv(march.lists["civil_affairs"]).splitlines()[1].startswith(f"{warned[0]['warning_id']},130302,P1,")
    april = push_lists(read_warnings(kafka_broker.bootstrap, topics.monitoring), "2023-04")
    assert [r["psn_no"] for r in april.lists["rural_revitalisation"]] == ["P2"]
