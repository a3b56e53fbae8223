"""The refusal-code registry, the decision schema's `reason` enum and docs/refusal-codes.md say the same."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
from medassist.engine.vocabulary import POLICY_DIR, decision_reasons, load_refusal_codes
from medassist.policy_commands import refusal_codes_markdown
from medassist.schemas import load_schema

ROOT = Path(__file__).resolve().parents[2]


def test_the_schema_enum_is_the_registry() -> None:
    schema = load_schema("decision")
    codes = decision_reasons(load_refusal_codes())
    assert schema["properties"]["reason"]["anyOf"][0]["enum"] == [None, *codes]
    assert schema["allOf"][0]["else"]["properties"]["reason"]["enum"] == [None, *codes]


def test_the_dead_letter_reason_code_is_the_registry_or_an_invalid_field() -> None:
    schema = load_schema("deadletter")["properties"]["reason_code"]
    assert schema["anyOf"][0]["enum"] == list(load_refusal_codes())
    v = jsonschema.Draft7Validator(schema)
    assert v.is_valid("unknown_region") and v.is_valid("invalid:opsp_kind") and v.is_valid("no_policy_in_force")
    assert not v.is_valid("no_policy") and not v.is_valid("invalid:")


def test_the_docs_page_is_made_from_the_registry() -> None:
    assert (ROOT / "docs" / "refusal-codes.md").read_text(encoding="utf-8") == refusal_codes_markdown()


def test_every_code_the_engine_writes_is_in_the_registry() -> None:
    # Every string literal the engine hands over as a reason (refusals, manual review, not_eligible).
    codes = set(load_refusal_codes())
    engine = ROOT / "services" / "medassist" / "engine"
    found = set()
    for path in [*engine.glob("*.py"), *engine.glob("rules/*.py"), ROOT / "services/medassist/stream/deadletter.py"]:
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'_refuse\([^)]*?"(?:rejected|not_eligible|manual_review)", "([a-z_0-9]+)"', text))
        found |= set(re.findall(r'refuse\("[a-z_]+", "([a-z_0-9]+)"', text))
        found |= set(re.findall(r'reason="([a-z_0-9]+)"', text))
        found |= set(re.findall(r'ManualReview\("([a-z_0-9]+)"\)', text))
        found |= set(re.findall(r'refusal="([a-z_0-9]+)"', text))
        found |= set(re.findall(r'return "((?:not|remote)_[a-z_]+)"', text))  # rules/admission.py
    assert found, "the patterns no longer find the engine's reasons"
    assert found <= codes, sorted(found - codes)
    for name in ("DEAD_REASONS",):
        text = (ROOT / "services/medassist/stream/deadletter.py").read_text(encoding="utf-8")
        block = text[text.index(name):text.index("})", text.index(name))]
        assert set(re.findall(r'"([a-z_]+)"', block)) <= codes


def test_every_manual_review_code_a_policy_names_is_in_the_registry() -> None:
    import yaml

    codes = load_refusal_codes()
    for path in POLICY_DIR.glob("*-20*.yaml"):
        for rule in (yaml.safe_load(path.read_text(encoding="utf-8"))["categories"] or {}).values():
            for key in ("manual_review", "after", "class_missing"):
                if key in rule:
                    assert "manual_review" in codes[rule[key]].status, (path.name, rule)


def test_an_unknown_reason_breaks_the_decision_schema() -> None:
    v = jsonschema.Draft7Validator(load_schema("decision"))
    base = {"event_id": "S", "setl_id": "S", "psn_no": "P", "policy_id": None, "assistance": "0.00",
            "assistance_fen": 0, "lines": []}
    assert v.is_valid({**base, "status": "rejected", "reason": "not_designated"})
    assert not v.is_valid({**base, "status": "rejected", "reason": "not_designatd"})
    assert v.is_valid({**base, "status": "invalid", "reason": "inscp_scp_amt: more than two decimals"})
    assert not v.is_valid({**base, "status": "invalid", "reason": "not_designated"})
