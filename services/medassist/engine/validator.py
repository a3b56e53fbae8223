"""A fast yes/no check of an event against its JSON Schema, for the common case.

fastjsonschema is the authority (it gives the error that names the field), but
its generated code does set bookkeeping and builds messages for every property,
which made validation the largest cost of `replay`. This module compiles the
small subset of JSON Schema our event schemas use into one flat Python function
that only answers "certainly valid?". It is deliberately stricter than the
schema (exact JSON types only, e.g. no int subclasses), so a `False` never
refuses an event by itself: the caller then runs fastjsonschema, which either
raises the precise error or accepts. A schema keyword this compiler does not
know makes `compile_check` return None, and the caller uses fastjsonschema alone.

`compile_parse` is the same check fused with the conversion the caller does next
(yuan text to fen, a time to its date): a converter replaces a pattern's test,
so each money or date string is read once, and the function returns the
converted values, or None when the event is not certainly valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[dict[str, Any]], bool]
Parse = Callable[[dict[str, Any]], "tuple[Any, ...] | None"]
# A converter gets a present, non-null value of an allowed class; it returns the converted value, or
# NOT_SURE when it cannot vouch for it (the pattern it stands in for, or anything else it checks).
Converter = Callable[[Any], Any]
NOT_SURE: Any = object()

# Keywords that constrain nothing (annotations) or that we handle below.
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "default", "examples", "$comment"})
_PROPERTY_KEYWORDS = frozenset({"type", "const", "enum", "pattern", "minLength", "maxLength",
                                "minimum", "maximum"}) | _ANNOTATIONS
_TOP_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties"}) | _ANNOTATIONS

# JSON types as the exact Python classes orjson produces (bool is not an integer here).
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "null": (type(None),), "object": (dict,), "array": (list,),
}


# A value of each class, for reading an absent optional property that only has a class test.
_SAMPLES: dict[type, Any] = {bool: True, str: "", int: 0, float: 0.0}


class Unsupported(Exception):
    """The schema uses a keyword this compiler does not translate."""


def _pattern(p: str) -> re.Pattern[str]:
    # As fastjsonschema does: a final `$` must not match before a trailing newline.
    if p.endswith("$") and not p.endswith("\\$"):
        p = p[:-1] + r"\Z"
    return re.compile(p)


def _money(v: str) -> bool:
    whole, _, frac = v.partition(".")
    return 0 < len(whole) <= 12 and len(frac) <= 2 and v.isascii() and whole.isdigit() and (
        not frac or frac.isdigit())


# Patterns our schemas use, as string-method tests (cheaper than a regex search on short ids and codes).
# `{v}` is the value, known to be a str. tests/engine/test_validation.py checks each against its regex.
FAST_PATTERNS: dict[str, str] = {
    r"^[\x21-\x7e]+$": '({v}.isascii() and {v}.isprintable() and " " not in {v} and {v} != "")',
    r"^[0-9]{1,12}(\.[0-9]{0,2})?$": "_money({v})",
}
_DIGITS = re.compile(r"\^\[0-9\]\{([1-9][0-9]*)(?:,([0-9]+))?\}\$")


def fast_pattern(p: str) -> str | None:
    """A Python expression (over `{v}`) equivalent to the regex `p`, if we know one."""
    if p in FAST_PATTERNS:
        return FAST_PATTERNS[p]
    m = _DIGITS.fullmatch(p)
    if m:  # ^[0-9]{m,n}$: ASCII digits only (str.isdigit alone accepts other scripts' digits)
        lo, hi = m.group(1), m.group(2) or m.group(1)
        return f"({lo} <= len({{v}}) <= {hi} and {{v}}.isascii() and {{v}}.isdigit())"
    return None


def _classes(spec: dict[str, Any]) -> tuple[type, ...] | None:
    """The exact classes a value may have (None: any), from `type`, `const` and `enum`."""
    allowed: set[type] | None = None
    if "type" in spec:
        kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        allowed = {c for k in kinds for c in _TYPES[k]}
    for key in ("const", "enum"):
        if key in spec:
            members = [spec[key]] if key == "const" else spec[key]
            if any(isinstance(m, dict | list) for m in members):
                raise Unsupported(f"{key} of objects or arrays")
            # Exact classes: True never passes for 1, nor 1.0 for 1; within these, == is exact.
            got = {m.__class__ for m in members}
            allowed = got if allowed is None else allowed & got
    return None if allowed is None else tuple(sorted(allowed, key=lambda c: c.__name__))


def _property(name: str, spec: dict[str, Any], required: bool, env: dict[str, Any], i: int,
              conv: Converter | None = None) -> list[str]:
    unknown = set(spec) - _PROPERTY_KEYWORDS
    if unknown:
        raise Unsupported(f"{name}: {sorted(unknown)}")
    v = f"v{i}"
    classes = _classes(spec)
    nullable = classes is None or type(None) in classes
    fails: list[str] = []  # each a condition that, when true, means "not certainly valid"
    if classes is not None:
        if len(classes) == 1:
            env[f"T{i}"] = classes[0]
            fails.append(f"{v}.__class__ is not T{i}")
        else:
            env[f"T{i}"] = classes
            fails.append(f"{v}.__class__ not in T{i}")
    members = [spec["const"]] if "const" in spec else spec.get("enum")
    if members is not None:
        env[f"E{i}"] = frozenset(members)
        fails.append(f"{v} not in E{i}")  # hashable: the class test above ran first
    str_tests = []
    if "minLength" in spec or "maxLength" in spec:
        lo, hi = int(spec.get("minLength", 0)), spec.get("maxLength")
        str_tests.append(f"{lo} <= len({v})" + (f" <= {int(hi)}" if hi is not None else ""))
    if "pattern" in spec and conv is None:  # a converter stands in for the pattern's test
        expr = fast_pattern(spec["pattern"])
        if expr is None:
            env[f"P{i}"] = _pattern(spec["pattern"]).search
            expr = f"P{i}({{v}}) is not None"
        str_tests.append(expr.format(v=v))
    only_str = classes == (str,)  # the class test already made it a str
    if str_tests:
        test = " and ".join(str_tests)
        fails.append(f"not ({test})" if only_str else f"({v}.__class__ is str and not ({test}))")
    for key, op in (("minimum", "<"), ("maximum", ">")):
        if key in spec:
            fails.append(f"({v}.__class__ in _NUM and {v} {op} {spec[key]!r})")
    sample = _SAMPLES.get(classes[0]) if classes is not None and len(classes) == 1 else None
    if not required and conv is None and fails == [f"{v}.__class__ is not T{i}"] and sample is not None:
        # Optional, and only its class is checked (the flags): read an absent one as a valid sample value.
        env[f"D{i}"] = sample
        return [f"    if g({name!r}, D{i}).__class__ is not T{i}: return False"]
    # An absent optional property is fine; read it as None when None is valid anyway (one test fewer).
    absent = "None" if nullable and not required else "_M"
    src = [f"    {v} = g({name!r}, {absent})" if absent == "_M" else f"    {v} = g({name!r})"]
    if required:
        if nullable:
            src.append(f"    if {v} is _M: return False")
        elif not fails:
            fails.append(f"{v} is _M")
        # otherwise _M fails the class test by itself
    if fails:
        cond = " or ".join(fails)
        guard = "" if required else f"{v} is not {absent} and "
        src.append(f"    if {guard}({cond}): return False")
    if conv is not None:  # absent or null converts to None
        env[f"C{i}"] = conv
        if required and not nullable:  # the class test has made it present and not null
            src.append(f"    c{i} = C{i}({v})")
        elif absent == "None":
            src.append(f"    c{i} = None if {v} is None else C{i}({v})")
        elif not nullable:  # optional: the class test let only an absent one through besides
            src.append(f"    c{i} = None if {v} is _M else C{i}({v})")
        else:
            src.append(f"    c{i} = None if {v} is _M or {v} is None else C{i}({v})")
        src.append(f"    if c{i} is _NS: return False")
    return src


def compile_check(schema: dict[str, Any]) -> Check | None:
    """A function obj -> True only if obj certainly satisfies `schema`; None if it cannot be compiled."""
    return _compile(schema, {}, ())  # type: ignore[return-value]


def compile_parse(schema: dict[str, Any], converters: dict[str, Converter],
                  outputs: tuple[str, ...]) -> Parse | None:
    """obj -> the converted `outputs` (properties whose pattern has a converter), or None if not certainly
    valid; the function itself is None if it cannot be compiled."""
    return _compile(schema, converters, outputs)  # type: ignore[return-value]


def _compile(schema: dict[str, Any], converters: dict[str, Converter], outputs: tuple[str, ...]) -> Any:
    try:
        unknown = set(schema) - _TOP_KEYWORDS
        if unknown or schema.get("type") != "object" or schema.get("additionalProperties", True) is not True:
            raise Unsupported(f"top level: {sorted(unknown)}")
        required = set(schema.get("required", []))
        props: dict[str, Any] = schema.get("properties", {})
        if required - set(props):
            raise Unsupported("required property without a definition")
        env: dict[str, Any] = {"_M": object(), "_NUM": (int, float), "_money": _money, "_NS": NOT_SURE}
        src = ["def check(d):", "    g = d.get"]
        index = {}
        for i, (name, spec) in enumerate(props.items()):
            conv = converters.get(spec.get("pattern", "")) if name in outputs else None
            if name in outputs and conv is None:
                raise Unsupported(f"{name}: no converter")
            index[name] = i
            src += _property(name, spec, name in required, env, i, conv)
        missing = set(outputs) - set(index)
        if missing:
            raise Unsupported(f"outputs without a property: {sorted(missing)}")
        src.append(f"    return ({''.join(f'c{index[n]}, ' for n in outputs)})" if outputs else "    return True")
    except Unsupported:
        return None
    if outputs:  # "not certainly valid" is None here, not False
        src = [ln.replace("return False", "return None") for ln in src]
    exec("\n".join(src), env)  # generated from our own schema files, like fastjsonschema does
    return env["check"]
