"""A busy worker's log stays free of faust's "stream is stuck" ERRORs.

faust's consumer thread checks every few seconds that each partition with unread events has had
an event taken by a stream within `stream_processing_timeout` (5 s in fast mode). The worker takes
its events through its own intake, not a faust stream; if that did not tell faust's monitor,
every backlog longer than the timeout would log "Stream has not started processing" ERRORs and
page an SRE for nothing. One partition, so the check's answer depends on the intake alone (with
several, aiokafka hands a backlog over a partition's fetch at a time, and in fast mode a partition
can rightly wait longer than 5 s); batches of 100 keep the backlog busy past the timeout.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from medassist.ops.cluster import WorkerProcess, committed_total
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.population import population
from medassist.stream.config import WorkerConfig
from medassist.stream.feed import feed_lines
from medassist.stream.topics import Topics, ensure_topics

pytestmark = pytest.mark.integration

STUCK = ("Stream has not started processing", "Stream stopped processing", "has not committed",
         "Agent crashed", "agent crashed")


def test_a_backlog_longer_than_the_processing_timeout_logs_no_stuck_stream(
        kafka_broker: TansuBroker, redis_server: RedisServer, topics: Topics, tmp_path: Path) -> None:
    ensure_topics(kafka_broker.bootstrap, topics.all(), 1)  # one partition: taken from at once, and all along
    lines = [orjson.dumps(e) for e in population(4_000, seed=11)]
    feed_lines(kafka_broker.bootstrap, topics.events, lines)
    cfg = WorkerConfig(bootstrap=kafka_broker.bootstrap, redis_url=redis_server.url, topics=topics,
                       group=f"{topics.prefix}-workers", partitions=1, batch_size=100, metrics_port=0,
                       fast_rebalance=True, datadir=str(tmp_path / "faust"))
    worker = WorkerProcess(cfg, "w0", tmp_path).start()
    try:
        time.sleep(9.0)  # faust checks every few seconds; the timeout is 5 s
        done = committed_total(cfg.bootstrap, cfg.group, topics.events)
        assert 0 < done < len(lines), f"{done}/{len(lines)}: the backlog must still be running to mean anything"
        assert worker.alive
    finally:
        worker.stop()
    log = worker.log_path.read_text(errors="replace")
    found = [line for line in log.splitlines() if any(s in line for s in STUCK)]
    assert not found, "\n".join(found[:5])
