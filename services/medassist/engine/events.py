"""Typed events from the wire: decoded and checked once at the edge.

`decode_event` turns one JSON message into an engine event in two steps:
- msgspec decodes it into a wire Struct (wire.py), checking all the JSON Schema says;
- `_to_event` checks what a schema cannot say (dates that exist, amount arithmetic),
  turns yuan text into integer fen and names fields as the engine reads them.

A message either step refuses raises `InvalidEvent`, whose message starts with the field
it is about. Those words are part of the contract (decisions and dead letters carry
them), and msgspec words its errors its own way: for a refused message only, the schema
is run once more with fastjsonschema, whose error names the field and the rule in the
words decisions have always used.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import fastjsonschema
import msgspec
import orjson

from medassist.engine import wire
from medassist.engine.dates import FIRST_DAY, LAST_DAY, is_date, shanghai_date
from medassist.engine.money import MAX_FEN, MoneyError, to_fen
from medassist.schemas import load_schema

FUNDS = ("hifp_pay", "hifmi_pay", "hifob_pay", "cvlserv_pay", "hifes_pay")
MONEY_FIELDS = frozenset({"medfee_sumamt", "inscp_scp_amt", *FUNDS, "contribution", "tier1_contribution"})

# A real event is under 2 KiB; anything this big is abuse, refused before it is parsed.
MAX_EVENT_BYTES = 256 * 1024


def too_large(n: int) -> str:
    return f"event: too large ({n} bytes, limit {MAX_EVENT_BYTES})"


class InvalidEvent(ValueError):
    """The event breaks the contract; str() is the decision's `reason` ("field: why").

    `obj` is the message as a JSON value when it could be read (the decision keeps its ids)."""

    def __init__(self, field: str, why: str, obj: object = None) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field
        self.why = why
        self.obj = obj


class Settlement(msgspec.Struct, gc=False):
    event_id: str
    setl_id: str
    psn_no: str
    admdvs: str
    fixmedins_code: str
    hosp_lv: str | None
    designated: bool
    med_type: str
    opsp_kind: str | None
    dise_codg: str  # normalised ICD-10: upper case, no dots
    special_disease: bool
    major_disease: bool
    gend: str | None
    age: int | None
    begndate: str
    setl_time: str
    setl_date: str
    medfee_fen: int
    inscp_fen: int
    fund_fen: int  # basic + critical illness + other insurance funds
    insured: bool
    emergency: bool
    referral: bool
    location: str
    remote_reg_date: str | None
    settlement_mode: str
    insutype: str
    residence: str | None
    inpatient_rated: bool
    raw: str  # the message as it came: a policy that reaches back decides it again later
    year: int  # of setl_date: the year every accumulator is kept in

    @property
    def inpatient(self) -> bool:
        return self.med_type.startswith("2")


class Eligibility(msgspec.Struct, gc=False):
    event_id: str
    psn_no: str
    admdvs: str
    category: str
    action: str
    reported_at: str
    dibao_class: str | None
    applied_at: str | None
    residence: str | None


class Reversal(msgspec.Struct, gc=False):
    event_id: str
    setl_id: str
    psn_no: str
    admdvs: str
    setl_time: str | None


class Enrollment(msgspec.Struct, gc=False):
    event_id: str
    psn_no: str
    admdvs: str
    year: int
    insutype: str
    tier: int
    contribution_fen: int
    tier1_contribution_fen: int | None  # None when the event has none (Kaizhou tier 2 needs it)
    enrolled_at: str | None
    residence: str | None


Event = Settlement | Eligibility | Reversal | Enrollment
KINDS = wire.KINDS


# ---- one message in ---------------------------------------------------------------------------------------------


def decode_event(data: bytes) -> tuple[Event, str]:
    """(event, content fingerprint) of one JSON message, or InvalidEvent."""
    if len(data) > MAX_EVENT_BYTES:
        raise InvalidEvent("event", f"too large ({len(data)} bytes, limit {MAX_EVENT_BYTES})")
    try:
        w = wire.decoder.decode(data)
        return _to_event(w, data), fingerprint(data)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, _SchemaRefuses) as e:
        raise _explain(data, str(e)) from None
    except InvalidEvent as e:
        e.obj = orjson.loads(data)  # the decision keeps the ids it can find
        raise


def parse_event(obj: dict[str, Any] | bytes | str) -> Event:
    """A wire object (a dict, or its JSON text) to a typed event, or InvalidEvent."""
    if isinstance(obj, str):
        obj = obj.encode()
    elif not isinstance(obj, bytes):
        obj = json_bytes(obj)
    return decode_event(obj)[0]


def fingerprint(data: bytes) -> str:
    """Hash of a message's bytes, to tell a redelivery (the same bytes again) from a clash of event ids."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def json_bytes(obj: object) -> bytes:
    """The JSON text of a wire object held as Python data."""
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError:
        # Nested deeper than orjson writes (it reads deeper): an extra field, which the contract ignores.
        try:
            return json.dumps(obj, separators=(",", ":")).encode()
        except (RecursionError, ValueError, TypeError):
            raise InvalidEvent("event", "nested too deeply", obj) from None


