"""engine/checks_generated.py is validator.compile_parse's output as a module mypyc compiles: it must be current.

- The committed text is byte for byte what `python3 -m medassist.engine.validator --write` makes of the current
  schemas (a schema change without regenerating fails here), and events.py uses its functions.
- Its functions give exactly what the exec'd ones give, on hostile mutations of valid events of every kind
  (test_fused_parse.py then compares the fused path, now these functions, with the full path).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from medassist.bench.generate import population
from medassist.engine import checks_generated, events, validator
from test_fused_parse import EDGES
from test_validation import GOOD_OF, HOSTILE


def test_the_committed_module_is_what_the_schemas_give() -> None:
    text = validator.module_source(events.fused_specs())
    committed = validator.GENERATED.read_text(encoding="utf-8")
    assert committed == text, f"engine/checks_generated.py is stale: run {validator.WRITE_COMMAND} and rebuild"
    assert validator.main(["--check"]) == 0


def test_events_uses_the_generated_functions() -> None:
    assert checks_generated.INPUTS == validator.inputs_digest(events.fused_specs())
    for kind in events.KINDS:
        assert events._FAST[kind] is checks_generated.PARSERS[kind], kind


def test_the_digest_notices_a_schema_a_converter_or_an_output_changing() -> None:
    specs = events.fused_specs()
    digest = validator.inputs_digest(specs)
    assert validator.inputs_digest(events.fused_specs()) == digest
    schema, converters, outputs = specs["settlement"]
    looser = copy.deepcopy(schema)
    looser["properties"]["age"]["maximum"] = 151
    assert validator.inputs_digest({**specs, "settlement": (looser, converters, outputs)}) != digest
    other = {**converters, next(iter(converters)): repr}
    assert validator.inputs_digest({**specs, "settlement": (schema, other, outputs)}) != digest
    assert validator.inputs_digest({**specs, "settlement": (schema, converters, outputs[:-1])}) != digest


@pytest.mark.parametrize("kind", sorted(GOOD_OF))
def test_the_generated_function_gives_what_the_exec_d_one_gives(kind: str) -> None:
    generated = checks_generated.PARSERS[kind]
    exec_d = validator.compile_parse(*events.fused_specs()[kind])
    assert exec_d is not None
    good_one = GOOD_OF[kind]
    assert generated(dict(good_one)) == exec_d(dict(good_one)) is not None
    fields = sorted({*good_one, *events.load_schema(kind)["properties"]})

    @settings(max_examples=400, deadline=None)
    @given(st.dictionaries(st.sampled_from(fields), st.one_of(HOSTILE, EDGES), min_size=1, max_size=3),
           st.sets(st.sampled_from(fields), max_size=2))
    def same(changes: dict[str, Any], drop: set[str]) -> None:
        obj = {k: v for k, v in {**good_one, **changes}.items() if k not in drop}
        assert generated(dict(obj)) == exec_d(dict(obj)), obj

    same()


def test_good_events_pass_the_generated_functions() -> None:
    seen = set()
    for ev in population(60, seed=5):
        assert checks_generated.PARSERS[ev["type"]](ev) is not None, ev
        seen.add(ev["type"])
    assert seen == set(events.KINDS)
