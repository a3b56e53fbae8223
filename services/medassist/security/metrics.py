"""The one metric of refused payment instructions, shared by the ledger and month-end.

Same name in both (each in its own registry and scrape job): the alert rule in
deploy/alerts.yml fires on any increase, whoever saw it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

UNVERIFIED_CODES = ("unsigned", "unknown_key", "malformed", "bad_signature")


def unverified_counter(registry: CollectorRegistry, component: str) -> Counter:
    return Counter("medassist_instructions_unverified_total",
                   f"Payment instructions the {component} refused because their signature did not verify "
                   "(unsigned, unknown_key, malformed, bad_signature: forged or altered)",
                   ["reason"], registry=registry)
