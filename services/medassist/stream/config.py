"""Worker configuration from the environment (what docker-compose.yml sets) and flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from medassist.stream.topics import Topics


@dataclass(frozen=True)
class WorkerConfig:
    bootstrap: str = "127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379/0"
    topics: Topics = field(default_factory=Topics)
    group: str = "medassist-workers"
    partitions: int = 8
    batch_size: int = 500
    fetch_max_wait_ms: int = 20  # the consumer's long poll (Tansu holds a fetch for all of it)
    metrics_port: int = 9464  # 0: no /metrics endpoint
    fast_rebalance: bool = False  # short session/heartbeat timeouts (tests, local runs)
    datadir: str = "/tmp/medassist-worker"
    worker_id: str = "worker"
    redis_prefix: str = "ma"  # every Redis key starts "<prefix>:" (a shadow group has its own)

    @classmethod
    def from_env(cls, **overrides: object) -> WorkerConfig:
        e = os.environ
        kw: dict[str, object] = {
            "bootstrap": e.get("MEDASSIST_BOOTSTRAP", cls.bootstrap),
            "redis_url": e.get("MEDASSIST_REDIS_URL", cls.redis_url),
            "topics": Topics(e.get("MEDASSIST_TOPIC_PREFIX", "medassist"), e.get("MEDASSIST_EVENTS_TOPIC") or None),
            "group": e.get("MEDASSIST_GROUP", cls.group),
            "partitions": int(e.get("MEDASSIST_PARTITIONS", cls.partitions)),
            "batch_size": int(e.get("MEDASSIST_BATCH_SIZE", cls.batch_size)),
            "fetch_max_wait_ms": int(e.get("MEDASSIST_FETCH_MAX_WAIT_MS", cls.fetch_max_wait_ms)),
            "metrics_port": int(e.get("MEDASSIST_METRICS_PORT", cls.metrics_port)),
            "fast_rebalance": e.get("MEDASSIST_FAST_REBALANCE", "0") == "1",
            "datadir": e.get("MEDASSIST_DATADIR", cls.datadir),
            "worker_id": e.get("MEDASSIST_WORKER_ID", e.get("HOSTNAME", cls.worker_id)),
            "redis_prefix": e.get("MEDASSIST_REDIS_PREFIX", cls.redis_prefix),
        }
        kw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kw)  # type: ignore[arg-type]
