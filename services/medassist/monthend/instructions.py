"""Payment instructions as month-end sees them: checked, deduplicated, attributed to a month.

Only money a designated institution advanced at its counter (one-stop, `settlement_mode`
`direct`, paid to the institution itself) is owed to it at month-end. Manual claims and
reach-backs are paid to the beneficiary, premium subsidies to a fund, and Qinhuangdao's
resident-insurance cases are cleared through the resident fund (digest "Payees and payers"):
none of these is the institution's money, so none of them is on its statement.

With a verifier (what `medassist month-end` always gives it), an institution-money instruction
counts only when its Ed25519 signature holds (security/signing.py), and a clawback only when the
instruction it names as reversed was counted and it takes back no more than that paid; the
others are set aside with their reasons and listed in the month-end summary.

`Intake` holds a small month in memory; `StreamSource` is what `medassist month-end` reads: the
topic streamed into a temporary sqlite file (deduplicated as it comes, reversals checked there),
then handed to the close one item at a time, so memory does not grow with the instructions.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from medassist.monthend.details import DiskDetails, MemoryDetails
from medassist.security.signing import Verifier

KINDS = ("assistance", "clawback")  # the kinds that can be institution money


class BadInstruction(ValueError):
    """An instruction month-end cannot use; the message names the field."""


@dataclass(frozen=True, slots=True)
class Item:
    """One institution-money instruction, reduced to what a statement needs."""

    instruction_id: str
    kind: str
    amount_fen: int  # negative for a clawback
    setl_id: str
    fixmedins_code: str
    month: str  # YYYY-MM it counts in: settlement date, or reversal date for a clawback
    rules: tuple[tuple[str, int], ...]  # (rule, amount_fen) per line
    reverses: str | None = None  # a clawback: the instruction it takes back
    # (partition, offset) of its first copy in the topic: which close saw it (see closing.taken_by)
    at: tuple[int, int] = field(default=(0, 0), compare=False)


def _month(text: object, name: str) -> str:
    if not isinstance(text, str) or len(text) != 10:
        raise BadInstruction(f"{name}: not a YYYY-MM-DD date")
    try:
        date.fromisoformat(text)
    except ValueError as e:
        raise BadInstruction(f"{name}: not a YYYY-MM-DD date") from e
    return text[:7]


def is_institution_money(ins: dict[str, Any]) -> bool:
    """Advanced by the institution: one-stop (direct) and paid back to that institution."""
    return (ins.get("kind") in KINDS and ins.get("settlement_mode") == "direct"
            and ins.get("payee_kind") == "institution")


def to_item(ins: dict[str, Any], at: tuple[int, int] = (0, 0)) -> Item:
    """Check an institution-money instruction; raises BadInstruction naming the field."""
    iid = ins.get("instruction_id")
    if not isinstance(iid, str) or not iid:
        raise BadInstruction("instruction_id: missing")
    kind = ins["kind"]
    amount = ins.get("amount_fen")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise BadInstruction("amount_fen: not an integer")
    if (kind == "assistance" and amount < 0) or (kind == "clawback" and amount > 0):
        raise BadInstruction("amount_fen: wrong sign for its kind")
    setl_id, code = ins.get("setl_id"), ins.get("fixmedins_code")
    if not isinstance(setl_id, str) or not setl_id:
        raise BadInstruction("setl_id: missing")
    if not isinstance(code, str) or not code:
        raise BadInstruction("fixmedins_code: missing")
    if kind == "clawback":  # a reversal counts in the month it happened, not the settlement's
        month = _month(ins.get("reversed_on") or ins.get("setl_date"), "reversed_on")
    else:
        month = _month(ins.get("setl_date"), "setl_date")
    lines = ins.get("lines")
    if not isinstance(lines, list):
        raise BadInstruction("lines: not a list")
    rules: list[tuple[str, int]] = []
    for ln in lines:
        if not isinstance(ln, dict) or not isinstance(ln.get("rule"), str) \
                or not isinstance(ln.get("amount_fen"), int) or isinstance(ln.get("amount_fen"), bool):
            raise BadInstruction("lines: each needs a rule and an integer amount_fen")
        rules.append((sys.intern(ln["rule"]), ln["amount_fen"]))
    if sum(a for _, a in rules) != amount:
        raise BadInstruction("lines: do not add up to amount_fen")
    # interned: a million items share a few hundred institution codes, months and rule names
    reverses = ins.get("reverses_instruction_id") if kind == "clawback" else None
    if kind == "clawback" and (not isinstance(reverses, str) or not reverses):
        raise BadInstruction("reverses_instruction_id: missing (a clawback names what it reverses)")
    return Item(iid, sys.intern(kind), amount, setl_id, sys.intern(code), sys.intern(month), tuple(rules),
                reverses, at)


NO_ORIGINAL = "reverses_instruction_id: names no counted assistance instruction"
TOO_MUCH = "reverses_instruction_id: takes back more than, or other than, the instruction paid"


def reversal_problem(item: Item, original: Item | None) -> str | None:
    """Why a clawback cannot count against the instruction it names, or None."""
    if original is None or original.kind != "assistance":
        return NO_ORIGINAL
    if -item.amount_fen > original.amount_fen or original.fixmedins_code != item.fixmedins_code:
        return TOO_MUCH
    return None


@dataclass
class Checked:
    """What a reader set aside and why (shared by the in-memory and the streaming intake)."""

    duplicates: int = 0
    conflicts: list[str] = field(default_factory=list)  # same id, different content: a bug upstream
    not_institution_money: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # reason -> count
    verifier: Verifier | None = None  # given: only signed instructions count
    set_aside: list[str] = field(default_factory=list)  # "instruction_id: reason", signature or reversal
    unverified: dict[str, int] = field(default_factory=dict)  # Unverified.code -> count

    def _error(self, reason: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1

    def check(self, raw: bytes | str | dict[str, Any], at: tuple[int, int]) -> Item | None:
        """The institution-money item in one message, or None (counted under its reason); never raises."""
        if isinstance(raw, dict):
            ins: Any = raw
        else:
            try:
                ins = orjson.loads(raw)
            except orjson.JSONDecodeError:
                self._error("not valid JSON")
                return None
        if not isinstance(ins, dict):
            self._error("not a JSON object")
            return None
        if not is_institution_money(ins):
            self.not_institution_money += 1
            return None
        if self.verifier is not None:
            bad = self.verifier.check(ins)
            if bad is not None:
                self.unverified[bad.code] = self.unverified.get(bad.code, 0) + 1
                self.set_aside.append(f"{str(ins.get('instruction_id'))[:40]}: {bad.reason}")
                return None
        try:
            return to_item(ins, at)
        except BadInstruction as e:
            self._error(str(e))
            return None


@dataclass
class Intake(Checked):
    """Institution-money items in memory, deduplicated by instruction_id (small months and tests).

    Each message gets the next position of one partition, as if read from a topic.
    """

    items: dict[str, Item] = field(default_factory=dict)
    position: int = 0

    def add(self, raw: bytes | str | dict[str, Any]) -> None:
        """Take one message; never raises on bad input (it is counted under its reason)."""
        at = (0, self.position)
        self.position += 1
        item = self.check(raw, at)
        if item is None:
            return
        seen = self.items.get(item.instruction_id)
        if seen is None:
            self.items[item.instruction_id] = item
        elif seen == item:
            self.duplicates += 1  # the topics are at-least-once
        else:
            self.conflicts.append(item.instruction_id)

    def add_all(self, raws: Iterable[bytes | str | dict[str, Any]]) -> Intake:
        for r in raws:
            self.add(r)
        return self

    def check_reversals(self) -> Intake:
        """Set aside every clawback whose reversed instruction was not counted, or which takes back
        more than that one paid (the topic is read whole first: partitions interleave)."""
        for iid, item in list(self.items.items()):
            if item.kind != "clawback":
                continue
            why = reversal_problem(item, self.items.get(item.reverses or ""))
            if why is not None:
                del self.items[iid]
                self.set_aside.append(f"{iid}: {why}")
        return self

    @property
    def read_to(self) -> dict[str, int]:
        return {"0": self.position}

    def details(self) -> MemoryDetails:
        return MemoryDetails()

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items.values())


NEW, DUPLICATE, CONFLICT = 0, 1, 2
_COLUMNS = "iid, fp, p, o, kind, amount, sid, code, month, rules, reverses"


class ItemSpool:
    """One pass's items in a temporary sqlite file (standard library), keyed by instruction id:
    deduplication, the reversal check and the read-back in topic order, with flat memory."""

    def __init__(self, workdir: str | Path | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="medassist-monthend-", dir=workdir)
        self.db = sqlite3.connect(Path(self._dir.name) / "items.sqlite")
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;"
            "CREATE TABLE s (iid TEXT PRIMARY KEY, fp INTEGER, p INTEGER, o INTEGER, kind TEXT, amount INTEGER,"
            " sid TEXT, code TEXT, month TEXT, rules TEXT, reverses TEXT) WITHOUT ROWID;")

    def first(self, it: Item) -> int:
        """NEW the first time an id is met (stored), then DUPLICATE (same content) or CONFLICT."""
        fp = hash(it)  # `at` is not part of the hash; the same in every copy within this process
        row = (it.instruction_id, fp, it.at[0], it.at[1], it.kind, it.amount_fen, it.setl_id, it.fixmedins_code,
               it.month, orjson.dumps(it.rules).decode(), it.reverses)
        if self.db.execute(f"INSERT OR IGNORE INTO s ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", row).rowcount:
            return NEW
        (old,) = self.db.execute("SELECT fp FROM s WHERE iid = ?", (it.instruction_id,)).fetchone()
        return DUPLICATE if old == fp else CONFLICT

    def drop_bad_reversals(self) -> list[str]:
        """Set aside (delete) the clawbacks `reversal_problem` refuses; "iid: reason" for each."""
        out = []
        rows = self.db.execute(
            f"SELECT {', '.join('c.' + c for c in _COLUMNS.split(', '))}, o.kind, o.amount, o.code FROM s c"
            " LEFT JOIN s o ON o.iid = c.reverses WHERE c.kind = 'clawback'"
            " AND (o.iid IS NULL OR o.kind != 'assistance' OR -c.amount > o.amount OR o.code != c.code)").fetchall()
        for r in rows:
            item = _item(r[:11])
            original = None if r[11] is None else Item(r[10], r[11], r[12], "", r[13], "", ())
            why = reversal_problem(item, original)
            out.append(f"{item.instruction_id}: {why}")
            self.db.execute("DELETE FROM s WHERE iid = ?", (item.instruction_id,))
        return out

    def items(self) -> Iterator[Item]:
        for r in self.db.execute(f"SELECT {_COLUMNS} FROM s ORDER BY p, o"):
            yield _item(r)

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()


def _item(r: tuple[Any, ...]) -> Item:
    iid, _, p, o, kind, amount, sid, code, month, rules, reverses = r
    return Item(iid, sys.intern(kind), amount, sid, sys.intern(code), sys.intern(month),
                tuple((sys.intern(a), b) for a, b in orjson.loads(rules)), reverses, (p, o))


@dataclass
class StreamIntake(Checked):
    """The same checks and counts as `Intake` over a stream of (partition, offset, message)."""

    items_seen: int = 0

    def items(self, messages: Iterable[tuple[int, int, bytes]]) -> Iterator[Item]:
        """Every counted item once, at its first copy, in topic order (after the whole pass:
        a clawback is checked against what it reverses wherever that sits in the topic)."""
        spool = ItemSpool()
        try:
            for partition, offset, raw in messages:
                item = self.check(raw, (partition, offset))
                if item is None:
                    continue
                got = spool.first(item)
                if got == DUPLICATE:
                    self.duplicates += 1
                elif got == CONFLICT:
                    self.conflicts.append(item.instruction_id)
            self.set_aside += spool.drop_bad_reversals()
            for item in spool.items():
                self.items_seen += 1
                yield item
        finally:
            spool.close()


class StreamSource:
    """Instructions read afresh at every iteration (a close may have to be computed again), with
    their detail rows on disk. `read_to`: the end offsets the messages stop at, if known."""

    def __init__(self, messages: Callable[[], Iterable[tuple[int, int, bytes]]],
                 read_to: dict[str, int] | None = None, verifier: Verifier | None = None) -> None:
        self.messages = messages
        self.read_to = read_to
        self.verifier = verifier
        self.last = StreamIntake(verifier=verifier)

    def __iter__(self) -> Iterator[Item]:
        self.last = StreamIntake(verifier=self.verifier)
        return self.last.items(self.messages())

    def details(self) -> DiskDetails:
        return DiskDetails()


def topic_source(bootstrap: str, topic: str, verifier: Verifier | None = None) -> StreamSource:
    """The instructions topic up to its end offsets now: what this close sees, and records it saw."""
    from medassist.stream.tail import read_until
    from medassist.stream.topics import end_offsets

    end = end_offsets(bootstrap, topic)
    return StreamSource(lambda: read_until(bootstrap, topic, end), {str(p): o for p, o in end.items()}, verifier)
