"""Dead letters: every malformed or refused message, with its reason and its original bytes."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from medassist.engine.decision import Decision

# Refusals of the message itself (not of the person): the platform must look at these.
DEAD_REASONS = frozenset({"unknown_settlement", "already_reversed", "duplicate_settlement",
                          "no_policy_in_force"})


def is_dead(d: Decision) -> bool:
    return d["status"] == "invalid" or (d["status"] == "rejected" and d["reason"] in DEAD_REASONS)


def reason_code(d: Decision) -> str:
    """A bounded label for metrics: the field of an invalid event, or the refusal code."""
    if d["status"] == "invalid":
        return "invalid:" + (d["reason"] or "").split(":")[0].split(" ")[0]
    return str(d["reason"])


def build(d: Decision, topic: str, partition: int, offset: int, key: bytes | None,
          value: bytes) -> dict[str, Any]:
    try:
        text: str | None = value.decode("utf-8")
        b64 = None
    except UnicodeDecodeError:
        text, b64 = None, base64.b64encode(value).decode()
    return {
        "dead_letter_id": hashlib.blake2b(f"{topic}|{partition}|{offset}".encode(), digest_size=12).hexdigest(),
        "reason": d["reason"],
        "reason_code": reason_code(d),
        "status": d["status"],
        "event_id": d["event_id"],
        "psn_no": d["psn_no"],
        "source": {"topic": topic, "partition": partition, "offset": offset},
        "key": key.decode("utf-8", "replace") if key is not None else None,
        "value_text": text,
        "value_base64": b64,
    }
