"""`medassist policy check [DIR]` and `medassist policy show POLICY [--on DATE] [--json]`."""

from __future__ import annotations

import datetime as dt
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from medassist.engine.policy import POLICY_DIR, check_sources, read_sources
from medassist.engine.policy_check import show as show_value
from medassist.engine.policy_source import PolicySource, real_date, refs


def _directory(given: str | None) -> Path:
    return Path(given) if given else Path(os.environ.get("MEDASSIST_POLICIES", str(POLICY_DIR)))


def check(directory: str | None) -> int:
    """Print every fault (file:line: key.path: message); 0 when there are none."""
    d = _directory(directory)
    if not d.is_dir():
        print(f"medassist policy check: {d} is not a directory", file=sys.stderr)
        return 2
    sources = read_sources(d)
    _, faults = check_sources(sources, policy_dir=d)
    for f in faults:
        print(f)
    files = {f.file for f in faults}
    if faults:
        print(f"policy check: {len(faults)} fault(s) in {len(files)} file(s) of {d}", file=sys.stderr)
        return 1
    print(f"policy check: {len(sources)} policy file(s) in {d}, no faults", file=sys.stderr)
    return 0


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    return show_value(value).strip("'")


def describe(src: PolicySource, on: str) -> dict[str, Any]:
    """What `policy show --json` prints: the parameters in force on `on`, each with its reference."""
    data = src.data
    rules = [{"rule": ln.get("rule"), "ref": ln.get("ref"), "when": _json(ln.get("when"))}
             for ln in data.get("lines", [])]
    for key in ("supplements",):
        rules += [{"rule": s.get("rule"), "ref": s.get("ref"), "when": _json(s.get("when"))}
                  for s in data.get(key, [])]
    if "tilt" in data:
        rules.append({"rule": data["tilt"].get("rule"), "ref": data["tilt"].get("ref"),
                      "when": _json(data["tilt"].get("when", {}))})
    start, end = data.get("effective_from"), data.get("effective_to")
    return {
        "policy_id": data.get("policy_id"), "document": data.get("document"), "region": data.get("region"),
        "effective_from": start, "effective_to": end, "supersedes": data.get("supersedes"), "on": on,
        "in_force": bool(start and start <= on and (end is None or on <= end)),
        "parameters": _json(refs(data, on)), "rules": rules, "file": src.name,
    }


def show(policy_id: str, on: str | None, as_json: bool, directory: str | None = None) -> int:
    d = _directory(directory)
    sources = {s.data.get("policy_id"): s for s in read_sources(d)}
    src = sources.get(policy_id)
    if src is None:
        print(f"medassist policy show: no policy {policy_id!r} in {d} (allowed: {', '.join(map(str, sources))})",
              file=sys.stderr)
        return 2
    day = on or dt.date.today().isoformat()
    if real_date(day) is None:
        print(f"medassist policy show: --on {day!r} is not a date (YYYY-MM-DD)", file=sys.stderr)
        return 2
    info = describe(src, day)
    if as_json:
        print(orjson.dumps(info, option=orjson.OPT_INDENT_2).decode())
        return 0
    doc = info["document"] or {}
    print(f"{info['policy_id']}  {doc.get('title', '')} {doc.get('number', '')}".rstrip())
    print(f"region {info['region']}, in force {info['effective_from']} to {info['effective_to'] or '(no end)'}"
          + (f", supersedes {info['supersedes']}" if info["supersedes"] else ""))
    print(f"on {day}: " + ("in force" if info["in_force"] else "NOT in force on this day"))
    print()
    params = info["parameters"]
    width = max((len(p) for p in params), default=10)
    for path, p in params.items():
        print(f"  {path:<{width}}  {_text(p['value'])} {p['unit']}   {p['ref']}   (since {p['since']})")
    print()
    for r in info["rules"]:
        print(f"  rule {r['rule']:<28} {r['ref']}")
    return 0


def refusal_codes_markdown() -> str:
    """docs/refusal-codes.md, made from policies/refusal-codes.yaml (a test keeps the two equal)."""
    from medassist.engine.vocabulary import load_refusal_codes

    out = [
        "# Refusal codes",
        "",
        "Every `reason` a decision or a dead letter can carry. The registry is",
        "`services/medassist/policies/refusal-codes.yaml`; the decision schema's `reason` is its enum, and",
        "this page is made from it (`python -m medassist.policy_commands --refusal-codes > docs/refusal-codes.md`;",
        "`tests/policies/test_refusal_codes.py` fails while the three differ).",
        "",
        "An `invalid` decision (the event breaks the contract) has no code: its reason is `<field>: <why>`,",
        "e.g. `inscp_scp_amt: more than two decimals`, and its dead letter's `reason_code` is",
        "`invalid:<field>`. A policy names the manual-review codes it uses (`manual_review:`, `after:`,",
        "`class_missing:`); `medassist policy check` refuses a code that is not here.",
        "",
        "| code | status | meaning | clause or contract rule |",
        "|---|---|---|---|",
    ]
    for c in load_refusal_codes().values():
        status = ", ".join(f"`{s}`" for s in c.status) + (" (dead letters only)" if c.dead_letter_only else "")
        out.append(f"| `{c.code}` | {status} | {c.meaning} | {c.rule} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--refusal-codes"]:
        sys.stdout.write(refusal_codes_markdown())
    else:
        print("usage: python -m medassist.policy_commands --refusal-codes", file=sys.stderr)
        sys.exit(2)
