"""`medassist ledger consume`: payment instructions and fund movements -> the Redis book.

At least once, effects once: a batch is posted (each posting one atomic script,
deduplicated by id) before its offsets are committed. The ledger is one small
consumer: it assigns itself every partition of both topics (no rebalances) and
keeps its offsets under its own group id. A message it cannot post is counted
and logged with its reason, and the rest go on. A payment instruction is posted only
when its signature verifies against a known key (security/signing.py): an unsigned,
forged, altered or unknown-key one is set aside like any other refusal, and counted in
medassist_instructions_unverified_total, which pages (deploy/alerts.yml). A clawback is
posted only when the instruction it reverses is (rejected reason reverses_instruction_id).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from medassist.engine.policy import PolicyBook, load_policies
from medassist.ledger import book as B
from medassist.ledger.metrics import LedgerMetrics
from medassist.ledger.postings import LedgerError, Posting, from_instruction, from_movement
from medassist.ledger.redis_book import RedisBook
from medassist.ledger.statements import fund_statements
from medassist.security.kafka import kafka_options
from medassist.security.signing import Verifier, verifier_from_env
from medassist.stream.topics import Topics, end_offsets

log = logging.getLogger("medassist.ledger")


def funds_topic(topics: Topics) -> str:
    """Fund movements (schemas/fund_movement.schema.json), keyed by county."""
    return f"{topics.prefix}.funds"


class Unverified(LedgerError):
    """An instruction whose signature does not hold; `code` labels the metric."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.code = code


def parse(value: bytes | None, is_movement: bool, verifier: Verifier | None = None) -> Posting:
    """A posting from a message; an instruction must carry a signature `verifier` accepts."""
    if not value:
        raise LedgerError("message: empty")
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise LedgerError("message: not valid JSON") from None
    if is_movement:
        return from_movement(obj)
    if isinstance(obj, dict):
        bad = verifier.check(obj) if verifier is not None else None
        if verifier is None or bad is not None:
            code, reason = bad or ("unsigned", "signature: no verifying keys configured")
            raise Unverified(f"{reason} (instruction {str(obj.get('instruction_id'))[:40]})", code)
    return from_instruction(obj)


NOT_REVERSING = "reverses_instruction_id: names no posted instruction"


def unreversing(postings: list[tuple[Posting, str]], book: RedisBook) -> set[int]:
    """Positions of the clawbacks whose reversed instruction is neither in the book nor earlier in the batch."""
    claws = [(i, p) for i, (p, _) in enumerate(postings) if p.reverses is not None]
    if not claws:
        return set()
    first: dict[str, int] = {}
    for i, (p, _) in enumerate(postings):
        first.setdefault(p.posting_id, i)
    known = book.posted([(p.county, p.reverses or "") for _, p in claws])
    return {i for (i, p), k in zip(claws, known, strict=True) if not k and first.get(p.reverses or "", i) >= i}


@dataclass
class Summary:
    posted: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)  # "topic@partition:offset: field: why"


def rebuild(bootstrap: str, topics: Topics, verifier: Verifier | None = None) -> tuple[B.MemoryBook, Summary]:
    """Both topics from the beginning into a fresh in-memory book (verified like `consume`)."""
    from medassist.stream.tail import read_topic

    verifier = verifier or verifier_from_env()
    book, s = B.MemoryBook(), Summary()
    for topic, is_mv in ((topics.instructions, False), (funds_topic(topics), True)):
        for n, value in enumerate(read_topic(bootstrap, topic)):
            try:
                posting = parse(value, is_mv, verifier)
                if posting.reverses is not None and not book.posted([(posting.county, posting.reverses)])[0]:
                    raise LedgerError(f"{NOT_REVERSING} (instruction {posting.posting_id})")
                code = book.post(posting)
            except LedgerError as e:
                s.rejected.append(f"{topic}#{n}: {e}")
                continue
            _count(s, code, f"{topic}#{n}", None)
    return book, s


def _count(s: Summary, code: int, where: str, m: LedgerMetrics | None) -> None:
    if code == B.POSTED:
        s.posted += 1
        if m:
            m.postings.inc()
    elif code == B.DUPLICATE:
        s.duplicates += 1
        if m:
            m.duplicates.inc()
    else:
        s.rejected.append(f"{where}: conflict: posted before with another amount or date")
        if m:
            m.rejected.labels("conflict").inc()


