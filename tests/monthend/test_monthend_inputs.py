"""Hostile input on the real broker: bad instructions and bad figure rows are reported, the rest is used."""

from __future__ import annotations

import orjson
import pytest
from kafka import KafkaProducer
from medassist.monthend.run import Options, month_end
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, ensure_topics
from signed import signed

from .make import assistance, clawback

pytestmark = pytest.mark.integration


def test_bad_messages_are_reported_and_figures_come_from_a_topic(kafka_broker: TansuBroker,
                                                                 redis_server: RedisServer, topics: Topics) -> None:
    figures_topic = f"{topics.prefix}.institution-figures"
    ensure_topics(kafka_broker.bootstrap, [*topics.all(), figures_topic])
    no_lines = assistance("A-3", "S-3", 500, "2023-05-03")
    del no_lines["lines"]
    p = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    for m in [b"\x00garbage", orjson.dumps(signed(no_lines)), b"42",
              orjson.dumps(signed(assistance("A-1", "S-1", 100000, "2023-05-01"))),
              orjson.dumps(signed(assistance("A-2", "S-2", 2550, "2023-05-02", code="H2"))),
              orjson.dumps(signed({**clawback("C-1", "S-1", 100000, "2023-05-01", "2023-05-09"),
                                  "reverses_instruction_id": "A-1"}))]:
        p.send(topics.instructions, m)
    for row in [{"fixmedins_code": "H1", "month": "2023-05", "setl_cnt": 1, "amount": "0.00"},
                {"fixmedins_code": "H2", "month": "2023-05", "setl_cnt": 1, "amount": "25.50"},
                {"fixmedins_code": "H2", "month": "2023-05", "setl_cnt": 1, "amount": "-x"}]:
        p.send(figures_topic, orjson.dumps(row))
    p.send(figures_topic, b"{not json")
    p.flush()
    p.close()
    opts = Options(kafka_broker.bootstrap, redis_server.url, topics.prefix, figures_topic=figures_topic,
                   companions=False)
    s = month_end("2023-05", opts)
    assert s["intake"]["errors"] == {"not valid JSON": 1, "lines: not a list": 1, "not a JSON object": 1}
    # H1: 1000.00 advanced and reversed in May, net 0.00; H2: 25.50
    assert (s["statements"], s["settlements"], s["reversals"], s["net_due"]) == (2, 2, 1, "25.50")
    assert s["reconciliation"]["matched"] == 2
    assert s["reconciliation"]["errors"] == [f"{figures_topic} 3: amount: not a decimal amount",
                                             f"{figures_topic} 4: not valid JSON"]
    published = [orjson.loads(v) for v in read_topic(kafka_broker.bootstrap, topics.reconciliation)]
    assert sorted(m.get("statement_id") or m["reconciliation_id"] for m in published) == \
        ["RC-202305", "ST-202305-H1", "ST-202305-H2"]