# ---- what a schema cannot say -----------------------------------------------------------------------------------


class _SchemaRefuses(Exception):
    """An amount the schema refuses (msgspec hands amounts over as raw JSON text): explain the event."""


def _to_event(w: wire.EventIn, data: bytes) -> Event:
    if isinstance(w, wire.SettlementIn):
        return _settlement(w, data)
    if "{" in w.psn_no or "}" in w.psn_no:  # Redis keys use {psn_no} as their hash tag
        raise InvalidEvent("psn_no", "contains { or }")
    if isinstance(w, wire.EligibilityIn):
        reported, applied = _day(w.reported_at, "reported_at"), _day(w.applied_at, "applied_at")
        assert reported is not None
        if applied is not None and applied > reported:
            raise InvalidEvent("applied_at", "after reported_at (the approval)")
        return Eligibility(w.event_id, w.psn_no, w.insuplc_admdvs, w.category, w.action, reported,
                           w.dibao_class, applied, w.residence)
    if isinstance(w, wire.ReversalIn):
        if w.setl_time is not None:
            _time_date(w.setl_time, "setl_time")
        return Reversal(w.event_id, w.setl_id, w.psn_no, w.insuplc_admdvs, w.setl_time)
    return _enrollment(w)


def _settlement(w: wire.SettlementIn, data: bytes) -> Settlement:
    amounts = (_amount(w.medfee_sumamt), _amount(w.inscp_scp_amt), _amount(w.hifp_pay), _amount(w.hifmi_pay),
               _amount(w.hifob_pay), _amount(w.cvlserv_pay), _amount(w.hifes_pay))
    if None in amounts:
        raise _SchemaRefuses("an amount")
    if "{" in w.psn_no or "}" in w.psn_no:
        raise InvalidEvent("psn_no", "contains { or }")
    setl_date = _time_date(w.setl_time, "setl_time")
    medfee = _fen(amounts[0], "medfee_sumamt")
    inscp = _fen(amounts[1], "inscp_scp_amt")
    funds = 0
    for amount, name in zip(amounts[2:], FUNDS, strict=True):
        funds += _fen(amount, name)
    if inscp > medfee:
        raise InvalidEvent("inscp_scp_amt", "more than medfee_sumamt")
    if funds > inscp:
        raise InvalidEvent("inscp_scp_amt", "less than the fund payments on it")
    begndate = _day(w.begndate, "begndate") or setl_date
    if begndate > setl_date:
        raise InvalidEvent("begndate", "after the settlement date")
    remote = _day(w.remote_reg_date, "remote_reg_date")
    hosp_lv: str | float | None = w.hosp_lv
    return Settlement(
        w.event_id, w.setl_id, w.psn_no, w.insuplc_admdvs, w.fixmedins_code,
        hosp_lv if hosp_lv is None or hosp_lv.__class__ is str else str(int(hosp_lv)),
        w.designated, w.med_type, w.opsp_kind, normalise_icd(w.dise_codg), w.special_disease, w.major_disease,
        w.gend, None if w.age is None else int(w.age), begndate, w.setl_time, setl_date, medfee, inscp, funds,
        w.insured, w.emergency, w.referral, w.location, remote, w.settlement_mode, w.insutype, w.residence,
        w.inpatient_rated, data.decode(), int(setl_date[:4]),
    )


