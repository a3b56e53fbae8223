"""Every check a policy file must pass before it decides anything (`medassist policy check`, and every load).

Each fault names the file, the line, the key path, the bad value and what is allowed. The checks run on
the file as written (dated parameters: dates, units, references) and on the plain tree in force on every
day a value changes (schema, names that must match, the catch-all line, caps and pools used and defined,
ratios within 0-1), and across files (one policy in force per region and day).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema

from medassist.engine.dates import add_days
from medassist.engine.money import MoneyError, Ratio, to_fen
from medassist.engine.policy_source import (
    Fault,
    PolicySource,
    change_days,
    display,
    is_parameter,
    join,
    materialise,
    parameters,
    real_date,
    source_path,
    split_path,
)
from medassist.engine.vocabulary import RefusalCode, Vocabulary
from medassist.schemas import load_schema

REF_PATTERN = r"§[一二三四五六七八九十百]+(\([一二三四五六七八九十]+\))*[0-9]*(\([0-9]+\))?"
_REF = re.compile(rf"^{REF_PATTERN}(, ?{REF_PATTERN})*$")
ENTRY_KEYS = ("value", "unit", "ref")
UNITS = {"yuan": "an amount in yuan", "ratio": "a ratio from 0 to 1", "days": "whole days",
         "months": "whole months"}


def show(value: Any) -> str:
    """A value as the file writes it, short."""
    if isinstance(value, Decimal):
        text = str(value)
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _names(items: Iterable[str]) -> str:
    return ", ".join(items) or "none"


@dataclass(frozen=True, slots=True)
class Window:
    """The days a file decides: its own dates, cut short by a version that supersedes it."""

    source: PolicySource
    policy_id: str
    region: str
    start: str
    end: str | None  # inclusive; None: no end


# ---- the file as written: dated parameters --------------------------------------------------------------------


def _resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


Positions = dict[str, tuple[str, dict[str, Any]]]


def parameter_positions(data: Any, schema: dict[str, Any] | None = None, path: str = "",
                        root: dict[str, Any] | None = None, out: Positions | None = None) -> Positions:
    """Key path -> (unit, schema) of every place in `data` where the schema wants a dated parameter."""
    root = root or load_schema("policy")
    schema = _resolve(root, schema or root)
    out = {} if out is None else out
    if "x-parameter" in schema:
        out[path] = (schema["x-parameter"], schema)
        return out
    if isinstance(data, dict) and not is_parameter(data):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for k, v in data.items():
            sub = props.get(k) or (extra if isinstance(extra, dict) else None)
            if sub is not None:
                parameter_positions(v, sub, join(path, k), root, out)
        for alt in schema.get("oneOf", []) + schema.get("anyOf", []):
            alt = _resolve(root, alt)
            for k, v in data.items():
                if k in alt.get("properties", {}):
                    parameter_positions(v, alt["properties"][k], join(path, k), root, out)
    elif isinstance(data, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(data):
            parameter_positions(v, schema["items"], join(path, i), root, out)
    return out


def _leaf_faults(unit: str, value: Any) -> str | None:
    """Why a scalar value does not fit its unit, else None."""
    if unit == "yuan":
        if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
            return f"{show(value)} is not an amount (allowed: yuan, at most two decimals, e.g. 20000 or 2500.50)"
        try:
            to_fen(str(value))
        except MoneyError as e:
            return f"{show(value)} is not an amount: {e} (allowed: yuan, at most two decimals)"
    elif unit == "ratio":
        if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
            return f"{show(value)} is not a ratio (allowed: 0 to 1, e.g. 0.80)"
        text = str(value).strip()
        if text.startswith("-"):
            return f"{show(value)} is outside 0-1 (allowed: a ratio from 0 to 1, e.g. 0.80)"
        try:
            r = Ratio.parse(text)
        except ValueError:
            if text.replace(".", "", 1).isdigit():
                return f"{show(value)} is outside 0-1 (allowed: a ratio from 0 to 1, e.g. 0.80)"
            return f"{show(value)} is not a ratio (allowed: a decimal from 0 to 1, e.g. 0.80)"
        if r.den > 10_000:
            return f"{show(value)} has more than four decimals (allowed: e.g. 0.6667)"
    elif unit in ("days", "months"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{show(value)} is not a whole number of {unit}"
    return None


def _parameter_faults(src: PolicySource, path: str, unit: str, schema: dict[str, Any], node: Any,
                      start: str | None, end: str | None, add: Callable[[str, str], None]) -> None:
    if node is None and "null" in str(schema):
        return  # "no such rule" where the schema allows null
    if not is_parameter(node):
        if isinstance(node, dict) and "values" not in node and unit in ("yuan", "ratio") and node:
            hint = f"{{value: {{...}}, unit: {unit}, ref: '§...'}}"
        else:
            hint = f"{{value: {show(node)}, unit: {unit}, ref: '§...'}}"
        add(path, f"{show(node) if not isinstance(node, dict) else 'this table'} has no date, unit or reference "
                  f"(allowed: values: {{YYYY-MM-DD: {hint}}})")
        return
    for k in node:
        if k not in ("values", "description"):
            add(join(path, k), f"unknown key {k!r} in a parameter (allowed: values, description)")
    values = node["values"]
    if not isinstance(values, dict) or not values:
        add(join(path, "values"),
            f"{show(values)} is not a list of dated values (allowed: YYYY-MM-DD: {{value, unit, ref}})")
        return
    for day, entry in values.items():
        p = join(join(path, "values"), day)
        if real_date(day) is None:
            add(p, f"{show(day)} is not a real date (allowed: YYYY-MM-DD, a day that exists)")
            continue
        if start and day < start:
            add(p, f"dated {day}, before the policy's effective_from {start}: it would never decide anything "
                   f"(allowed: {start} or later)")
        if end and day > end:
            add(p, f"dated {day}, after the policy's effective_to {end} (allowed: {start} to {end})")
        if not isinstance(entry, dict):
            add(p, f"{show(entry)} is not a dated value (allowed: {{value: ..., unit: {unit}, ref: '§...'}})")
            continue
        for k in entry:
            if k not in ENTRY_KEYS and k != "note":
                add(join(p, k), f"unknown key {k!r} (allowed: value, unit, ref, note)")
        if "value" not in entry:
            add(p, f"no value (allowed: {{value: ..., unit: {unit}, ref: '§...'}})")
        if "unit" not in entry:
            add(p, f"no unit (allowed: unit: {unit})")
        elif entry["unit"] != unit:
            add(join(p, "unit"), f"{show(entry['unit'])} is not the unit of this parameter (allowed: {unit})")
        if "ref" not in entry or entry["ref"] in (None, ""):
            add(p, "a value with no reference (allowed: ref: the clause it comes from, e.g. '§二(三)2')")
        elif not isinstance(entry["ref"], str) or not _REF.match(entry["ref"]):
            add(join(p, "ref"), f"{show(entry['ref'])} is not a clause reference (allowed: § and the clause "
                                f"number as the document writes it, e.g. '§二(三)2' or '§十四(二)')")
        if "value" in entry:
            value = entry["value"]
            leaves = value.items() if isinstance(value, dict) else [(None, value)]
            for key, leaf in leaves:
                if unit in ("days", "months") and value is None:
                    continue
                why = _leaf_faults(unit, leaf)
                if why:
                    add(join(join(p, "value"), key) if key is not None else join(p, "value"), why)


# ---- the plain tree in force on one day ---------------------------------------------------------------------


def _schema_faults(plain: dict[str, Any], add: Callable[[str, str], None]) -> None:
    schema = load_schema("policy")
    validator = jsonschema.Draft7Validator(schema)
    for err in validator.iter_errors(plain):
        path = ""
        for part in err.absolute_path:
            path = join(path, part)
        inst, sch, kind = err.instance, err.schema, err.validator
        allowed = sch.get("x-allowed") if isinstance(sch, dict) else None
        if kind == "additionalProperties" and isinstance(inst, dict):
            props = list(sch.get("properties", {}))
            for k in inst:
                if k not in props:
                    add(join(path, k), f"unknown key {k!r} (allowed: {_names(props)})")
        elif kind == "required" and isinstance(inst, dict):
            for k in err.validator_value:
                if k not in inst:
                    add(join(path, k), "missing: this key is required here")
        elif kind == "enum":
            add(path, f"{show(inst)} is not allowed (allowed: {_names(str(v) for v in err.validator_value)})")
        elif kind == "propertyNames":
            bad = [k for k in inst if not jsonschema.Draft7Validator(err.validator_value).is_valid(k)] \
                if isinstance(inst, dict) else []
            what = err.validator_value.get("x-allowed") or "allowed here"
            for k in bad or [show(inst)]:
                add(join(path, k) if bad else path, f"key {show(k)} is not {what}")
        elif kind in ("type", "pattern", "anyOf", "oneOf"):
            what = allowed or (f"of type {err.validator_value}" if kind == "type" else "allowed here")
            add(path, f"{show(inst)} is not {what}")
        else:
            add(path, f"{show(inst)}: {err.message}")


def _conditions(when: Any, path: str) -> Iterable[tuple[str, dict[str, Any]]]:
    if isinstance(when, dict):
        yield path, when
        for i, alt in enumerate(when.get("any", []) or []):
            yield from _conditions(alt, join(join(path, "any"), i))
        if "not" in when:
            yield from _conditions(when["not"], join(path, "not"))


def _semantic_faults(plain: dict[str, Any], vocab: Vocabulary, codes: dict[str, RefusalCode],
                     operator: dict[str, Any], add: Callable[[str, str], None]) -> None:
    cats: dict[str, Any] = plain.get("categories") or {}
    for cat, rule in cats.items():
        if cat not in vocab.rank:
            add(join("categories", cat), f"{cat!r} is not a category of the vocabulary "
                                         f"(vocabulary.yaml: {_names(vocab.rank)})")
        if not isinstance(rule, dict):
            continue
        group = rule.get("classes")
        if group is not None and not rule.get("class_missing"):
            add(join(join("categories", cat), "classes"), "a category split into classes needs class_missing: "
                                                          "<manual-review code> for a person with no class")
        if group is not None and group not in vocab.class_groups:
            add(join(join("categories", cat), "classes"),
                f"{group!r} is not a class group of the vocabulary (allowed: {_names(vocab.class_groups)})")
        for key in ("manual_review", "after", "class_missing"):
            code = rule.get(key)
            if code is not None and (code not in codes or "manual_review" not in codes[code].status):
                review = [c for c, e in codes.items() if "manual_review" in e.status]
                add(join(join("categories", cat), key),
                    f"{code!r} is not a manual-review code of refusal-codes.yaml (allowed: {_names(review)})")
        if rule.get("until") is not None and real_date(rule["until"]) is None:
            add(join(join("categories", cat), "until"),
                f"{show(rule['until'])} is not a real date (allowed: YYYY-MM-DD)")
        if (rule.get("until") is None) != (rule.get("after") is None):
            add(join("categories", cat), "until and after go together (the last day, and the manual-review "
                                         "code from the day after)")
    cat_list = _names(cats)
    rate_keys: list[str] = []
    for cat, rule in cats.items():
        group = rule.get("classes") if isinstance(rule, dict) else None
        rate_keys.extend(vocab.class_keys.get(group, ()) if group else (cat,))

    def rate_table(path: str, table: Any, extra: tuple[str, ...] = (), by_category: bool = False) -> None:
        """Keys of a table by rate key; a cap or deductible may also be written for a whole category."""
        if not isinstance(table, dict):
            return
        allowed = [*rate_keys, *extra] + [c for c in cats if by_category and c not in rate_keys]
        for key in table:
            if key not in allowed:
                add(join(path, key), f"{key!r} is not a category of this policy ({_names(allowed)})")

    el = plain.get("eligibility") or {}
    for i, cat in enumerate(el.get("application_categories") or []):
        if cat not in cats:
            add(join("eligibility.application_categories", i), f"{cat!r} is not a category of this policy ({cat_list})")
    for pool, table in (plain.get("deductibles") or {}).items():
        rate_table(join("deductibles", pool), table, by_category=True)
    for cap, value in (plain.get("caps") or {}).items():
        rate_table(join("caps", cap), value, ("default",), by_category=True)
    lines = plain.get("lines") or []
    diagnoses = plain.get("diagnoses") or {}
    used_caps: dict[str, str] = {}
    used_pools: set[str] = set()
    used_diagnoses: set[str] = set()
    rules = set()
    numbered: set[str] = set()

    def caps_of(path: str, names: Any) -> None:
        for i, c in enumerate(names or []):
            used_caps.setdefault(c, path)
            if c not in (plain.get("caps") or {}):
                add(join(path, i), f"cap {c!r} is used but not defined under caps "
                                   f"(defined: {_names(plain.get('caps') or {})})")

    def conditions(path: str, when: Any) -> None:
        for p, cond in _conditions(when, path):
            name = cond.get("diagnosis")
            if name is not None:
                used_diagnoses.add(name)
                if name not in diagnoses:
                    add(join(p, "diagnosis"), f"{name!r} is not a list under diagnoses (defined: {_names(diagnoses)})")

    for i, ln in enumerate(lines):
        if not isinstance(ln, dict):
            continue
        p = join("lines", i)
        rules.add(ln.get("rule"))
        rate_table(join(p, "ratio"), ln.get("ratio"))
        numbered.update(ln.get("ratio") or {})
        caps_of(join(p, "caps"), ln.get("caps"))
        conditions(join(p, "when"), ln.get("when"))
        pool = ln.get("deductible")
        if pool is not None:
            used_pools.add(pool)
            if pool not in (plain.get("deductibles") or {}):
                add(join(p, "deductible"), f"pool {pool!r} is not defined under deductibles "
                                           f"(defined: {_names(plain.get('deductibles') or {})})")
        if ln.get("when") == {} and i != len(lines) - 1:
            add(join(p, "when"), f"matches every settlement, so lines[{i + 1}] and after are never reached "
                                 "(allowed: the catch-all when: {} only as the last line)")
    if lines and isinstance(lines[-1], dict) and lines[-1].get("when") != {}:
        p = join("lines", len(lines) - 1)
        add(join(p, "when"), f"{show(lines[-1].get('when'))}: the last line must be the catch-all (when: {{}}), "
                             "so that every settlement has a line")
    for i, sup in enumerate(plain.get("supplements") or []):
        p = join("supplements", i)
        rate_table(join(p, "ratio"), sup.get("ratio"))
        caps_of(join(p, "caps"), sup.get("caps"))
        conditions(join(p, "when"), sup.get("when"))
        for j, r in enumerate(sup.get("lines") or []):
            if r not in rules:
                add(join(join(p, "lines"), j),
                    f"{r!r} is not a line of this policy ({_names(sorted(str(x) for x in rules))})")
    tilt = plain.get("tilt")
    if isinstance(tilt, dict):
        rate_table("tilt.ratio", tilt.get("ratio"), ("default",))
        numbered.update(tilt.get("ratio") or {})
        if tilt.get("cap") is not None:
            used_caps.setdefault(tilt["cap"], "tilt.cap")
            if tilt["cap"] not in (plain.get("caps") or {}):
                add("tilt.cap", f"cap {tilt['cap']!r} is used but not defined under caps "
                                f"(defined: {_names(plain.get('caps') or {})})")
        conditions("tilt.when", tilt.get("when"))
    for cap in plain.get("caps") or {}:
        if cap not in used_caps:
            add(join("caps", cap), f"cap {cap!r} is defined but no line, supplement or tilt uses it")
    for pool in plain.get("deductibles") or {}:
        if pool not in used_pools:
            add(join("deductibles", pool), f"pool {pool!r} is defined but no line uses it")
    for name in diagnoses:
        if name not in used_diagnoses:
            add(join("diagnoses", name), f"list {name!r} is defined but no condition uses it")
    ps = plain.get("premium_subsidy") or {}
    for cat, rule in (ps.get("categories") or {}).items():
        p = join("premium_subsidy.categories", cat)
        if cat not in cats:
            add(p, f"{cat!r} is not a category of this policy ({cat_list})")
        if isinstance(rule, dict):
            name = rule.get("fixed_amount")
            if name is not None and name not in operator:
                add(join(p, "fixed_amount"), f"{name!r} is not an operator parameter "
                                             f"(operator-parameters.yaml: {_names(operator)})")
            if not {"ratio", "ratio_by_residence", "fixed_amount", "tier2"} & set(rule):
                add(p, "no subsidy given (allowed: ratio, ratio_by_residence or fixed_amount)")
    for i, w in enumerate(plain.get("early_warnings") or []):
        for j, cat in enumerate(w.get("categories") or []):
            if cat not in vocab.rank:
                add(join(join(join("early_warnings", i), "categories"), j),
                    f"{cat!r} is not a category of the vocabulary ({_names(vocab.rank)})")
        th = w.get("threshold") or {}
        if isinstance(th, dict) and "income" in th and th["income"] not in operator:
            add(join(join("early_warnings", i), "threshold.income"),
                f"{th['income']!r} is not an operator parameter (operator-parameters.yaml: {_names(operator)})")
    if (el.get("reach_back_months") and any(
            w.get("measure") == "year_total" for w in plain.get("early_warnings") or [])):
        add("early_warnings", "a year_total warning cannot go with reach_back_months (a reach-back re-records "
                              "the settlement and would drop the year total's undo)")
    for cat, rule in cats.items():
        if not isinstance(rule, dict) or rule.get("manual_review"):
            continue
        keys = vocab.class_keys.get(rule["classes"], ()) if rule.get("classes") in vocab.class_keys else (cat,)
        if not set(keys) & numbered and not (ps.get("categories") or {}).get(cat):
            add(join("categories", cat), f"{cat!r} has no ratio in any line or tilt and no premium subsidy "
                                         "(allowed: give it numbers, or manual_review: <code>)")


# ---- one file, every day it changes --------------------------------------------------------------------------


def check_source(src: PolicySource, vocab: Vocabulary, codes: dict[str, RefusalCode],
                 operator: dict[str, Any], window_end: str | None = None) -> list[Fault]:
    faults = list(src.faults)
    if not src.data:
        return faults
    data = src.data

    def at(path: str, msg: str) -> None:
        faults.append(Fault(src.name, src.line_of(path), display(path), msg))

    pid = data.get("policy_id")
    if isinstance(pid, str) and pid != Path(src.name).stem:
        at("policy_id", f"{pid!r} differs from the file name (allowed: {Path(src.name).stem!r}, "
                        "so that messages and revisions name one thing)")
    start = data.get("effective_from")
    end = data.get("effective_to")
    if real_date(start) is None:
        at("effective_from", f"{show(start)} is not a real date (allowed: YYYY-MM-DD, a day that exists)")
        start = None
    if end is not None and real_date(end) is None:
        at("effective_to", f"{show(end)} is not a real date (allowed: YYYY-MM-DD or null)")
        end = None
    if start and end and end < start:
        at("effective_to", f"{end} is before effective_from {start} (allowed: {start} or later, or null)")
        end = None
    positions = parameter_positions(data)
    for path, (unit, schema) in positions.items():
        node: Any = data
        for seg in _segments(path):
            node = node[seg]
        _parameter_faults(src, path, unit, schema, node, start, end, at)
    for path, _ in parameters(data):
        if path not in positions:
            at(path, "a dated parameter is not allowed here (allowed at: amounts, ratios, thresholds, "
                     "deductibles, caps and day counts)")
    last = min(x for x in (end, window_end) if x) if (end or window_end) else None
    if start is None:  # still check the rest, on every day a value is dated
        days = change_days(data) or ["0000-01-01"]
    else:
        days = [start] + [d for d in change_days(data) if start < d and (last is None or d <= last)]
    for day in days:
        origin: dict[str, str] = {}
        plain = materialise(data, day, "", origin)

        def add(path: str, msg: str, origin: dict[str, str] = origin, day: str = day) -> None:
            src_path = source_path(path, origin)
            suffix = f" (in force from {day})" if len(days) > 1 else ""
            faults.append(Fault(src.name, src.line_of(src_path), display(path), msg + suffix))
        _schema_faults(plain, add)
        _semantic_faults(plain, vocab, codes, operator, add)
    return _unique(faults)


def _segments(path: str) -> list[str | int]:
    return split_path(path) if path else []


def _unique(faults: list[Fault]) -> list[Fault]:
    """One fault once, even when it is found on every day a value changes (the first day's wording kept)."""
    seen: set[tuple[str, int | None, str, str]] = set()
    out = []
    for f in faults:
        key = (f.file, f.line, f.path, f.message.split(" (in force from ")[0])
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


# ---- across files: one policy in force per region and day ---------------------------------------------------


def windows(sources: list[PolicySource]) -> tuple[list[Window], list[Fault]]:
    faults: list[Fault] = []
    by_id: dict[str, PolicySource] = {}
    for src in sources:
        pid = src.data.get("policy_id")
        if not isinstance(pid, str):
            continue
        if pid in by_id:
            faults.append(Fault(src.name, src.line_of("policy_id"), "policy_id",
                                f"{pid!r} is already the policy_id of {by_id[pid].name} (allowed: one file per id)"))
            continue
        by_id[pid] = src
    ends: dict[str, str] = {}
    for src in by_id.values():
        old = src.data.get("supersedes")
        if old is None:
            continue
        start = real_date(src.data.get("effective_from"))
        prev = by_id.get(old)
        if prev is None:
            faults.append(Fault(src.name, src.line_of("supersedes"), "supersedes",
                                f"{old!r} is not the policy_id of any file here (allowed: {_names(sorted(by_id))})"))
            continue
        prev_start = real_date(prev.data.get("effective_from"))
        if prev.data.get("region") != src.data.get("region"):
            faults.append(Fault(src.name, src.line_of("supersedes"), "supersedes",
                                f"{old!r} is a policy of region {prev.data.get('region')}, this one of "
                                f"{src.data.get('region')} (allowed: a version of the same region)"))
        elif start and prev_start and start <= prev_start:
            faults.append(Fault(src.name, src.line_of("supersedes"), "supersedes",
                                f"{old!r} starts {prev_start}, not before this one's effective_from {start} "
                                "(allowed: a version that starts later than the one it supersedes)"))
        elif start:
            ends[old] = min(ends.get(old, "9999-12-31"), add_days(start, -1))
    out: list[Window] = []
    for pid, src in by_id.items():
        start = real_date(src.data.get("effective_from"))
        if start is None or not isinstance(src.data.get("region"), str):
            continue
        end = real_date(src.data.get("effective_to"))
        if pid in ends and (end is None or ends[pid] < end):
            end = ends[pid]
        out.append(Window(src, pid, src.data["region"], start, end))
    for i, a in enumerate(out):
        for b in out[i + 1:]:
            if a.region != b.region:
                continue
            first = max(a.start, b.start)
            ends_ = [e for e in (a.end, b.end) if e is not None]
            last = min(ends_) if ends_ else None
            if last is None or first <= last:
                later = b if (b.start, b.source.name) >= (a.start, a.source.name) else a
                other = a if later is b else b
                days = f"{first} to {last}" if last else f"from {first}, with no end"
                faults.append(Fault(later.source.name, later.source.line_of("effective_from"), "effective_from",
                                    f"{later.source.name} and {other.source.name} are both in force for region "
                                    f"{a.region} {days} (allowed: one policy per region and day: end one with "
                                    f"effective_to, or write supersedes: {other.policy_id})"))
    return out, faults


def check_sources(sources: list[PolicySource], vocab: Vocabulary, codes: dict[str, RefusalCode],
                  operator: dict[str, Any]) -> tuple[list[Window], list[Fault]]:
    wins, faults = windows(sources)
    end_of = {w.source.name: w.end for w in wins}
    for src in sources:
        faults.extend(check_source(src, vocab, codes, operator, end_of.get(src.name)))
    faults.sort(key=lambda f: (f.file, f.line or 0, f.path))
    return wins, faults
