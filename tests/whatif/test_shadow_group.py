"""A variant as a shadow consumer group beside the cluster, on the embedded stack (real Tansu, real
redis-server): the cluster's worker and the shadow's read the same events topic, each in its own group;
the cluster pays what the what-if's baseline pays, the shadow what its variant pays, and each keeps its
people under its own Redis key prefix and publishes to its own topics."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
import redis
from medassist.ops.cluster import WorkerProcess, end_total, wait_processed
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.ops.run import summarise
from medassist.population import population
from medassist.stream.config import WorkerConfig
from medassist.stream.feed import feed_lines
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, ensure_topics
from medassist.whatif.change import PolicySpec
from medassist.whatif.run import run_whatif
from medassist.whatif.shadow import Shadow, start_shadow

pytestmark = pytest.mark.integration

CHANGE = ("lanzhou-2022:tilt.threshold=5000", "qinhuangdao-2023:caps.regular_total=30000")


def test_shadow_group_pays_the_variant_beside_the_cluster(kafka_broker: TansuBroker, redis_server: RedisServer,
                                                          topics: Topics, tmp_path: Path) -> None:
    lines = [orjson.dumps(e) for e in population(60, seed=31)]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(x + b"\n" for x in lines))
    spec = PolicySpec(None, CHANGE)
    want = run_whatif(str(events), spec, workers=1, progress_to=io.StringIO()).summary()
    assert want["delta_fen"] != 0

    bootstrap = kafka_broker.bootstrap
    cluster = WorkerConfig(bootstrap=bootstrap, redis_url=redis_server.url, topics=topics,
                           group=f"{topics.prefix}-workers", partitions=2, fast_rebalance=True,
                           datadir=str(tmp_path / "cluster"), metrics_port=0)
    ensure_topics(bootstrap, topics.all(), 2)
    shadow = Shadow(bootstrap, redis_server.url, prefix=f"{topics.prefix}-whatif", source_prefix=topics.prefix,
                    partitions=2, fast_rebalance=True)
    procs = [WorkerProcess(cluster, "cluster-0", tmp_path).start()]
    try:
        procs += start_shadow(spec, shadow, tmp_path / "shadow", workers=1)
        feed_lines(bootstrap, topics.events, lines)
        expected = end_total(bootstrap, topics.events)
        assert expected == len(lines)
        wait_processed(bootstrap, cluster.group, topics.events, expected, 240, procs[:1], progress=False)
        wait_processed(bootstrap, f"{shadow.prefix}-workers", topics.events, expected, 240, procs[1:],
                       progress=False)
    finally:
        for p in procs:
            p.stop()

    shadow_topics = Topics(shadow.prefix)
    paid = summarise(len(lines), list(read_topic(bootstrap, topics.decisions)), [], [])
    shadow_paid = summarise(len(lines), list(read_topic(bootstrap, shadow_topics.decisions)), [], [])
    assert paid["net_assistance_fen"] == want["baseline_fen"]
    assert shadow_paid["net_assistance_fen"] == want["variant_fen"]
    assert list(read_topic(bootstrap, shadow_topics.events)) == []  # the shadow never wrote an events topic

    r = redis.Redis.from_url(redis_server.url)
    keys = [k.decode() for k in r.scan_iter(count=1000)]
    people = {e["psn_no"] for e in map(orjson.loads, lines)}
    assert {k for k in keys if k.startswith("ma:{") and ":o:" not in k} == {f"ma:{{{p}}}" for p in people}
    assert {k for k in keys if k.startswith(f"{shadow.prefix}:{{") and ":o:" not in k} == \
        {f"{shadow.prefix}:{{{p}}}" for p in people}
    assert all(k.startswith(("ma:", f"{shadow.prefix}:")) for k in keys), keys
    # the variant's policy directory the shadow decided with: written, and it says what changed
    written = (tmp_path / "shadow" / "policies" / "lanzhou-2022.yaml").read_text(encoding="utf-8")
    assert "value: 5000" in written
