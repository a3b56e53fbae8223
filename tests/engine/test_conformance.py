"""The msgspec decoder (engine/wire.py) and the published JSON Schemas (schemas/) agree.

Every example, valid or not, gets the same verdict from the independent `jsonschema` library
against schemas/<kind>.schema.json and from the decoder: msgspec's decode into the wire Struct,
plus the schema's rules on amounts, which the decoder reads as raw JSON text (events._amount).
The examples: the hostile corpus of the stream tests, the forbidden values of test_validation,
every field of every kind set to values at and past each of its rules, and hypothesis mutations.
What a schema cannot say (dates that exist, amount arithmetic) is not compared here: it is
checked after the decode and tested in test_validation.py.

JSON Schema regexes are ECMA 262, where `$` never matches before a trailing newline; the
`jsonschema` library runs them with Python's `re`, where it does. The validator below runs a
pattern as ECMA does.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema.exceptions import ValidationError
from medassist.engine import events, wire
from medassist.engine.events import InvalidEvent, decode_event, json_bytes, parse_event
from medassist.population import population
from medassist.replay import replay_events
from medassist.schemas import load_schema
from test_validation import FORBIDDEN, GOOD, GOOD_OF, HOSTILE, good

KINDS = sorted(GOOD_OF)


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string"):
        ecma = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern
        if re.search(ecma, instance) is None:
            yield ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": _ecma_pattern})
SCHEMA_OF = {kind: Validator(load_schema(kind)) for kind in KINDS}


def schema_says(data: bytes) -> bool:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str) or obj["type"] not in SCHEMA_OF:
        return False
    return bool(SCHEMA_OF[obj["type"]].is_valid(obj))


MONEY = {"settlement": ("medfee_sumamt", "inscp_scp_amt", *events.FUNDS),
         "enrollment": ("contribution", "tier1_contribution")}


def decoder_says(data: bytes) -> bool:
    try:
        w = wire.decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return False
    kind = type(w).__struct_config__.tag
    return all(events._amount(getattr(w, f)) is not None for f in MONEY.get(str(kind), ()))


def agree(data: bytes) -> bool:
    schema, decoder = schema_says(data), decoder_says(data)
    assert schema == decoder, (data, "schema", schema, "decoder", decoder)
    return schema


# ---- every field at and past each of its rules ------------------------------------------------------------------

COMMON = [None, True, False, 0, 1, -1, 0.5, 2.0, -0.0, 1e300, "", " ", "x", "X y", "é", "P\n", "\t", "a" * 65,
          [], {}, [1], {"a": 1}]


def edge_values(spec: dict[str, Any]) -> list[Any]:
    """Values at and just past each keyword of a property's schema."""
    out = list(COMMON)
    for m in spec.get("enum", []):
        out += [m, str(m), *([float(m), m + 0.5] if isinstance(m, int) and not isinstance(m, bool) else []),
                *([m.upper(), m + " ", m[:-1]] if isinstance(m, str) and m else [])]
    if "const" in spec:
        out += [spec["const"], spec["const"].upper()]
    for key in ("minLength", "maxLength"):
        if key in spec:
            n = spec[key]
            out += ["7" * max(n - 1, 0), "7" * n, "7" * (n + 1)]
    for key in ("minimum", "maximum"):
        if key in spec:
            b = spec[key]
            out += [b, b - 1, b + 1, float(b), b - 0.5, b + 0.5]
    if "pattern" in spec:
        out += ["130300", "13030", "1303001", "130300\n", "２０２３", "2023-05-10", "2023-5-10", "2023-02-30",
                "2023-05-10T10:00:00+08:00", "2023-05-10T10:00:00Z", "2023-05-10T10:00:00.123-01:00",
                "2023-05-10T10:00:00", "2023-05-10 10:00:00+08:00", "2023-05-10T10:00:00+0800", "21", "2", "123456789",
                "390", "39", "3900", "35000.00", "35000.0", "35000.", "35000.005", ".5", "1e5", "123456789012",
                "1234567890123", "-1.00", "+1", "P001", "P 001", "P\x7f", "~!", "tekun", "dibao_edge", "Dibao",
                "1abc", "a" * 40, "a" * 41, "a-b"]
    return out


