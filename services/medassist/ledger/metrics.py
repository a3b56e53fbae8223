"""Ledger metrics (names fixed: the dashboards and alert rules use them)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from medassist.ledger.book import Balances
from medassist.security.metrics import UNVERIFIED_CODES, unverified_counter


class LedgerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.balance = Gauge("medassist_fund_balance_fen", "Balance of a county fund account, in fen",
                             ["county", "account"], registry=r)
        self.warnings = Gauge("medassist_fund_warnings",
                              "Year-end fund check of the last December statement (1 = flagged)",
                              ["county", "check"], registry=r)
        self.postings = Counter("medassist_ledger_postings_total", "Postings applied to the fund accounts",
                                registry=r)
        self.duplicates = Counter("medassist_ledger_duplicates_total",
                                  "Instructions or movements already posted (redeliveries), ignored", registry=r)
        self.rejected = Counter("medassist_ledger_rejected_total",
                                "Messages the ledger could not post, by field (conflict: same id, other amount)",
                                ["reason"], registry=r)
        self.unverified = unverified_counter(r, "ledger")
        for code in UNVERIFIED_CODES:  # present at 0, so that increase() sees the first one
            self.unverified.labels(code)

    def set_balances(self, balances: Balances) -> None:
        for county, accts in balances.items():
            for acct, fen in accts.items():
                self.balance.labels(county, acct).set(fen)
