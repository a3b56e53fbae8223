"""Typed events parsed from the wire contract, checked once at the edge.

The JSON Schemas in `schemas/` are the contract's machine-readable form; they
are compiled once (fastjsonschema) and then the few rules a schema cannot say
(amount arithmetic, dates that exist) are checked here. A failure raises
`InvalidEvent` whose message starts with the field it is about.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fastjsonschema
import orjson

from medassist.engine.convert import CONVERTERS
from medassist.engine.dates import FIRST_DAY, LAST_DAY, is_date, shanghai_date
from medassist.engine.money import MAX_FEN, MoneyError, to_fen
from medassist.engine.validator import WRITE_COMMAND, Parse, Spec, compile_parse, inputs_digest
from medassist.schemas import load_schema

FUNDS = ("hifp_pay", "hifmi_pay", "hifob_pay", "cvlserv_pay", "hifes_pay")
MONEY_FIELDS = frozenset({"medfee_sumamt", "inscp_scp_amt", *FUNDS, "contribution", "tier1_contribution"})

# A real event is under 2 KiB; anything this big is abuse, refused before it is parsed.
MAX_EVENT_BYTES = 256 * 1024


def too_large(n: int) -> str:
    return f"event: too large ({n} bytes, limit {MAX_EVENT_BYTES})"


class InvalidEvent(ValueError):
    """The event breaks the contract; str() is the decision's `reason` ("field: why")."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field
        self.why = why


# init=False and a written __init__: mypyc compiles it, not the generated one (which stays interpreted); one per event
@dataclass(slots=True, init=False)
class Settlement:
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
    raw: dict[str, Any]
    year: int  # of setl_date: the year every accumulator is kept in

    def __init__(self, event_id: str, setl_id: str, psn_no: str, admdvs: str, fixmedins_code: str,
                 hosp_lv: str | None, designated: bool, med_type: str, opsp_kind: str | None, dise_codg: str,
                 special_disease: bool, major_disease: bool, gend: str | None, age: int | None, begndate: str,
                 setl_time: str, setl_date: str, medfee_fen: int, inscp_fen: int, fund_fen: int, insured: bool,
                 emergency: bool, referral: bool, location: str, remote_reg_date: str | None, settlement_mode: str,
                 insutype: str, residence: str | None, inpatient_rated: bool, raw: dict[str, Any], year: int) -> None:
        self.event_id = event_id
        self.setl_id = setl_id
        self.psn_no = psn_no
        self.admdvs = admdvs
        self.fixmedins_code = fixmedins_code
        self.hosp_lv = hosp_lv
        self.designated = designated
        self.med_type = med_type
        self.opsp_kind = opsp_kind
        self.dise_codg = dise_codg
        self.special_disease = special_disease
        self.major_disease = major_disease
        self.gend = gend
        self.age = age
        self.begndate = begndate
        self.setl_time = setl_time
        self.setl_date = setl_date
        self.medfee_fen = medfee_fen
        self.inscp_fen = inscp_fen
        self.fund_fen = fund_fen
        self.insured = insured
        self.emergency = emergency
        self.referral = referral
        self.location = location
        self.remote_reg_date = remote_reg_date
        self.settlement_mode = settlement_mode
        self.insutype = insutype
        self.residence = residence
        self.inpatient_rated = inpatient_rated
        self.raw = raw
        self.year = year

    @property
    def inpatient(self) -> bool:
        return self.med_type.startswith("2")


@dataclass(slots=True)
class Eligibility:
    event_id: str
    psn_no: str
    admdvs: str
    category: str
    action: str
    reported_at: str
    dibao_class: str | None
    applied_at: str | None
    residence: str | None


@dataclass(slots=True)
class Reversal:
    event_id: str
    setl_id: str
    psn_no: str
    admdvs: str
    setl_time: str | None


@dataclass(slots=True)
class Enrollment:
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

_REQUIRED = re.compile(r"must contain \[(.*?)\] properties")


def _validator(name: str) -> Callable[[dict[str, Any]], Any]:
    return fastjsonschema.compile(load_schema(name))  # type: ignore[no-any-return]


KINDS = ("settlement", "eligibility", "reversal", "enrollment")
_VALIDATORS = {n: _validator(n) for n in KINDS}
# The converted fields each kind's builder takes, in this order.
_OUTPUTS = {
    "settlement": ("setl_time", "medfee_sumamt", "inscp_scp_amt", *FUNDS, "begndate", "remote_reg_date"),
    "eligibility": ("reported_at", "applied_at"),
    "reversal": ("setl_time",),
    "enrollment": ("contribution", "tier1_contribution", "enrolled_at"),
}