def _enrollment(w: wire.EnrollmentIn) -> Enrollment:
    amount, tier1_amount = _amount(w.contribution), _amount(w.tier1_contribution)
    if amount is None or tier1_amount is None:
        raise _SchemaRefuses("an amount")
    contribution = _fen(amount, "contribution")
    tier1 = _fen(tier1_amount, "tier1_contribution") if w.tier1_contribution else None
    enrolled = _day(w.enrolled_at, "enrolled_at")
    year = int(w.year)  # 2024.0 counts as 2024: one year's accumulators, one duplicate check
    if enrolled is not None and int(enrolled[:4]) not in (year, year - 1):
        raise InvalidEvent("enrolled_at", "not in the contribution year or the year before")
    return Enrollment(w.event_id, w.psn_no, w.insuplc_admdvs, year, w.insutype, int(w.tier), contribution, tier1,
                      enrolled, w.residence)


_MONEY = re.compile(wire.MONEY_PATTERN[:-1] + r"\Z")


def _yuan(b: bytes) -> str | None:
    """The decimal text of an amount as the wire wrote it ("" when absent), or None when the schema refuses it:
    a string must match the schema's pattern, a number must not be below zero."""
    if not b:
        return ""
    first = b[0]
    if first == 0x22:  # a string
        text = b[1:-1].decode() if b"\\" not in b else msgspec.json.decode(b)
        return text if _MONEY.match(text) else None
    if first == 0x2D:  # -: below zero unless it is -0 (which then reads as a negative amount)
        try:
            return b.decode() if Decimal(b.decode()) == 0 else None
        except InvalidOperation:
            return None
    if 0x30 <= first <= 0x39:  # a JSON number (msgspec has checked its syntax)
        return b.decode()
    return None  # true, false, null, an object, an array


def _to_fen(text: str) -> int | str:
    """Yuan text (as _yuan gives it) to fen, exactly; or why the contract refuses it."""
    if not text:
        return 0
    whole, dot, frac = text.partition(".")
    if len(frac) <= 2 and whole.isdigit() and whole.isascii() and (not frac or frac.isdigit()):
        fen = int(whole) * 100 + (int(frac) * (10 if len(frac) == 1 else 1) if frac else 0)
    else:  # more decimals, an exponent, -0: the long way
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        try:
            fen = to_fen(text)
        except MoneyError as e:
            return str(e)
    return fen if fen <= MAX_FEN else "absurd amount (above 10,000,000.00 yuan)"


# Amount as the wire wrote it -> fen, or why it is refused (str), or None when the schema refuses it. Most amounts
# are "0" or repeat; bounded, so that hostile input cannot grow it for ever.
_AMOUNTS: dict[bytes, int | str | None] = {}


def _amount(raw: msgspec.Raw) -> int | str | None:
    b = bytes(raw)
    got = _AMOUNTS.get(b, _AMOUNTS)
    if got is _AMOUNTS:
        text = _yuan(b)
        got = None if text is None else _to_fen(text)
        if len(_AMOUNTS) < 200_000:
            _AMOUNTS[b] = got
    return got  # type: ignore[return-value]


def _fen(amount: int | str | None, field: str) -> int:
    if amount.__class__ is int:
        return amount  # type: ignore[return-value]
    raise InvalidEvent(field, str(amount))


# A year of events names a few hundred days: remember which texts are usable days (bounded against hostile input).
_DAYS: dict[str, str | None] = {}


def _day_why(v: str) -> str | None:
    """Why a YYYY-MM-DD text is not a usable day, or None."""
    why = _DAYS.get(v, "")
    if why == "":
        why = None if is_date(v) and FIRST_DAY <= v <= LAST_DAY else (
            "not a calendar date" if not is_date(v) else f"out of range ({FIRST_DAY} to {LAST_DAY})")
        if len(_DAYS) < 100_000:
            _DAYS[v] = why
    return why


