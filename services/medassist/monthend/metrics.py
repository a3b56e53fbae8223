"""Month-end's Prometheus metrics, in a registry of their own (exposed only if asked for).

The dashboards and alert rules refer to these names; keep them stable.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from medassist.monthend.reconcile import KINDS
from medassist.security.metrics import UNVERIFIED_CODES, unverified_counter


class MonthEndMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.differences = Gauge("medassist_reconciliation_differences",
                                 "Settlement-level differences found by the last reconciliation, by kind",
                                 ["kind"], registry=r)
        self.last_close = Gauge("medassist_monthend_last_close_timestamp_seconds",
                                "Unix time at which the last month was closed (first close, not a rerun)",
                                registry=r)
        self.statements = Counter("medassist_monthend_statements_total",
                                  "Institution statements published (reruns republish and count again)",
                                  registry=r)
        self.unverified = unverified_counter(r, "month-end")
        for k in KINDS:
            self.differences.labels(kind=k).set(0)
        for code in UNVERIFIED_CODES:
            self.unverified.labels(code)

    def record_close(self, closed_at_unix: float, statements: int) -> None:
        self.last_close.set(closed_at_unix)
        self.statements.inc(statements)

    def record_unverified(self, counts: dict[str, int]) -> None:
        """Instructions a close (or rerun) refused, by why: each run counts what it read."""
        for code, n in counts.items():
            self.unverified.labels(code).inc(n)

    def record_reconciliation(self, result: dict[str, Any]) -> None:
        for k in KINDS:
            self.differences.labels(kind=k).set(result["difference_counts"][k])

    def serve(self, port: int) -> None:
        from prometheus_client import start_http_server

        start_http_server(port, addr="0.0.0.0", registry=self.registry)