def field_cases() -> Iterator[tuple[str, str, Any]]:
    for kind in KINDS:
        for name, spec in load_schema(kind)["properties"].items():
            for value in edge_values(spec):
                yield kind, name, value


@pytest.mark.parametrize("kind", KINDS)
def test_every_field_of_every_kind_is_judged_alike_and_each_rule_bites(kind: str) -> None:
    schema = load_schema(kind)
    for name, spec in schema["properties"].items():
        verdicts = set()
        for value in edge_values(spec):
            verdicts.add(agree(orjson.dumps({**GOOD_OF[kind], name: value})))
        if name != "type":  # any value but the const is another kind, or none
            verdicts.add(agree(orjson.dumps({k: v for k, v in GOOD_OF[kind].items() if k != name})))
        # each field's rule is exercised: some value passes, some value is refused
        assert verdicts == {True, False}, (kind, name, verdicts)


def test_the_rules_across_fields_are_judged_alike() -> None:
    # med_type 14 must carry opsp_kind (the schema's if/then)
    for med_type, opsp in [("14", None), ("14", ...), ("14", "chronic"), ("14", "special"), ("14", "x"),
                           ("11", None), ("11", ...), ("140", None)]:
        event = {**GOOD, "med_type": med_type, "opsp_kind": opsp}
        if opsp is ...:
            del event["opsp_kind"]
        assert agree(orjson.dumps(event)) == (med_type != "14" or opsp in ("chronic", "special")), event


# ---- the corpora ----------------------------------------------------------------------------------------------


