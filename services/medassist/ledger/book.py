"""The in-memory book: rebuilds and tests. Same outcome codes and figures as the Redis book.

Flows: county -> month -> field -> fen, where the fields are a posting's flows
plus `d:<account>` (the account's net change that month) and `n` (postings).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from medassist.ledger.postings import Posting

POSTED, DUPLICATE, CONFLICT = 0, 1, 2

Flows = dict[str, dict[str, dict[str, int]]]
Balances = dict[str, dict[str, int]]


class MemoryBook:
    def __init__(self) -> None:
        self.balances: Balances = {}
        self.flows: Flows = {}
        self.done: dict[str, str] = {}  # posting id -> fingerprint

    def post(self, p: Posting) -> int:
        prev = self.done.get(p.posting_id)
        if prev is not None:
            return DUPLICATE if prev == p.fingerprint else CONFLICT
        self.done[p.posting_id] = p.fingerprint
        bal = self.balances.setdefault(p.county, {})
        month = self.flows.setdefault(p.county, {}).setdefault(p.month, {})
        for acct, fen in p.legs:
            bal[acct] = bal.get(acct, 0) + fen
            month[f"d:{acct}"] = month.get(f"d:{acct}", 0) + fen
        for name, fen in p.flows:
            month[name] = month.get(name, 0) + fen
        month["n"] = month.get("n", 0) + 1
        return POSTED

    def posted(self, ids: Sequence[tuple[str, str]]) -> list[bool]:
        """Whether each (county, posting id) is in the book."""
        return [pid in self.done for _, pid in ids]

    def post_many(self, postings: Iterable[Posting]) -> list[int]:
        return [self.post(p) for p in postings]

    def load_balances(self) -> Balances:
        return self.balances

    def load_flows(self) -> Flows:
        return self.flows
