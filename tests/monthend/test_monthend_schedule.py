"""The schedule closes the previous month once its day has passed, once; metrics are served."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from kafka import KafkaProducer
from medassist.engine.dates import SHANGHAI
from medassist.monthend.metrics import MonthEndMetrics
from medassist.monthend.run import Options, due_month, previous_month, tick
from medassist.ops.embedded import RedisServer, TansuBroker, free_port
from medassist.stream.topics import Topics, ensure_topics
from signed import signed

from .make import assistance


def test_due_month_worked_dates() -> None:
    assert previous_month(datetime(2024, 1, 3, tzinfo=SHANGHAI)) == "2023-12"
    assert due_month(datetime(2023, 6, 5, 23, 59, tzinfo=SHANGHAI), 5) is None  # day 5 not yet over
    assert due_month(datetime(2023, 6, 6, 0, 0, tzinfo=SHANGHAI), 5) == "2023-05"
    # 16:30 UTC on 5 June is already 6 June in Shanghai
    assert due_month(datetime(2023, 6, 5, 16, 30, tzinfo=UTC), 5) == "2023-05"
    assert due_month(datetime(2023, 6, 5, 15, 59, tzinfo=UTC), 5) is None


@pytest.mark.integration
def test_tick_closes_once_and_sets_the_metrics(kafka_broker: TansuBroker, redis_server: RedisServer,
                                               topics: Topics) -> None:
    ensure_topics(kafka_broker.bootstrap, topics.all())
    p = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    p.send(topics.instructions, orjson.dumps(signed(assistance("A-1", "S-1", 12345, "2023-05-31"))))
    p.flush()
    p.close()
    opts = Options(kafka_broker.bootstrap, redis_server.url, topics.prefix, companions=False)
    m = MonthEndMetrics()
    port = free_port()
    m.serve(port)
    assert tick(opts, datetime(2023, 6, 5, 12, tzinfo=SHANGHAI), 5, m) is None
    june6 = datetime(2023, 6, 6, 1, tzinfo=SHANGHAI)
    summary = tick(opts, june6, 5, m)
    assert summary is not None and (summary["month"], summary["net_due_fen"], summary["closed_now"]) == \
        ("2023-05", 12345, True)
    assert tick(opts, june6 + timedelta(days=1), 5, m) is None  # closed: the schedule leaves it alone
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "medassist_monthend_statements_total 1.0" in text
    [stamp] = [ln.split()[1] for ln in text.splitlines() if ln.startswith("medassist_monthend_last_close_timestamp")]
    assert float(stamp) == 1685984400.0  # 2023-06-05T17:00:00Z: 01:00 on 6 June in Shanghai
    assert 'medassist_reconciliation_differences{kind="amount_differs"} 0.0' in text
