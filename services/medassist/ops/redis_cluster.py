"""A real Redis Cluster on loopback ports: N masters with R replicas each, from plain redis-server.

Every node is a `redis-server --cluster-enabled yes` with its own dir, AOF (`appendfsync
always`, as the single server) and a short node timeout so that a killed master is failed
over in about a second; `redis-cli --cluster create ... --cluster-replicas R --cluster-yes`
assigns the slots and the replicas, as an operator would. Used by the tests and benches.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from medassist.ops.embedded import RedisServer, free_port

if TYPE_CHECKING:
    import redis


class ClusterNode(RedisServer):
    name = "redis-node"

    def __init__(self, workdir: Path, node_timeout_ms: int, appendfsync: str = "always") -> None:
        super().__init__(workdir=workdir, appendfsync=appendfsync)
        self.node_timeout_ms = node_timeout_ms
        self.bus_port = free_port()  # the default (port + 10000) may be taken, or above 65535

    def _argv(self) -> list[str]:
        return [*super()._argv(), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-port", str(self.bus_port),
                "--cluster-node-timeout", str(self.node_timeout_ms),
                # a replica whose master died long ago may still be promoted (tests kill masters)
                "--cluster-replica-validity-factor", "0"]

    def info(self, section: str) -> dict[str, str]:
        c = self.client(socket_timeout=2.0)
        try:
            got = c.info(section)
        finally:
            c.close()
        return {k: str(v) for k, v in got.items()}

    def role(self) -> str:
        return self.info("replication").get("role", "?")


class LocalRedisCluster:
    """`masters` masters and `replicas` replicas each; `url` points at the first node."""

    def __init__(self, masters: int = 3, replicas: int = 1, node_timeout_ms: int = 1000,
                 appendfsync: str = "always", workdir: str | Path | None = None) -> None:
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="medassist-redis-cluster-"))
        self.masters, self.replicas = masters, replicas
        self.nodes = [ClusterNode(self.workdir / f"n{i}", node_timeout_ms, appendfsync)
                      for i in range(masters * (1 + replicas))]

    @property
    def url(self) -> str:
        """A running node's URL: any node leads a cluster client to all of them."""
        return next(n for n in self.nodes if n.running()).url

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

    def start(self) -> Self:
        try:
            for n in self.nodes:
                n.start()
            addrs = [f"127.0.0.1:{n.port}" for n in self.nodes]
            subprocess.run(["redis-cli", "--cluster", "create", *addrs, "--cluster-replicas", str(self.replicas),
                            "--cluster-yes"], check=True, capture_output=True, timeout=60)
            self.wait_ok()
        except BaseException:
            self.close()
            raise
        return self

    def wait_ok(self, timeout_s: float = 30.0) -> None:
        """Until every running node says cluster_state:ok and every slot is served."""
        deadline = time.monotonic() + timeout_s
        last: dict[str, str] = {}
        while time.monotonic() < deadline:
            try:
                infos = [self._cluster_info(n) for n in self.nodes if n.running()]
                if infos and all(i.get("cluster_state") == "ok" and i.get("cluster_slots_ok") == "16384"
                                 for i in infos) and self._replicas_in_sync():
                    return
                last = infos[0] if infos else {}
            except Exception:  # noqa: BLE001 - a node still starting or electing
                pass
            time.sleep(0.1)
        raise TimeoutError(f"redis cluster not ok after {timeout_s}s: {last}")

    def _replicas_in_sync(self) -> bool:
        """Every running replica's link to its master is up (its initial sync is done)."""
        for n in self.nodes:
            if n.running():
                rep = n.info("replication")
                if rep.get("role") == "slave" and rep.get("master_link_status") != "up":
                    return False
        return True

    @staticmethod
    def _cluster_info(n: ClusterNode) -> dict[str, str]:
        c = n.client(socket_timeout=2.0)
        try:
            raw = c.execute_command("CLUSTER", "INFO")
        finally:
            c.close()
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return dict(line.strip().split(":", 1) for line in text.splitlines() if ":" in line)

    def masters_now(self) -> list[ClusterNode]:
        return [n for n in self.nodes if n.running() and n.role() == "master"]

    def replica_of(self, master: ClusterNode) -> ClusterNode:
        for n in self.nodes:
            if n is not master and n.running():
                rep = n.info("replication")
                if rep.get("role") == "slave" and rep.get("master_port") == str(master.port):
                    return n
        raise LookupError(f"no running replica of 127.0.0.1:{master.port}")

    def client(self, **kw: object) -> redis.RedisCluster:
        import redis

        port = next(n for n in self.nodes if n.running()).port
        return redis.RedisCluster(host="127.0.0.1", port=port, **kw)  # type: ignore[arg-type]

    def close(self) -> None:
        for n in self.nodes:
            try:
                n.stop()
            except Exception:  # noqa: BLE001 - stop the others anyway
                pass
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
