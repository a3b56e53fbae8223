"""Policy test tables: every case in cases/*.yaml replayed through the engine.

Each YAML file is a list of cases::

    - name: ...
      why: hand-worked arithmetic
      events: [contract events, in processing order]
      expect: [one entry per decision, in output order]

Only the keys given in an expected decision are compared. ``lines`` is a map
rule -> amount_fen: a rule absent from the decision counts as 0, and a rule the
decision pays (non-zero) that the case does not list is a failure too.
``capped_by`` is a map rule -> cap name (or null) compared with that line's
``capped_by``. The number of decisions must equal the number expected.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

CASES_DIR = Path(__file__).parent / "cases"


def _normalise(value: Any) -> Any:
    """Undo YAML's implicit typing of dates so events reach the engine as the wire has them."""
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        cases = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        assert isinstance(cases, list), f"{path.name}: top level must be a list of cases"
        seen: set[str] = set()
        for case in cases:
            name = case["name"]
            assert name not in seen, f"{path.name}: duplicate case name {name!r}"
            seen.add(name)
            params.append(pytest.param(path.name, case, id=f"{path.stem}::{name}"))
    return params


def _lines_map(decision: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in decision.get("lines") or []:
        rule = line.get("rule")
        out[rule] = out.get(rule, 0) + int(line.get("amount_fen") or 0)
    return out


def _capped_map(decision: dict[str, Any]) -> dict[str, Any]:
    return {line.get("rule"): line.get("capped_by") for line in decision.get("lines") or []}


def _compare(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for key, want in expected.items():
        if key == "lines":
            got_lines = _lines_map(actual)
            for rule, amount in want.items():
                got = got_lines.get(rule, 0)
                if got != amount:
                    problems.append(f"lines[{rule}]: expected {amount}, got {got}")
            for rule, got in got_lines.items():
                if rule not in want and got != 0:
                    problems.append(f"lines[{rule}]: not expected, got {got}")
        elif key == "capped_by":
            got_caps = _capped_map(actual)
            for rule, cap in want.items():
                if rule not in got_caps:
                    problems.append(f"capped_by[{rule}]: expected {cap!r}, rule has no line")
                elif got_caps[rule] != cap:
                    problems.append(f"capped_by[{rule}]: expected {cap!r}, got {got_caps[rule]!r}")
        else:
            got = actual.get(key, "<absent>")
            if got != want:
                problems.append(f"{key}: expected {want!r}, got {got!r}")
    return problems


@pytest.mark.parametrize(("file", "case"), _load_cases())
def test_policy_case(file: str, case: dict[str, Any]) -> None:
    from medassist.replay import replay_events

    events = _normalise(case["events"])
    expected = case["expect"]
    decisions = list(replay_events(events))

    problems: list[str] = []
    if len(decisions) != len(expected):
        problems.append(f"expected {len(expected)} decisions, got {len(decisions)}")
    for i, want in enumerate(expected):
        if i >= len(decisions):
            problems.append(f"decision #{i} ({want.get('event_id')}): missing")
            continue
        for p in _compare(want, decisions[i]):
            problems.append(f"decision #{i} ({want.get('event_id')}/{want.get('setl_id', '')}): {p}")

    if problems:
        shown = "\n".join("  " + json.dumps(d, ensure_ascii=False, sort_keys=True, default=str) for d in decisions)
        wanted = "\n".join("  " + json.dumps(w, ensure_ascii=False, default=str) for w in expected)
        pytest.fail(
            f"{file} :: {case['name']}\n"
            f"why: {case.get('why', '')}\n"
            "mismatches:\n  " + "\n  ".join(problems) + "\n"
            f"expected:\n{wanted}\n"
            f"decisions:\n{shown}",
            pytrace=False,
        )