def fused_specs() -> dict[str, Spec]:
    """What validator.compile_parse makes each kind's fused check-and-convert from."""
    return {n: (load_schema(n), CONVERTERS, _OUTPUTS[n]) for n in KINDS}


def _fused() -> dict[str, Parse | None]:
    """The generated module's functions (compiled with the engine) while it matches the schemas; else exec'd ones."""
    specs = fused_specs()
    try:
        from medassist.engine import checks_generated
    except ImportError:  # e.g. it names a converter convert.py no longer has
        stale = "cannot be imported"
    else:
        if checks_generated.INPUTS == inputs_digest(specs) and set(checks_generated.PARSERS) == set(KINDS):
            return {n: checks_generated.PARSERS[n] for n in KINDS}
        stale = "was generated from other schemas"
    warnings.warn(f"medassist.engine.checks_generated {stale}: using slower exec'd checks; run {WRITE_COMMAND}",
                  RuntimeWarning, stacklevel=2)
    return {n: compile_parse(*specs[n]) for n in KINDS}


# Fused check-and-convert for the common case; on a "not sure" fastjsonschema decides and names the field,
# and the slow converters below name what else is wrong (see validator.py, convert.py).
_FAST = _fused()


def _schema_error(exc: fastjsonschema.JsonSchemaValueException, kind: str,
                  obj: dict[str, Any]) -> InvalidEvent:
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
        if exc.rule_definition == _MONEY_PATTERN:
            try:
                to_fen(exc.value)
            except MoneyError as e:
                why = str(e)
    return InvalidEvent(field.split("[")[0], why or "invalid")


_MONEY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{0,2})?$"
_PATTERN_WHY = {
    _MONEY_PATTERN: "not a decimal amount",
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "not a YYYY-MM-DD date",
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$":
        "not an ISO 8601 time with offset",
    r"^[\x21-\x7e]+$": "not printable ASCII without spaces",
    r"^[0-9]{6}$": "not a six-digit administrative division code",
}


def fingerprint(obj: dict[str, Any]) -> str:
    """Content hash of an event, to tell a redelivery from a clash of event ids."""
    try:
        text = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        # Nested deeper than orjson writes (it reads deeper): an extra field, which the contract ignores.
        try:
            text = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
        except (RecursionError, ValueError):
            raise InvalidEvent("event", "nested too deeply") from None
    return hashlib.blake2b(text, digest_size=8).hexdigest()


def _fen(d: dict[str, Any], key: str) -> int:
    v = d.get(key)
    if v is None:
        return 0
    if v.__class__ is str and len(v) <= 11:
        # The schema has vetted the digits (<= 12 before the point, <= 2 after): the common case.
        whole, _, frac = v.partition(".")
        fen = int(whole) * 100 + (int(frac) * (10 if len(frac) == 1 else 1) if frac else 0)
        if fen <= MAX_FEN:
            return fen
    try:
        return to_fen(v)
    except MoneyError as e:
        raise InvalidEvent(key, str(e)) from None


