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

import hashlib
import io
import json
import re
import sys
import tokenize
from collections.abc import Callable
from pathlib import Path
from typing import Any

Check = Callable[[dict[str, Any]], bool]
Parse = Callable[[dict[str, Any]], "tuple[Any, ...] | None"]
# A converter gets a present, non-null value of an allowed class; it returns the converted value, or
# NOT_SURE when it cannot vouch for it (the pattern it stands in for, or anything else it checks).
Converter = Callable[[Any], Any]
NOT_SURE: Any = object()
# What compile_parse takes, per event kind: (schema, converters, outputs).
Spec = tuple[dict[str, Any], dict[str, Converter], tuple[str, ...]]

# The module the fused functions are also written to, so that mypyc compiles them (exec'd ones stay interpreted).
GENERATED = Path(__file__).with_name("checks_generated.py")
WRITE_COMMAND = "python3 -m medassist.engine.validator --write"
_MODULE = "medassist.engine.validator"  # this module's name, also when it runs as __main__

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


class _Target:
    """Where the generated functions' constants live: module-level definitions and imports of the module
    text that is exec'd (compile_parse) or written out for mypyc (module_source). Classes are tested with
    type(), enums are set literals, converters are imported by name, anything else is a definition."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix  # of the module-level names, one per generated function
        self.defs: dict[str, str] = {}  # module-level name -> its source
        self.imports: set[tuple[str, str]] = {(_MODULE, "NOT_SURE")}  # (module, name)

    def get(self, name: str, default: str | None) -> str:
        """Source reading property `name` of `d` (None when absent, or `default`)."""
        # mypyc calls dict.get directly; a bound method in a local would be a generic call
        return f"d.get({name!r})" if default is None else f"d.get({name!r}, {default})"

    def const(self, key: str, source: str) -> str:
        """A module-level name for the value `source` makes."""
        name = f"_{self.prefix}_{key}"
        self.defs[name] = source
        return name

    def not_class(self, v: str, classes: tuple[type, ...], not_none: bool) -> str:
        """A condition true when the exact class of `v` is not one of `classes` (`not_none`: v is known not None)."""
        if not_none and len(classes) > 1:
            classes = tuple(c for c in classes if c is not type(None))
        tests = [f"{v} is not None" if c is type(None) else f"type({v}) is not {c.__name__}" for c in classes]
        return tests[0] if len(tests) == 1 else f"({' and '.join(tests)})"

    def is_class(self, v: str, classes: tuple[type, ...]) -> str:
        return " or ".join(f"type({v}) is {c.__name__}" for c in classes)

    def members(self, members: list[Any]) -> str:
        # A set literal of constants: Python and mypyc both make it one frozenset, built once.
        return "{" + ", ".join(sorted({repr(m) for m in members})) + "}"

    def converter(self, conv: Converter) -> str:
        module, name = conv.__module__, conv.__name__
        if re.fullmatch(r"[vc][0-9]+|d|g|_.*", name):
            raise Unsupported(f"converter name {name} would clash with the generated code's own names")
        self.imports.add((module, name))
        return name


def _property(name: str, spec: dict[str, Any], required: bool, t: _Target, i: int,
              conv: Converter | None = None) -> list[str]:
    unknown = set(spec) - _PROPERTY_KEYWORDS
    if unknown:
        raise Unsupported(f"{name}: {sorted(unknown)}")
    v = f"v{i}"
    classes = _classes(spec)
    nullable = classes is None or type(None) in classes
    # An absent optional property is fine; read it as None when None is valid anyway (one test fewer).
    absent = "None" if nullable and not required else "_M"
    fails: list[str] = []  # each a condition that, when true, means "not certainly valid"
    if classes is not None:
        fails.append(t.not_class(v, classes, not_none=absent == "None"))
    members = [spec["const"]] if "const" in spec else spec.get("enum")
    if members is not None:
        fails.append(f"{v} not in {t.members(members)}")  # hashable: the class test above ran first
    str_tests = []
    if "minLength" in spec or "maxLength" in spec:
        lo, hi = int(spec.get("minLength", 0)), spec.get("maxLength")
        str_tests.append(f"{lo} <= len({v})" + (f" <= {int(hi)}" if hi is not None else ""))
    if "pattern" in spec and conv is None:  # a converter stands in for the pattern's test
        expr = fast_pattern(spec["pattern"])
        if expr is None:
            regex = _pattern(spec["pattern"])
            search = t.const(f"P{i}", f"re.compile({regex.pattern!r}).search")
            expr = f"{search}({{v}}) is not None"
        elif "_money(" in expr:
            t.imports.add((__name__, "_money"))
        str_tests.append(expr.format(v=v))
    only_str = classes == (str,)  # the class test already made it a str
    if str_tests:
        test = _paren(" and ".join(str_tests))
        fails.append(f"not {test}" if only_str else f"({t.is_class(v, (str,))} and not {test})")
    for key, op in (("minimum", "<"), ("maximum", ">")):
        if key in spec:
            fails.append(f"(({t.is_class(v, (int, float))}) and {v} {op} {spec[key]!r})")
    sample = _SAMPLES.get(classes[0]) if classes is not None and len(classes) == 1 else None
    if (not required and conv is None and classes is not None and len(fails) == 1 and sample is not None):
        # Optional, and only its class is checked (the flags): read an absent one as a valid sample value.
        assert classes is not None
        return [f"    if type({t.get(name, repr(sample))}) is not {classes[0].__name__}:", "        return False"]
    src = [f"    {v}: Any = {t.get(name, None if absent == 'None' else '_M')}"]
    if required:
        if nullable:
            src += _if(f"{v} is _M")
        elif not fails:
            fails.append(f"{v} is _M")
        # otherwise _M fails the class test by itself
    if fails:
        cond = " or ".join(fails)
        guard = "" if required else f"{v} is not {absent} and "
        src += _if(f"{guard}{_paren(cond)}")
    if conv is not None:  # absent or null converts to None
        c = t.converter(conv)
        if required and not nullable:  # the class test has made it present and not null
            src.append(f"    c{i} = {c}({v})")
        elif absent == "None":
            src.append(f"    c{i} = None if {v} is None else {c}({v})")
        elif not nullable:  # optional: the class test let only an absent one through besides
            src.append(f"    c{i} = None if {v} is _M else {c}({v})")
        else:
            src.append(f"    c{i} = None if {v} is _M or {v} is None else {c}({v})")
        src += _if(f"c{i} is _NS")
    return src


def _paren(expr: str) -> str:
    """`expr` in parentheses, unless it is one parenthesised expression already."""
    if expr.startswith("("):
        depth = 0
        tokens = list(tokenize.generate_tokens(io.StringIO(expr).readline))
        ends = [t.end[1] for t in tokens if t.type == tokenize.OP and t.string == ")"]
        for tok in tokens:  # brackets in string literals are inside STRING tokens, not OP ones
            if tok.type == tokenize.OP and tok.string in "()":
                depth += 1 if tok.string == "(" else -1
                if depth == 0:
                    if tok.end[1] == len(expr) and tok.end[1] == ends[-1]:
                        return expr
                    break
    return f"({expr})"


def _if(cond: str) -> list[str]:
    return [f"    if {cond}:", "        return False"]


def compile_check(schema: dict[str, Any]) -> Check | None:
    """A function obj -> True only if obj certainly satisfies `schema`; None if it cannot be compiled."""
    return _compile(schema, {}, ())  # type: ignore[return-value]


def compile_parse(schema: dict[str, Any], converters: dict[str, Converter],
                  outputs: tuple[str, ...]) -> Parse | None:
    """obj -> the converted `outputs` (properties whose pattern has a converter), or None if not certainly
    valid; the function itself is None if it cannot be compiled."""
    return _compile(schema, converters, outputs)  # type: ignore[return-value]


def _source(schema: dict[str, Any], converters: dict[str, Converter], outputs: tuple[str, ...], t: _Target,
            fname: str = "check") -> list[str]:
    """The lines of the function, or Unsupported."""
    unknown = set(schema) - _TOP_KEYWORDS
    if unknown or schema.get("type") != "object" or schema.get("additionalProperties", True) is not True:
        raise Unsupported(f"top level: {sorted(unknown)}")
    required = set(schema.get("required", []))
    props: dict[str, Any] = schema.get("properties", {})
    if required - set(props):
        raise Unsupported("required property without a definition")
    returns = "tuple[Any, ...] | None" if outputs else "bool"
    src = [f"def {fname}(d: dict[str, Any]) -> {returns}:"]
    index = {}
    for i, (name, spec) in enumerate(props.items()):
        conv = converters.get(spec.get("pattern", "")) if name in outputs else None
        if name in outputs and conv is None:
            raise Unsupported(f"{name}: no converter")
        index[name] = i
        src += _property(name, spec, name in required, t, i, conv)
    missing = set(outputs) - set(index)
    if missing:
        raise Unsupported(f"outputs without a property: {sorted(missing)}")
    src.append(f"    return ({''.join(f'c{index[n]}, ' for n in outputs)})" if outputs else "    return True")
    if outputs:  # "not certainly valid" is None here, not False
        src = [ln.replace("return False", "return None") for ln in src]
    return src


def _compile(schema: dict[str, Any], converters: dict[str, Converter], outputs: tuple[str, ...]) -> Any:
    t = _Target(prefix="check")
    try:
        function = _source(schema, converters, outputs, t)
    except Unsupported:
        return None
    env: dict[str, Any] = {}
    text = "\n".join(["from __future__ import annotations", "", *_imports(t.defs, t.imports), "",
                      *_constants(t.defs), "", *function])
    exec(text, env)  # generated from our own schema files, like fastjsonschema does
    return env["check"]


def _imports(defs: dict[str, str], imports: set[tuple[str, str]]) -> list[str]:
    """The import lines the generated functions need."""
    lines = ["import re", ""] if any(src.startswith("re.compile(") for src in defs.values()) else []
    lines += ["from collections.abc import Callable", "from typing import Any, Final", ""]
    by_module: dict[str, list[str]] = {}
    for module, name in imports:
        by_module.setdefault(module, []).append(name)
    return lines + [f"from {m} import {', '.join(sorted(by_module[m], key=lambda n: (n.lower(), n)))}"
                    for m in sorted(by_module)]


def _constants(defs: dict[str, str]) -> list[str]:
    """The module-level names the generated functions read."""
    return ["_M: Final = object()  # what d.get gives for an absent property",
            "_NS: Final = NOT_SURE  # a converter cannot vouch for the value",
            *(f"{name}: Final = {src}" for name, src in sorted(defs.items()))]


def inputs_digest(specs: dict[str, Spec]) -> str:
    """What the generated module was made from: each kind's schema, outputs, and converters by name."""
    data = {kind: [schema, list(outputs), {p: f"{c.__module__}.{c.__name__}" for p, c in sorted(converters.items())}]
            for kind, (schema, converters, outputs) in sorted(specs.items())}
    text = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def module_source(specs: dict[str, Spec]) -> str:
    """The text of checks_generated.py: compile_parse's function for each kind, as `parse_<kind>`, in a module
    that needs nothing from an exec environment (Unsupported if a schema cannot be compiled)."""
    functions: list[str] = []
    defs: dict[str, str] = {}
    imports: set[tuple[str, str]] = set()
    for kind, (schema, converters, outputs) in specs.items():
        if not outputs:
            raise Unsupported(f"{kind}: the module holds parse functions only")
        t = _Target(prefix=kind)
        functions.append("\n".join(_source(schema, converters, outputs, t, f"parse_{kind}")))
        defs.update(t.defs)
        imports |= t.imports
    names = f"schemas/{{{','.join(specs)}}}.schema.json" if len(specs) > 1 else f"schemas/{''.join(specs)}.schema.json"
    head = [
        f'"""Generated from {names}',
        f"by `{WRITE_COMMAND}` (medassist/engine/validator.py): do not edit.",
        "",
        "The fused check-and-convert functions of validator.compile_parse, written as a module so that mypyc",
        "compiles them (setup.py's COMPILED; the exec'd ones stay interpreted). events.py uses PARSERS while INPUTS",
        "is the digest of its current schemas, converters and outputs, and the exec'd functions otherwise (with a",
        "RuntimeWarning). tests/engine/test_checks_generated.py fails while this text differs from what the schemas",
        "and validator.py now give: after changing either, run the command above and commit the result.",
        '"""',
        "# ruff: noqa: E501",
        "",
        "from __future__ import annotations",
        "",
    ]
    head += _imports(defs, imports)
    head += ["", f"INPUTS: Final = {inputs_digest(specs)!r}  # validator.inputs_digest of what this was generated from"]
    head += _constants(defs)
    table = ["PARSERS: Final[dict[str, Callable[[dict[str, Any]], tuple[Any, ...] | None]]] = {"]
    table += [f"    {kind!r}: parse_{kind}," for kind in specs] + ["}"]
    return "\n\n\n".join(["\n".join(head), *functions, "\n".join(table)]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`--write`: (re)write checks_generated.py from the current schemas; `--check`: exit 1 if it is stale;
    neither: print the text."""
    args = sys.argv[1:] if argv is None else argv
    from medassist.engine.events import fused_specs  # here: events imports this module
    from medassist.engine.validator import GENERATED as path
    from medassist.engine.validator import module_source as source  # not __main__'s copy
    text = source(fused_specs())
    if "--write" in args:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        else:
            print(f"{path} is current")
        return 0
    if "--check" in args:
        current = path.exists() and path.read_text(encoding="utf-8") == text
        print(f"{path} is {'current' if current else f'stale: run {WRITE_COMMAND}'}")
        return 0 if current else 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