def test_the_hostile_stream_corpus_is_judged_alike() -> None:
    path = Path(__file__).parents[1] / "stream" / "test_bad_input.py"  # the stream test's hostile messages
    spec = importlib.util.spec_from_file_location("stream_bad_input", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    judged = 0
    for _, _, value, *_ in module.HOSTILE:
        if value is not None:
            agree(value)
            judged += 1
    assert judged >= 25


def test_the_forbidden_values_and_a_generated_population_are_judged_alike() -> None:
    for field, value, _ in FORBIDDEN:
        agree(orjson.dumps(good(**{field: value})))
    kinds = set()
    for ev in population(40, seed=3):
        assert agree(orjson.dumps(ev)), ev
        kinds.add(ev["type"])
    assert kinds == set(KINDS)


EDGES = st.sampled_from([
    "10000000.00", "10000000.01", "9999999.99", 10_000_000, 10_000_001, 0, "0", "0.0", "007.5", "1.5", 1.5,
    "123456789012", "123456789012.3", "1234567890123", "２０２３-05-10", "2023-05-10T10:00:00+08:00",
    "2023-05-10T10:00:00.5+08:00", "2023-05-10T23:30:00-01:00", "2023-05-10T10:00:00Z", "2023-05-10T24:00:00+08:00",
    "2100-12-31", "2101-01-01", "1900-01-01", "2023-05-11", "2022-12-31", "2023-06-01", True, None, 2.0, 3.0,
    2024.0, 2024.5, "14", "chronic", "dibao", "unknown_category",
])


@pytest.mark.parametrize("kind", KINDS)
def test_hypothesis_mutations_are_judged_alike_and_decode_never_crashes(kind: str) -> None:
    good_one = GOOD_OF[kind]
    fields = sorted({*good_one, *load_schema(kind)["properties"]})

    @settings(max_examples=400, deadline=None)
    @given(st.dictionaries(st.sampled_from(fields), st.one_of(HOSTILE, EDGES), min_size=1, max_size=3),
           st.sets(st.sampled_from(fields), max_size=2))
    def same(changes: dict[str, Any], drop: set[str]) -> None:
        obj = {k: v for k, v in {**good_one, **changes}.items() if k not in drop}
        data = json_bytes(obj)  # as replay writes a dict: also integers past 64 bits
        valid = agree(data)
        try:
            decode_event(data)
        except InvalidEvent as e:
            # a message the schema refuses is refused naming a field (or the event as a whole)
            assert e.field in {*fields, "event"}, e
        else:
            assert valid, obj

    same()


# ---- what decoding gives ----------------------------------------------------------------------------------------


def test_a_settlement_decodes_money_and_dates_exactly() -> None:
    s = parse_event({**GOOD_OF["settlement"], "hifob_pay": 12, "cvlserv_pay": "0.5"})
    assert isinstance(s, events.Settlement)
    # 35000.00 yuan; 30000.00; funds 18000.00 + 2000.00 + 12 + 0.50 + 0 yuan
    assert (s.medfee_fen, s.inscp_fen, s.fund_fen) == (3_500_000, 3_000_000, 1_800_000 + 200_000 + 1_200 + 50)
    assert (s.setl_date, s.begndate, s.year) == ("2023-05-10", "2023-05-01", 2023)
    with pytest.raises(InvalidEvent, match="^begndate: after the settlement date$"):
        parse_event({**GOOD_OF["settlement"], "begndate": "2023-05-11"})
    with pytest.raises(InvalidEvent, match="^medfee_sumamt: absurd amount"):
        parse_event({**GOOD_OF["settlement"], "medfee_sumamt": 10_000_001})


@pytest.mark.parametrize(("text", "fen"), [
    (b'"0"', 0), (b"0", 0), (b'"1."', 100), (b'"12.5"', 1250), (b"12.5", 1250), (b"12.50", 1250), (b"1e2", 10000),
    (b"1.5E1", 1500), (b'"10000000.00"', 1_000_000_000), (b"10000000", 1_000_000_000),
    # the exact text decides, never a float: these read as 0.30 or 0.00 through a double
    (b"0.30000000000000001", "more than two decimals"), (b"1e-7", "more than two decimals"),
    (b"0.125", "more than two decimals"), (b"10000000.01", "absurd amount (above 10,000,000.00 yuan)"),
    (b"-0.0", "negative amount"), (b"-1", None), (b'"-1"', None), (b'"1e2"', None), (b'"12.345"', None),
    (b"true", None), (b"null", None), (b'"\\u0031.50"', 150),
])
def test_amounts_are_read_from_their_text(text: bytes, fen: int | str | None) -> None:
    assert events._amount(msgspec.Raw(text)) == fen


def test_med_type_14_without_opsp_kind_is_invalid_naming_opsp_kind() -> None:
    grant = {"type": "eligibility", "event_id": "E-1", "psn_no": "P001", "insuplc_admdvs": "130300",
             "category": "dibao", "action": "grant", "reported_at": "2023-03-04"}
    chronic = {**GOOD, "event_id": "S-14", "setl_id": "S-14", "med_type": "14", "opsp_kind": None}
    absent = {k: v for k, v in chronic.items() if k != "opsp_kind"} | {"event_id": "S-15", "setl_id": "S-15"}
    named = {**chronic, "event_id": "S-16", "setl_id": "S-16", "opsp_kind": "chronic"}
    d = replay_events([grant, chronic, absent, named])
    assert [x["reason"] for x in d[:2]] == ["opsp_kind: med_type 14 must carry opsp_kind"] * 2
    assert [x["status"] for x in d[:2]] == ["invalid", "invalid"] and d[0]["event_id"] == "S-14"
    assert d[2]["status"] != "invalid", d[2]


def test_a_category_is_a_name_not_a_closed_list() -> None:
    # Which categories exist is policy data: a well-formed unknown one is an event, a malformed one is not.
    base = {"type": "eligibility", "event_id": "E-9", "psn_no": "P9", "insuplc_admdvs": "130300",
            "action": "grant", "reported_at": "2023-03-04"}
    ev = parse_event({**base, "category": "martian_settler"})
    assert isinstance(ev, events.Eligibility) and ev.category == "martian_settler"
    for bad in ("Martian", "1st", "a" * 41, "", "dibao-edge", 7):
        with pytest.raises(InvalidEvent, match="^category: "):
            parse_event({**base, "category": bad})
