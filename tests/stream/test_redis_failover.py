"""A Redis Cluster master fails over to its replica in the middle of a run.

Real Tansu, real `medassist worker` processes, a real 3-master Redis Cluster with one replica
each (AOF, appendfsync always, node timeout 1 s). Two scenarios, at a seeded point mid-stream:
- `failover`: `redis-cli -p REPLICA cluster failover` (the operator's planned switch);
- `kill-master`: `kill -9` of a master; the cluster promotes its replica on its own.
Either way the run must end with exactly what replay decides: every instruction once with one
body (nothing paid twice), none missing (nothing lost), and every person's accumulators in
the cluster equal to replay's (no acknowledged state change lost: the store WAITs for the
replica before anything is published).
"""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import pytest
from medassist.ops.embedded import TansuBroker
from medassist.ops.redis_cluster import ClusterNode, LocalRedisCluster
from medassist.stream.topics import Topics
from test_faults import SEED, Cluster, events_of, verify

pytestmark = [pytest.mark.integration, pytest.mark.fault]


def wait_role(node: ClusterNode, role: str, timeout_s: float = 30.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        try:
            if node.role() == role:
                return time.monotonic() - t0
        except Exception:  # noqa: BLE001 - busy switching
            pass
        time.sleep(0.05)
    raise AssertionError(f"127.0.0.1:{node.port} is not {role} after {timeout_s}s")


@pytest.mark.parametrize("how", ["failover", "kill-master"])
def test_master_fails_over_mid_run(how: str, kafka_broker: TansuBroker, topics: Topics, tmp_path: Path) -> None:
    rng = random.Random(SEED + 10 + len(how))
    events = events_of(300, seed=SEED % 1000 + 5)
    n = len(events)
    with LocalRedisCluster(masters=3, replicas=1, node_timeout_ms=1000, workdir=tmp_path / "redis") as rc:
        c = Cluster(kafka_broker, rc, topics, tmp_path, 4)
        try:
            for i in range(2):
                c.start(f"w{i}")
            c.feed(events)
            c.wait_progress(int(n * rng.uniform(0.25, 0.4)))
            master = rc.masters_now()[rng.randrange(3)]
            replica = rc.replica_of(master)
            if how == "failover":
                subprocess.run(["redis-cli", "-p", str(replica.port), "cluster", "failover"], check=True,
                               capture_output=True, timeout=10)
            else:
                master.kill()  # kill -9: no goodbye to the cluster, no last AOF write
            took = wait_role(replica, "master")
            rc.wait_ok()
            print(f"\n[{how}] 127.0.0.1:{replica.port} took over from :{master.port} in {took:.1f}s "
                  f"after {c.progress()} of {n} events")
            seconds = c.finish(n)
            assert all(w.alive for w in c.workers.values())
            verify(how, c, events, rc, seconds)
            if how == "kill-master":
                assert "redis failed" in c.logs()  # the workers did see the master go
        finally:
            c.stop()