class LedgerConsumer:
    def __init__(self, bootstrap: str, book: RedisBook, topics: Topics, metrics: LedgerMetrics | None = None,
                 group: str = "medassist-ledger", policies: PolicyBook | None = None,
                 checks_every_s: float = 10.0, verifier: Verifier | None = None) -> None:
        self.bootstrap, self.book, self.topics = bootstrap, book, topics
        self.verifier = verifier or verifier_from_env()  # no keys, no ledger: nothing is posted unverified
        self.metrics = metrics or LedgerMetrics()
        self.policies = policies or load_policies()  # once: the checks run every few seconds
        self.checks_every_s = checks_every_s
        self.summary = Summary()
        self.names = (topics.instructions, funds_topic(topics))
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=group,
                                      enable_auto_commit=False, auto_offset_reset="earliest",
                                      client_id="medassist-ledger", **kafka_options())

    def close(self) -> None:
        self.consumer.close()

    def _assign(self) -> list[TopicPartition]:
        tps = [TopicPartition(t, p) for t in self.names for p in sorted(self.consumer.partitions_for_topic(t) or ())]
        self.consumer.assign(tps)
        return tps

    def run(self, until_end: bool = False, max_idle_s: float | None = None) -> Summary:
        """Consume until stopped (or, with `until_end`, until both topics' current ends are posted)."""
        tps = self._assign()
        ends = {}
        if until_end:
            for t in self.names:
                ends.update({TopicPartition(t, p): o for p, o in end_offsets(self.bootstrap, t).items()})
        last_checks, idle_since = 0.0, time.monotonic()
        while True:
            batch = self.consumer.poll(timeout_ms=500, max_records=5000)
            if batch:
                self._handle(batch)
                idle_since = time.monotonic()
            if time.monotonic() - last_checks > self.checks_every_s:
                self.update_checks()
                last_checks = time.monotonic()
            if until_end and all(self.consumer.position(tp) >= ends.get(tp, 0) for tp in tps):
                break
            if max_idle_s is not None and time.monotonic() - idle_since > max_idle_s:
                break
        self.update_checks()
        return self.summary

    def _handle(self, batch: dict[TopicPartition, list]) -> None:  # type: ignore[type-arg]
        postings: list[tuple[Posting, str]] = []
        offsets = {}
        for tp, records in batch.items():
            for r in records:
                where = f"{tp.topic}@{tp.partition}:{r.offset}"
                try:
                    postings.append((parse(r.value, tp.topic == self.names[1], self.verifier), where))
                except LedgerError as e:
                    self.summary.rejected.append(f"{where}: {e}")
                    self.metrics.rejected.labels(str(e).split(":", 1)[0]).inc()
                    if isinstance(e, Unverified):
                        self.metrics.unverified.labels(e.code).inc()
                        log.error("ledger: %s: not posted: %s", where, e)
                    else:
                        log.warning("ledger: %s: %s", where, e)
            offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
        refused = unreversing(postings, self.book)
        for i in sorted(refused):
            p, where = postings[i]
            self.summary.rejected.append(f"{where}: {NOT_REVERSING} (instruction {p.posting_id})")
            self.metrics.rejected.labels("reverses_instruction_id").inc()
            log.error("ledger: %s: not posted: %s (instruction %s)", where, NOT_REVERSING, p.posting_id)
        postings = [x for i, x in enumerate(postings) if i not in refused]
        codes = self.book.post_many([p for p, _ in postings])
        for (p, where), code in zip(postings, codes, strict=True):
            _count(self.summary, code, where, self.metrics)
            if code == B.CONFLICT:
                log.error("ledger: %s: %s posted before with another amount", where, p.posting_id)
        self.consumer.commit(offsets)  # only after Redis has every posting of the batch
        self.metrics.set_balances(self.book.load_balances(sorted({p.county for p, _ in postings})))

    def update_checks(self) -> None:
        """medassist_fund_warnings from the last December statement there is."""
        flows = self.book.load_flows()
        latest = max((m for months in flows.values() for m in months), default=None)
        if latest is None:
            return
        december = latest if latest.endswith("-12") else f"{int(latest[:4]) - 1}-12"
        for st in fund_statements(flows, december, self.policies):
            for c in st["checks"]:
                self.metrics.warnings.labels(st["county"], c["check"]).set(1 if c["flagged"] else 0)
