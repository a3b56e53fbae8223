"""What the worker does with a decision's warnings: count them, report gaps, hand them out for the topic.

Metrics are registered on the worker's own registry (once per registry), so the
worker's /metrics shows them beside its other figures.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger("medassist.monitoring")


class WarningMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.warnings = Counter("medassist_early_warnings_total", "Early warnings raised (published once each)",
                                ["policy", "kind"], registry=registry)
        self.gaps = Counter("medassist_early_warning_gaps_total",
                            "Settlements whose warning could not be checked: the operator's income figure is missing",
                            ["policy", "parameter"], registry=registry)


_by_registry: dict[int, WarningMetrics] = {}
_logged: set[tuple[str, str]] = set()


def metrics_for(registry: CollectorRegistry) -> WarningMetrics:
    m = _by_registry.get(id(registry))
    if m is None:
        m = _by_registry[id(registry)] = WarningMetrics(registry)
    return m


def warnings_of(d: dict[str, Any], registry: CollectorRegistry) -> list[dict[str, Any]]:
    """The decision's warnings, to publish on the monitoring topic; counts them and any income-figure gap."""
    m = metrics_for(registry)
    policy = d.get("policy_id") or "none"
    for gap in d.get("warning_gaps") or ():
        parameter = gap.split(":", 1)[0]
        m.gaps.labels(policy, parameter).inc()
        if (policy, parameter) not in _logged:  # once per process: the metric counts the rest
            _logged.add((policy, parameter))
            log.warning("early warnings of %s not checked: operator parameter %s", policy, gap)
    found: list[dict[str, Any]] = d.get("warnings") or []
    for w in found:
        m.warnings.labels(policy, w["kind"]).inc()
    return found
