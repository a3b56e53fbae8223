"""`medassist feed`: produce a JSONL file to the input topic, as the provincial platform would.

Keyed by psn_no so that one person's events stay in one partition, in order. A
line that is not JSON is still sent (unkeyed): the workers dead-letter it with
its reason, which is what would happen to the platform's bad message. Each record
carries its file and line number in headers, which a dead letter copies (`origin`),
so a refused line can be found in the file it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import orjson

from medassist.progress import Progress, count_lines
from medassist.security.kafka import kafka_options

SOURCE_FILE = "medassist-source-file"  # record headers: where the line came from
SOURCE_LINE = "medassist-source-line"


def key_of(line: bytes) -> bytes | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    psn = obj.get("psn_no") if isinstance(obj, dict) else None
    return psn.encode() if isinstance(psn, str) and psn else None


def origin_of(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, object] | None:
    """{"file", "line"} from a fed record's headers; None when it did not come from `feed`."""
    if not headers:
        return None
    h = {k: v for k, v in headers}
    if SOURCE_FILE not in h or SOURCE_LINE not in h:
        return None
    try:
        return {"file": h[SOURCE_FILE].decode("utf-8", "replace"), "line": int(h[SOURCE_LINE])}
    except ValueError:
        return None


def feed_lines(bootstrap: str, topic: str, lines: Iterable[bytes], source: str | None = None,
               progress: Progress | None = None) -> int:
    """Produce each non-blank line; returns how many. `source` names the file in the headers."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=5,
                             batch_size=512 * 1024, enable_idempotence=True, **kafka_options())
    n = 0
    src = source.encode() if source is not None else None
    try:
        for lineno, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            headers = [(SOURCE_FILE, src), (SOURCE_LINE, str(lineno).encode())] if src is not None else None
            producer.send(topic, value=line, key=key_of(line), headers=headers)
            n += 1
            if progress is not None and not n % 256:
                progress.set(n)
        producer.flush()
    finally:
        producer.close()
    if progress is not None:
        progress.set(n)
    return n


def feed_file(bootstrap: str, topic: str, path: str, progress: bool = True) -> int:
    p = Progress("feed", total=count_lines(path)) if progress else None
    try:
        with open(path, "rb") as f:
            return feed_lines(bootstrap, topic, f, source=path, progress=p)
    finally:
        if p is not None:
            p.close()
