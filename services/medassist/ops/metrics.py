"""Prometheus metrics of a worker (names follow Prometheus conventions: base units, _total)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.events = Counter("medassist_events_total", "Input events processed, by type and outcome",
                              ["type", "outcome"], registry=r)
        self.assistance = Counter("medassist_assistance_paid_fen_total",
                                  "Assistance decided, in fen (clawbacks negative are counted separately)",
                                  ["policy", "rule"], registry=r)
        self.clawbacks = Counter("medassist_assistance_clawed_back_fen_total",
                                 "Assistance clawed back by reversals, in fen", ["policy", "rule"], registry=r)
        self.instructions = Counter("medassist_payment_instructions_total", "Payment instructions published",
                                    ["kind"], registry=r)
        self.dead_letters = Counter("medassist_dead_letters_total", "Messages sent to the dead-letter topic",
                                    ["reason"], registry=r)
        self.redeliveries = Counter("medassist_redeliveries_total",
                                    "Events already applied, re-published from stored outputs", registry=r)
        self.conflicts = Counter("medassist_state_conflicts_total",
                                 "Person-state version conflicts (another writer got there first)", registry=r)
        self.redis_errors = Counter("medassist_redis_errors_total", "Redis calls that failed", registry=r)
        self.kafka_errors = Counter("medassist_kafka_errors_total", "Kafka produce or commit failures", registry=r)
        self.latency = Histogram("medassist_processing_latency_seconds",
                                 "Time from the input event's broker timestamp to its outputs being published",
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                                 registry=r)
        self.batch_seconds = Histogram("medassist_batch_duration_seconds", "Time to process one batch",
                                       buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                                       registry=r)
        self.lag = Gauge("medassist_consumer_lag_messages", "Input messages not yet processed, per partition",
                         ["topic", "partition"], registry=r)