def _date(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if not is_date(v):
        raise InvalidEvent(key, "not a calendar date")
    if not FIRST_DAY <= v <= LAST_DAY:
        raise InvalidEvent(key, f"out of range ({FIRST_DAY} to {LAST_DAY})")
    return str(v)


def _time_date(ts: str, key: str) -> str:
    """The Shanghai date of an event time, or InvalidEvent naming `key`."""
    try:
        day = shanghai_date(ts)
    except ValueError:
        raise InvalidEvent(key, "not an ISO 8601 time with offset") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidEvent(key, f"out of range ({FIRST_DAY} to {LAST_DAY})")
    return day


def normalise_icd(code: str | None) -> str:
    """'c50.901' -> 'C50901': upper case, dots and spaces dropped (prefix matching follows)."""
    if not code:
        return ""
    return code.upper().replace(".", "").replace(" ", "")


def parse_event(obj: object) -> Event:
    """A wire object (already JSON-decoded) to a typed event, or InvalidEvent."""
    if not isinstance(obj, dict):
        raise InvalidEvent("event", "not a JSON object")
    kind = obj.get("type")
    if kind.__class__ is not str or kind not in _VALIDATORS:
        raise InvalidEvent("type", f"unknown event type {kind!r}")
    fast = _FAST[kind]
    conv = None if fast is None else fast(obj)
    if conv is None:
        try:
            _VALIDATORS[kind](obj)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise _schema_error(exc, kind, obj) from None
    psn_no = obj["psn_no"]
    if "{" in psn_no or "}" in psn_no:  # Redis keys use {psn_no} as their hash tag
        raise InvalidEvent("psn_no", "contains { or }")
    if kind == "settlement":
        return _settlement(obj, conv or _settlement_values(obj))
    if kind == "eligibility":
        return _eligibility(obj, conv or (_date(obj, "reported_at"), _date(obj, "applied_at")))
    if kind == "reversal":
        return _reversal(obj, conv or (_setl_time(obj),))
    return _enrollment(obj, conv or _enrollment_values(obj))


def _setl_time(d: dict[str, Any]) -> str | None:
    ts = d.get("setl_time")
    return None if ts is None else _time_date(ts, "setl_time")


def _settlement_values(d: dict[str, Any]) -> tuple[Any, ...]:
    """What the fused check would have converted, each error naming its field in the same order."""
    setl_date = _time_date(d["setl_time"], "setl_time")
    medfee, inscp = _fen(d, "medfee_sumamt"), _fen(d, "inscp_scp_amt")
    funds = [_fen(d, k) for k in FUNDS]
    if inscp > medfee:
        raise InvalidEvent("inscp_scp_amt", "more than medfee_sumamt")
    if sum(funds) > inscp:
        raise InvalidEvent("inscp_scp_amt", "less than the fund payments on it")
    begndate = _date(d, "begndate")
    if begndate is not None and begndate > setl_date:
        raise InvalidEvent("begndate", "after the settlement date")
    return (setl_date, medfee, inscp, *funds, begndate, _date(d, "remote_reg_date"))


def _settlement(d: dict[str, Any], conv: tuple[Any, ...]) -> Settlement:
    setl_date, medfee, inscp, f1, f2, f3, f4, f5, begndate, remote = conv
    medfee = medfee or 0  # absent converts to None
    inscp = inscp or 0
    funds = (f1 or 0) + (f2 or 0) + (f3 or 0) + (f4 or 0) + (f5 or 0)
    if inscp > medfee:
        raise InvalidEvent("inscp_scp_amt", "more than medfee_sumamt")
    if funds > inscp:
        raise InvalidEvent("inscp_scp_amt", "less than the fund payments on it")
    begndate = begndate or setl_date
    if begndate > setl_date:
        raise InvalidEvent("begndate", "after the settlement date")
    g = d.get
    hosp_lv = g("hosp_lv")
    return Settlement(
        d["event_id"], d["setl_id"], d["psn_no"], d["insuplc_admdvs"], d["fixmedins_code"],
        hosp_lv if hosp_lv is None or hosp_lv.__class__ is str else str(int(hosp_lv)),
        g("designated", True), d["med_type"], g("opsp_kind"), normalise_icd(g("dise_codg")),
        g("special_disease", False), g("major_disease", False), g("gend"), _integer(g("age")), begndate,
        d["setl_time"], setl_date, medfee, inscp, funds, g("insured", True), g("emergency", False),
        g("referral", False), g("location", "local"), remote, g("settlement_mode", "direct"),
        g("insutype", "390"), g("residence"), g("inpatient_rated", False), d, int(setl_date[:4]),
    )


def _integer(v: Any) -> Any:
    """A JSON integer as an int: the schema's "integer" also takes 2024.0, which must count as 2024
    (one year's accumulators, one duplicate check) and be echoed as 2024."""
    return v if v is None or v.__class__ is int else int(v)


def _eligibility(d: dict[str, Any], conv: tuple[Any, ...]) -> Eligibility:
    reported, applied = conv
    assert reported is not None
    if applied is not None and applied > reported:
        raise InvalidEvent("applied_at", "after reported_at (the approval)")
    return Eligibility(d["event_id"], d["psn_no"], d["insuplc_admdvs"], d["category"], d["action"],
                       reported, d.get("dibao_class"), applied, d.get("residence"))


def _reversal(d: dict[str, Any], conv: tuple[Any, ...]) -> Reversal:
    return Reversal(d["event_id"], d["setl_id"], d["psn_no"], d["insuplc_admdvs"], d.get("setl_time"))


def _enrollment_values(d: dict[str, Any]) -> tuple[Any, ...]:
    contribution = _fen(d, "contribution")
    tier1 = _fen(d, "tier1_contribution") if d.get("tier1_contribution") is not None else None
    return contribution, tier1, _date(d, "enrolled_at")


def _enrollment(d: dict[str, Any], conv: tuple[Any, ...]) -> Enrollment:
    contribution, tier1, enrolled = conv
    year = _integer(d["year"])
    if enrolled is not None and int(enrolled[:4]) not in (year, year - 1):
        raise InvalidEvent("enrolled_at", "not in the contribution year or the year before")
    return Enrollment(d["event_id"], d["psn_no"], d["insuplc_admdvs"], year, d["insutype"],
                      _integer(d.get("tier", 1)), contribution, tier1, enrolled, d.get("residence"))
