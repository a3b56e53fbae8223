"""Dead letters: every malformed or refused message, with its reason and its original bytes.

`reason` is the decision's own reason (what replay says too); `reason_code` is a
bounded label for metrics and routing; `detail` adds what the decision cannot
say without the raw bytes or the policy book (the JSON parser's complaint, or
whether a region has no policy at all rather than none in force that day).
Schema: schemas/deadletter.schema.json.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from medassist.engine.decision import Decision
from medassist.engine.policy import PolicyBook

# Refusals of the message itself (not of the person): the platform must look at these.
DEAD_REASONS = frozenset({"unknown_settlement", "already_reversed", "duplicate_settlement",
                          "no_policy_in_force", "beyond_state_window"})


def is_dead(d: Decision) -> bool:
    return d["status"] == "invalid" or (d["status"] == "rejected" and d["reason"] in DEAD_REASONS)


def reason_code(d: Decision) -> str:
    """A bounded label for metrics: the field of an invalid event, or the refusal code."""
    if d["status"] == "invalid":
        return "invalid:" + (d["reason"] or "").split(":")[0].split(" ")[0]
    return str(d["reason"])


def _json_error(value: bytes) -> str | None:
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError as e:
        return f"{e.msg} at byte {e.pos}"
    return None


def explain(d: Decision, value: bytes | None, book: PolicyBook | None) -> tuple[str, str | None]:
    """(reason_code, detail) of a dead decision."""
    code = reason_code(d)
    if value is None:
        return code, None
    if d["reason"] == "event: not valid JSON":
        return code, _json_error(value)
    if d["reason"] == "no_policy_in_force":
        admdvs = d.get("insuplc_admdvs")
        if book is not None and isinstance(admdvs, str) and not book.candidates(admdvs):
            return "unknown_region", f"no policy covers insuplc_admdvs {admdvs}"
        day = d.get("setl_date")
        if day is None:  # an enrollment is judged by the policy in force on 1 January of its year
            day = f"{d.get('year')}-01-01"
        return code, f"no policy of insuplc_admdvs {admdvs} in force on {day}"
    return code, None


def dead_letter_id(topic: str, partition: int, offset: int) -> str:
    """One id per input message: a redelivered message yields the same dead letter."""
    return hashlib.blake2b(f"{topic}|{partition}|{offset}".encode(), digest_size=12).hexdigest()


def build(d: Decision, topic: str, partition: int, offset: int, key: bytes | None,
          value: bytes | None, book: PolicyBook | None = None,
          origin: dict[str, Any] | None = None) -> dict[str, Any]:
    text: str | None = None
    b64: str | None = None
    if value is not None:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            b64 = base64.b64encode(value).decode()
    code, detail = explain(d, value, book)
    letter = {
        "dead_letter_id": dead_letter_id(topic, partition, offset),
        "reason": d["reason"],
        "reason_code": code,
        "detail": detail,
        "status": d["status"],
        "type": d["type"],
        "event_id": d["event_id"],
        "psn_no": d["psn_no"],
        "source": {"topic": topic, "partition": partition, "offset": offset},
        "key": key.decode("utf-8", "replace") if key is not None else None,
        "key_base64": base64.b64encode(key).decode() if key is not None else None,
        "value_text": text,
        "value_base64": b64,
        "value_bytes": None if value is None else len(value),
    }
    if origin is not None:  # the file and line `feed` read it from (record headers)
        letter["origin"] = origin
    return letter
