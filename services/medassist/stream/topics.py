"""Topic names (all derived from one prefix) and idempotent topic creation.

One prefix lets tests share a broker (unique prefix per test) and lets several
deployments share a cluster. Topics are created explicitly, never auto-created by a
produce/fetch, so the partition count is always the one we asked for.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from medassist.security.kafka import kafka_options

DEFAULT_PREFIX = "medassist"


@dataclass(frozen=True)
class Topics:
    prefix: str = DEFAULT_PREFIX
    # Read another deployment's events (a what-if shadow group: its own outputs, the cluster's input).
    events_topic: str | None = None

    @classmethod
    def from_env(cls) -> Topics:
        return cls(os.environ.get("MEDASSIST_TOPIC_PREFIX", DEFAULT_PREFIX),
                   os.environ.get("MEDASSIST_EVENTS_TOPIC") or None)

    @property
    def events(self) -> str:  # input events, keyed by psn_no
        return self.events_topic or f"{self.prefix}.events"

    @property
    def decisions(self) -> str:
        return f"{self.prefix}.decisions"

    @property
    def instructions(self) -> str:  # payment instructions to finance
        return f"{self.prefix}.instructions"

    @property
    def deadletters(self) -> str:
        return f"{self.prefix}.deadletters"

    @property
    def reconciliation(self) -> str:
        return f"{self.prefix}.reconciliation"

    @property
    def monitoring(self) -> str:
        return f"{self.prefix}.monitoring"

    def all(self) -> list[str]:
        return [self.events, self.decisions, self.instructions, self.deadletters,
                self.reconciliation, self.monitoring]


def ensure_topics(bootstrap: str, names: Iterable[str], partitions: int = 1,
                  replication: int = 1, timeout_s: float = 15.0) -> dict[str, int]:
    """Create the topics that do not exist yet; existing ones are left as they are.

    Returns {topic: partition count as the broker reports it}, after waiting until
    the metadata shows every topic (creation is not instantly visible everywhere).
    An existing topic with another partition count is not altered (reported as is).
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    wanted = list(dict.fromkeys(names))
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="medassist-topics",
                             request_timeout_ms=int(timeout_s * 1000), **kafka_options())
    try:
        existing = set(admin.list_topics())
        missing = [n for n in wanted if n not in existing]
        for name in missing:  # one by one: a race with another creator only fails that one
            try:
                admin.create_topics([NewTopic(name, partitions, replication)])
            except TopicAlreadyExistsError:
                pass
        deadline = time.monotonic() + timeout_s
        while True:
            counts = _partition_counts(admin, wanted)
            if all(counts.get(n, 0) > 0 for n in wanted):
                return counts
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics not visible after {timeout_s}s: {counts}")
            time.sleep(0.05)
    finally:
        admin.close()


def _partition_counts(admin: object, names: list[str]) -> dict[str, int]:
    described = admin.describe_topics(names)  # type: ignore[attr-defined]
    return {t["name"]: len(t["partitions"]) for t in described if t.get("error_code", 0) == 0}


def end_offsets(bootstrap: str, topic: str, timeout_s: float = 10.0) -> dict[int, int]:
    """True end offset (high watermark) of every partition of `topic`.

    Tansu 0.6.0 answers ListOffsets(latest) with the last *batch's* base offset + 1,
    so after a multi-record batch it under-reports (10 records in one batch -> 1).
    Its Fetch responses carry the right high watermark, so: ListOffsets, then fetch
    from just before that offset and read the high watermark the fetch reports.
    Safe on real Kafka too (there both numbers agree).
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             group_id=None, client_id="medassist-end-offsets", **kafka_options())
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        listed = consumer.end_offsets(tps)
        result = {tp.partition: int(listed[tp]) for tp in tps}
        probe = [tp for tp in tps if listed[tp] > 0]
        if probe:
            consumer.assign(probe)
            for tp in probe:
                consumer.seek(tp, listed[tp] - 1)
            pending = set(probe)
            deadline = time.monotonic() + timeout_s
            while pending and time.monotonic() < deadline:
                consumer.poll(timeout_ms=200, max_records=1000)
                for tp in list(pending):
                    hw = consumer.highwater(tp)
                    if hw is not None:
                        result[tp.partition] = max(result[tp.partition], int(hw))
                        pending.discard(tp)
            if pending:
                raise TimeoutError(f"no fetch answer for {sorted(pending)} in {timeout_s}s")
        return result
    finally:
        consumer.close()
