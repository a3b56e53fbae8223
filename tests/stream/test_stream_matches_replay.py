"""The streaming path pays what `medassist replay` pays: a generated population through two
real worker processes (Tansu broker, redis-server or a Redis Cluster), compared settlement by settlement.

Delivery is at least once, so a message may be published again (identical); the checks
are on distinct bodies and on totals per settlement after deduplication by content.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import fastjsonschema
import orjson
import pytest
from history import canon, paid_per_settlement
from kcat_client import kcat_consume
from medassist.ops.cluster import WorkerProcess, end_total, wait_processed
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.ops.redis_cluster import LocalRedisCluster
from medassist.population import population
from medassist.replay import replay_file
from medassist.schemas import load_schema
from medassist.security.signing import Signer, verifier_from_env
from medassist.stream.config import WorkerConfig
from medassist.stream.feed import feed_lines
from medassist.stream.instructions import build as instruction_of
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, ensure_topics

pytestmark = pytest.mark.integration

PEOPLE = 260  # ~3,000 events: every city, every event type, reversals and reach-backs
PARTITIONS = 4


@pytest.mark.needs("kcat")
def test_stream_pays_what_replay_pays(kafka_broker: TansuBroker, redis_any: RedisServer | LocalRedisCluster,
                                      topics: Topics, signer: Signer, tmp_path: Path) -> None:
    events = [orjson.dumps(e) for e in population(PEOPLE, seed=23)]
    assert 2500 <= len(events) <= 4000
    src = tmp_path / "events.jsonl"
    src.write_bytes(b"\n".join(events) + b"\n")
    out = tmp_path / "replay.jsonl"
    with out.open("wb") as f:
        assert replay_file(str(src), f) == len(events)
    want = {canon(orjson.loads(line)) for line in out.read_bytes().splitlines()}

    bootstrap = kafka_broker.bootstrap
    ensure_topics(bootstrap, topics.all(), PARTITIONS)
    cfg = WorkerConfig(bootstrap=bootstrap, redis_url=redis_any.url, topics=topics,
                       group=f"{topics.prefix}-workers", partitions=PARTITIONS, fast_rebalance=True,
                       datadir=str(tmp_path / "faust"), metrics_port=0)
    workers = [WorkerProcess(cfg, f"w{i}", tmp_path).start() for i in range(2)]
    try:
        assert feed_lines(bootstrap, topics.events, events) == len(events)
        wait_processed(bootstrap, cfg.group, topics.events, end_total(bootstrap, topics.events), 180.0,
                       workers, progress=False)
        assert all(w.alive for w in workers)
        decisions = list(read_topic(bootstrap, topics.decisions))
        instructions = list(read_topic(bootstrap, topics.instructions))
    finally:
        for w in workers:
            w.stop()

    # decisions: the same set of bodies, so the same paid total for every settlement
    got = {canon(orjson.loads(raw)) for raw in decisions}
    assert got == want
    want_paid = paid_per_settlement(want)
    assert paid_per_settlement(got) == want_paid
    assert sum(want_paid.values()) > 0 and sum(1 for v in want_paid.values() if v > 0) > 100

    # instructions: one body per id, exactly those replay's decisions give, valid by the schema
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for raw in instructions:
        ins = orjson.loads(raw)
        bodies[ins["instruction_id"]].add(canon(ins))
    assert all(len(b) == 1 for b in bodies.values())
    expected_ins = {}
    for raw in want:
        ins = instruction_of(orjson.loads(raw))
        if ins is not None:  # as the workers sign them: Ed25519 is deterministic
            expected_ins[ins["instruction_id"]] = canon(signer.sign(ins))
    assert {k: next(iter(b)) for k, b in bodies.items()} == expected_ins
    kinds = {orjson.loads(b)["kind"] for b in expected_ins.values()}
    assert kinds == {"assistance", "clawback", "premium_subsidy"}
    validate = fastjsonschema.compile(load_schema("instruction"))
    verifier = verifier_from_env()
    for b in bodies.values():
        validate(orjson.loads(next(iter(b))))
        assert verifier.check(orjson.loads(next(iter(b)))) is None  # each one signed, and it verifies

    # an independent client (librdkafka's kcat) reads the instructions topic
    res = kcat_consume(bootstrap, topics.instructions, "%s\\n")
    if res is None:  # the pinned failure of librdkafka < 2.1 against Tansu (see kcat_client)
        return
    read = {orjson.loads(line)["instruction_id"] for line in res.splitlines() if line.strip()}
    assert read == set(expected_ins)
