"""The worker's metrics follow Prometheus conventions, and the lag gauge forgets revoked partitions."""

from __future__ import annotations

import re
import subprocess

import pytest
from medassist.stream.metrics import Metrics
from prometheus_client import generate_latest

# attributes stream/worker.py and stream/processor.py use: renaming one breaks the worker
ATTRIBUTES = ("events", "assistance", "clawbacks", "instructions", "dead_letters", "redeliveries", "conflicts",
              "redis_errors", "kafka_errors", "early_warnings", "latency", "batch_seconds", "lag")


def families(m: Metrics) -> dict[str, object]:
    return {f.name: f for f in m.registry.collect()}


def test_names_units_and_help_follow_conventions() -> None:
    m = Metrics()
    for attr in ATTRIBUTES:
        assert hasattr(m, attr), attr
    ours = {n: f for n, f in families(m).items() if n.startswith("medassist_")}
    assert len(ours) == len(ATTRIBUTES)
    for name, fam in ours.items():
        assert fam.documentation and len(fam.documentation) > 20, name  # type: ignore[attr-defined]
        kind = fam.type  # type: ignore[attr-defined]
        if kind == "histogram":
            assert name.endswith("_seconds"), name  # base unit: seconds
        if "fen" in name:
            assert kind == "counter" and name.endswith("_fen"), name  # integer fen, exposed as ..._fen_total
    assert {n for n, f in ours.items() if f.type == "counter"} == {  # type: ignore[attr-defined]
        "medassist_events", "medassist_assistance_paid_fen", "medassist_assistance_clawed_back_fen",
        "medassist_payment_instructions", "medassist_dead_letters", "medassist_redeliveries",
        "medassist_state_conflicts", "medassist_redis_errors", "medassist_kafka_errors", "medassist_early_warnings"}
    # process metrics (memory, restarts via start time) come with the worker's own registry
    assert "process_start_time_seconds" in {s.name for f in m.registry.collect() for s in f.samples}


def test_latency_buckets_have_an_edge_at_the_100ms_aim() -> None:
    m = Metrics()
    m.latency.observe(0.099)
    m.latency.observe(0.101)
    buckets = {s.labels["le"]: s.value for f in m.registry.collect() if f.name == "medassist_processing_latency_seconds"
               for s in f.samples if s.name.endswith("_bucket")}
    assert buckets["0.1"] == 1 and buckets["0.25"] == 2


@pytest.mark.needs("promtool")
def test_exposition_passes_promtool_lint() -> None:
    m = Metrics()
    m.events.labels("settlement", "paid").inc()
    m.assistance.labels("qinhuangdao-2023", "regular").inc(123456)
    m.dead_letters.labels("invalid:amount").inc()
    m.early_warnings.labels("lanzhou-2022", "single_stay_6000").inc()
    m.latency.observe(0.02)
    m.set_lag({("medassist.events", 0): 12})
    text = generate_latest(m.registry)
    assert b'medassist_assistance_paid_fen_total{policy="qinhuangdao-2023",rule="regular"} 123456.0' in text
    counters = re.findall(rb"^# TYPE (\S+) counter$", text, re.M)  # ours and process_cpu_seconds_total
    assert len(counters) == 11 and all(c.endswith(b"_total") for c in counters), counters
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert r.returncode == 0 and r.stdout == b"" and r.stderr == b"", r.stdout + r.stderr


def lag_series(m: Metrics) -> dict[tuple[str, str], float]:
    return {(s.labels["topic"], s.labels["partition"]): s.value
            for f in m.registry.collect() if f.name == "medassist_consumer_lag_messages" for s in f.samples}


def test_set_lag_drops_revoked_partitions_and_clamps_at_zero() -> None:
    m = Metrics()
    m.set_lag({("medassist.events", 0): 5, ("medassist.events", 1): 3})
    assert lag_series(m) == {("medassist.events", "0"): 5, ("medassist.events", "1"): 3}
    # rebalance: partition 0 went to another worker, 2 came here; 1 finished past the watermark we saw
    m.set_lag({("medassist.events", 1): -2, ("medassist.events", 2): 7})
    assert lag_series(m) == {("medassist.events", "1"): 0, ("medassist.events", "2"): 7}
    m.set_lag({})
    assert lag_series(m) == {}
