"""The rest of a month-end: the counties' fund statements (ledger) and the warning push lists.

They belong to other modules (ledger/, monthend/pushlist.py); month-end only gathers them
for the month it closes and writes them next to the institution statements. A failure
here is reported in the summary and never undoes or blocks the close.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import redis

from medassist.stream.topics import Topics


def fund_statements(month: str, bootstrap: str, redis_url: str, topics: Topics) -> tuple[list[dict[str, Any]], str]:
    """Fund statements per county from the Redis ledger, or rebuilt from the topics when it is empty."""
    from medassist.ledger.redis_book import RedisBook
    from medassist.ledger.statements import fund_statements as statements

    book = RedisBook(redis.Redis.from_url(redis_url), topics.prefix)
    if book.counties():
        return statements(book, month), "redis ledger"
    from medassist.ledger.consumer import rebuild

    return statements(rebuild(bootstrap, topics)[0], month), "rebuilt from topics"


def gather(month: str, bootstrap: str, redis_url: str, topics: Topics, out_dir: str | None) -> dict[str, Any]:
    """Summary entries (and files in out_dir) for the fund statements and the push lists."""
    summary: dict[str, Any] = {}
    try:
        funds, source = fund_statements(month, bootstrap, redis_url, topics)
        summary["fund_statements"] = {"counties": len(funds), "source": source,
                                      "flagged": [f"{f['county']}:{c['check']}" for f in funds
                                                  for c in f.get("checks") or [] if c.get("flagged")]}
        if out_dir is not None:
            p = Path(out_dir) / f"fund-statements-{month}.jsonl"
            p.write_bytes(b"".join(orjson.dumps(f) + b"\n" for f in funds))
            summary["fund_statements"]["file"] = str(p)
    except Exception as e:  # the close stands; say what went wrong
        summary["fund_statements"] = {"error": f"{type(e).__name__}: {e}"}
    try:
        from medassist.monthend.pushlist import push_lists, read_warnings, to_csv

        lists = push_lists(read_warnings(bootstrap, topics.monitoring), month)
        summary["push_lists"] = {d: len(rows) for d, rows in lists.lists.items()}
        summary["push_lists"]["rejected"] = lists.rejected[:50]
        if out_dir is not None:
            for dept, rows in lists.lists.items():
                (Path(out_dir) / f"pushlist-{dept}-{month}.csv").write_text(to_csv(rows), encoding="utf-8-sig")
    except Exception as e:
        summary["push_lists"] = {"error": f"{type(e).__name__}: {e}"}
    return summary
