"""The 3202 detail rows of a close (institution -> settlement -> net fen of the month), in memory or on disk.

A real month holds a row per settlement, so month-end keeps them in a temporary sqlite file
(`DiskDetails`, from the standard library) rather than in memory: what month-end holds in
memory grows with the institutions, not with the settlements.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any, Protocol

FLUSH_ROWS = 20_000


class DetailLookup(Protocol):
    """Rows of one institution by its code (a dict, the rows on disk, or a stored close's)."""

    def get(self, code: str, default: Any = None) -> Any: ...


class DetailRows(Protocol):
    """The month's own net per institution and settlement (the 3202 rows), wherever they are kept."""

    def add(self, code: str, setl_id: str, fen: int, assisted: bool) -> None: ...

    def settlements(self, code: str) -> int:
        """Distinct settlements of `code` assisted this month."""
        ...

    def get(self, code: str, default: Any = None) -> Any: ...

    def codes(self) -> list[str]: ...


class MemoryDetails(dict[str, dict[str, int]]):
    """Detail rows in a dict (code -> setl_id -> fen): small closes and tests."""

    def __init__(self) -> None:
        super().__init__()
        self._assisted: dict[str, set[str]] = defaultdict(set)

    def add(self, code: str, setl_id: str, fen: int, assisted: bool) -> None:
        rows = self.setdefault(code, {})
        rows[setl_id] = rows.get(setl_id, 0) + fen
        if assisted:
            self._assisted[code].add(setl_id)

    def settlements(self, code: str) -> int:
        return len(self._assisted.get(code, ()))

    def codes(self) -> list[str]:
        return sorted(self)


class DiskDetails:
    """The same rows in a temporary sqlite file, written in batches; read per institution."""

    def __init__(self, workdir: str | Path | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="medassist-monthend-", dir=workdir)
        self.db = sqlite3.connect(Path(self._dir.name) / "details.sqlite")
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;"
            "CREATE TABLE d (code TEXT, sid TEXT, fen INTEGER, assisted INTEGER, PRIMARY KEY (code, sid))"
            " WITHOUT ROWID;")
        self._buf: list[tuple[str, str, int, int]] = []

    def add(self, code: str, setl_id: str, fen: int, assisted: bool) -> None:
        self._buf.append((code, setl_id, fen, int(assisted)))
        if len(self._buf) >= FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            self.db.executemany(
                "INSERT INTO d VALUES (?, ?, ?, ?) ON CONFLICT (code, sid) DO UPDATE SET fen = fen + excluded.fen,"
                " assisted = max(assisted, excluded.assisted)", self._buf)
            self._buf = []

    def settlements(self, code: str) -> int:
        self._flush()
        (n,) = self.db.execute("SELECT count(*) FROM d WHERE code = ? AND assisted = 1", (code,)).fetchone()
        return int(n)

    def get(self, code: str, default: Any = None) -> Any:
        self._flush()
        rows = {sid: fen for sid, fen in self.db.execute("SELECT sid, fen FROM d WHERE code = ?", (code,))}
        return rows if rows else default

    def codes(self) -> list[str]:
        self._flush()
        return [c for (c,) in self.db.execute("SELECT DISTINCT code FROM d ORDER BY code")]

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()
