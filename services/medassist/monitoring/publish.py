"""What the worker does with a decision's warnings: count them, report gaps, hand them out for the topic.

The warnings counter is the worker's own (`Metrics.early_warnings`); the gap
counter is registered here on the worker's registry (once per registry), so
/metrics shows both beside the worker's other figures.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from medassist.stream.metrics import Metrics

log = logging.getLogger("medassist.monitoring")


class GapMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.gaps = Counter("medassist_early_warning_gaps_total",
                            "Settlements whose warning could not be checked: the operator's income figure is missing",
                            ["policy", "parameter"], registry=registry)


_by_registry: dict[int, tuple[CollectorRegistry, GapMetrics]] = {}
_logged: set[tuple[str, str]] = set()


def gap_metrics(registry: CollectorRegistry) -> GapMetrics:
    found = _by_registry.get(id(registry))
    if found is None or found[0] is not registry:  # holding the registry keeps its id from being reused
        found = _by_registry[id(registry)] = (registry, GapMetrics(registry))
    return found[1]


def warnings_of(d: dict[str, Any], metrics: Metrics) -> list[dict[str, Any]]:
    """The decision's warnings, to publish on the monitoring topic; counts them and any income-figure gap."""
    m = gap_metrics(metrics.registry)
    policy = d.get("policy_id") or "none"
    for gap in d.get("warning_gaps") or ():
        parameter = gap.split(":", 1)[0]
        m.gaps.labels(policy, parameter).inc()
        if (policy, parameter) not in _logged:  # once per process: the metric counts the rest
            _logged.add((policy, parameter))
            log.warning("early warnings of %s not checked: operator parameter %s", policy, gap)
    found: list[dict[str, Any]] = d.get("warnings") or []
    for w in found:
        metrics.early_warnings.labels(policy, w["kind"]).inc()
    return found
