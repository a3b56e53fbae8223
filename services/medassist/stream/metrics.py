"""Prometheus metrics of a worker.

Names follow Prometheus conventions: a `medassist_` prefix, base units in the name
(`_seconds`; money in `_fen`, the integer unit we keep money in), `_total` on
counters, and help text that says what one increment means. deploy/alerts.yml and
the Grafana dashboard query these names; tests/ops/test_deploy.py keeps them in step.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        if registry is None:
            # process_* (memory, CPU, start time: restarts show as changes) on our own registry too
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
        self.events = Counter("medassist_events_total",
                              "Decisions made on input events, by event type and outcome (decision status); "
                              "eligibility updates make no decision and are not counted",
                              ["type", "outcome"], registry=r)
        self.assistance = Counter("medassist_assistance_paid_fen_total",
                                  "Assistance in payment instructions, in fen, by policy and rule (positive lines)",
                                  ["policy", "rule"], registry=r)
        self.clawbacks = Counter("medassist_assistance_clawed_back_fen_total",
                                 "Assistance clawed back by reversals, in fen, by policy and rule", ["policy", "rule"],
                                 registry=r)
        self.instructions = Counter("medassist_payment_instructions_total", "Payment instructions published, by kind",
                                    ["kind"], registry=r)
        self.dead_letters = Counter("medassist_dead_letters_total",
                                    "Messages sent to the dead-letter topic, by reason code", ["reason"], registry=r)
        self.redeliveries = Counter("medassist_redeliveries_total",
                                    "Events already applied, re-published from stored outputs", registry=r)
        self.conflicts = Counter("medassist_state_conflicts_total",
                                 "Person-state version conflicts (another writer got there first)", registry=r)
        self.redis_errors = Counter("medassist_redis_errors_total",
                                    "Batch attempts that failed on Redis (each retry counts)", registry=r)
        self.kafka_errors = Counter("medassist_kafka_errors_total",
                                    "Batch attempts whose outputs failed to publish to Kafka (each retry counts)",
                                    registry=r)
        self.early_warnings = Counter("medassist_early_warnings_total",
                                      "Early warnings raised (relapse, impoverishment, large single stay), by policy "
                                      "and kind", ["policy", "kind"], registry=r)
        # 0.1 s is the p99 aim at 500 settlements/s: keep a bucket edge there
        self.latency = Histogram("medassist_processing_latency_seconds",
                                 "Time from the input event's broker timestamp to its outputs being published",
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                                 registry=r)
        self.batch_seconds = Histogram("medassist_batch_duration_seconds", "Time to process one batch",
                                       buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                                       registry=r)
        self.lag = Gauge("medassist_consumer_lag_messages",
                         "Input messages not yet finished (high watermark minus committed offset), per assigned "
                         "partition", ["topic", "partition"], registry=r)

    def set_lag(self, current: dict[tuple[str, int], int]) -> None:
        """Set the lag of the partitions assigned now and drop the rest.

        After a rebalance a revoked partition's last value would otherwise stay
        exported for ever, frozen, and sum into the cluster's lag next to the
        value its new owner reports.
        """
        wanted = {(topic, str(partition)): lag for (topic, partition), lag in current.items()}
        for labels in list(self._lag_labels()):
            if labels not in wanted:
                self.lag.remove(*labels)
        for (topic, partition), lag in wanted.items():
            self.lag.labels(topic, partition).set(max(0, lag))

    def _lag_labels(self) -> set[tuple[str, str]]:
        return {(s.labels["topic"], s.labels["partition"]) for fam in self.lag.collect() for s in fam.samples}
