"""A variant as a shadow consumer group of the cluster: the same events, its own everything else.

Past one machine, a what-if runs as more `medassist worker`s that read the cluster's events topic
in a consumer group of their own (so the cluster's offsets are never moved), decide with the
variant's policy files (MEDASSIST_POLICIES), publish to topics under their own prefix and keep
their people in Redis under their own key prefix. The cluster's workers, topics and keys are
not touched; stopping the shadow workers and deleting their prefix removes every trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medassist.ops.cluster import WorkerProcess
from medassist.security.signing import generate_keys
from medassist.stream.config import WorkerConfig
from medassist.stream.topics import Topics, ensure_topics
from medassist.whatif.change import PolicySpec, books, write_variant_dir


@dataclass(frozen=True)
class Shadow:
    """Where a shadow group reads and writes."""

    bootstrap: str
    redis_url: str
    prefix: str  # its topics "<prefix>.decisions", ..., its group "<prefix>-workers", Redis keys "<prefix>:{psn}"
    source_prefix: str = "medassist"  # the cluster whose events it reads ("<source_prefix>.events")
    partitions: int = 8
    fast_rebalance: bool = False

    def config(self, datadir: Path) -> WorkerConfig:
        if self.prefix == self.source_prefix:
            raise ValueError(f"the shadow's prefix {self.prefix!r} is the cluster's own: give it one of its own")
        topics = Topics(self.prefix, events_topic=Topics(self.source_prefix).events)
        return WorkerConfig(bootstrap=self.bootstrap, redis_url=self.redis_url, topics=topics,
                            group=f"{self.prefix}-workers", partitions=self.partitions, redis_prefix=self.prefix,
                            fast_rebalance=self.fast_rebalance, datadir=str(datadir / "faust"), metrics_port=0)


def start_shadow(spec: PolicySpec, shadow: Shadow, workdir: Path, workers: int = 1) -> list[WorkerProcess]:
    """Write the variant's policy directory, create the shadow's output topics, start its workers."""
    books(spec)  # the change checks, or nothing starts
    policies = write_variant_dir(spec, workdir / "policies")
    cfg = shadow.config(workdir)
    outputs = [t for t in cfg.topics.all() if t != cfg.topics.events]  # the cluster's topic is not ours
    ensure_topics(shadow.bootstrap, outputs, shadow.partitions)
    env = {"MEDASSIST_POLICIES": str(policies)}
    # A key of its own that no verifier trusts: a shadow's instructions, copied onto the real topic,
    # would be refused by the ledger and month-end (unknown_key), never paid.
    env.update(generate_keys(workdir / "shadow-signing-key", f"whatif-{shadow.prefix}"))
    return [WorkerProcess(cfg, f"{shadow.prefix}-{i}", workdir, env=env).start() for i in range(workers)]