def _day(v: str | None, field: str) -> str | None:
    if v is None:
        return None
    why = _day_why(v)
    if why is not None:
        raise InvalidEvent(field, why)
    return v


def _time_date(ts: str, field: str) -> str:
    """The Shanghai date of an event time, or InvalidEvent naming `field`."""
    if len(ts) == 25 and ts.endswith("+08:00"):  # the common case, digits already checked by the wire pattern
        clock = ts[11:19]
        if clock < "24" and clock[3:5] < "60" and clock[6:] < "60":
            day = ts[:10]
            if _day_why(day) is None:
                return day
    try:
        day = shanghai_date(ts)
    except ValueError:
        raise InvalidEvent(field, "not an ISO 8601 time with offset") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidEvent(field, f"out of range ({FIRST_DAY} to {LAST_DAY})")
    return day


def normalise_icd(code: str | None) -> str:
    """'c50.901' -> 'C50901': upper case, dots and spaces dropped (prefix matching follows)."""
    if not code:
        return ""
    return code.upper().replace(".", "").replace(" ", "")


# ---- why a message was refused ----------------------------------------------------------------------------------

_SCHEMAS = {kind: fastjsonschema.compile(load_schema(kind)) for kind in KINDS}
_REQUIRED = re.compile(r"must contain \[(.*?)\] properties")
_PATTERN_WHY = {
    wire.MONEY_PATTERN: "not a decimal amount",
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "not a YYYY-MM-DD date",
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$":
        "not an ISO 8601 time with offset",
    r"^[\x21-\x7e]+$": "not printable ASCII without spaces",
    r"^[0-9]{6}$": "not a six-digit administrative division code",
}
OPSP_REQUIRED = "med_type 14 must carry opsp_kind"


def _explain(data: bytes, refusal: str) -> InvalidEvent:
    """The InvalidEvent of a message msgspec refused, in the contract's words (`refusal`: msgspec's own)."""
    try:
        obj: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        return InvalidEvent("event", "not valid JSON")
    if not isinstance(obj, dict):
        return InvalidEvent("event", "not a JSON object", obj)
    kind = obj.get("type")
    if kind.__class__ is not str or kind not in _SCHEMAS:
        return InvalidEvent("type", f"unknown event type {kind!r}", obj)
    try:
        _SCHEMAS[kind](obj)
    except fastjsonschema.JsonSchemaValueException as exc:
        e = _schema_error(exc, kind, obj)
        e.obj = obj
        return e
    # The schema takes it: then msgspec refused what the schema cannot say, or what it cannot read at all.
    try:
        _to_event(wire.decoder.decode(data), data)
    except InvalidEvent as e:
        e.obj = obj
        return e
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, _SchemaRefuses):
        pass
    why = "nested too deeply" if "recursion" in refusal else refusal
    return InvalidEvent("event", why, obj)


def _schema_error(exc: fastjsonschema.JsonSchemaValueException, kind: str, obj: dict[str, Any]) -> InvalidEvent:
    if kind == "settlement" and obj.get("med_type") == "14" and obj.get("opsp_kind") is None and (
            exc.name in ("data", "data.opsp_kind")):
        return InvalidEvent("opsp_kind", OPSP_REQUIRED)  # the schema's if/then: no words of its own
    if _REQUIRED.search(exc.message) and exc.name == "data":
        missing = [k for k in load_schema(kind)["required"] if k not in obj]
        if missing:
            more = f" (also {', '.join(missing[1:])})" if missing[1:] else ""
            return InvalidEvent(missing[0], "missing" + more)
    field = (exc.name or "data").removeprefix("data").lstrip(".") or "event"
    why = exc.message.removeprefix(exc.name or "").strip() if exc.name else exc.message
    if exc.rule == "minimum" and field in MONEY_FIELDS:
        why = "negative amount"
    if exc.rule == "pattern" and isinstance(exc.value, str):  # say what is wrong, not the regex
        why = _PATTERN_WHY.get(exc.rule_definition, why)
        if exc.rule_definition == wire.MONEY_PATTERN:
            try:
                to_fen(exc.value)
            except MoneyError as e:
                why = str(e)
    return InvalidEvent(field.split("[")[0], why or "invalid")
