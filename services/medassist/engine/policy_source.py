"""Policy files as written: YAML read with the line of every key, dated parameters, edits at a key path.

A *parameter* is a mapping with `values:`, each value dated with the day it takes effect, its unit
and the clause it comes from::

    inpatient:
      values:
        2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}
        2024-07-01: {value: 30000, unit: yuan, ref: "§二(三)2"}

`materialise(data, day)` replaces every parameter by the value in force on `day`, giving the plain
tree the engine compiles. Key paths are written `caps.inpatient`, `lines[2].ratio.dibao`.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class Fault:
    """One thing wrong in a policy file: where it is, the bad value and what is allowed."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}"


@dataclass(slots=True)
class PolicySource:
    """One policy file as written (parameters still dated)."""

    path: Path
    data: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)  # key path -> 1-based line
    faults: list[Fault] = field(default_factory=list)  # found while reading (YAML, duplicate keys)

    @property
    def name(self) -> str:
        return self.path.name

    def line_of(self, path: str) -> int | None:
        """The line of `path`, else of its nearest enclosing key."""
        p = path
        while p:
            if p in self.lines:
                return self.lines[p]
            p = parent(p)
        return self.lines.get("", 1)


# ---- key paths ----------------------------------------------------------------------------------------------

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def parent(path: str) -> str:
    if path.endswith("]"):
        return path[:path.rindex("[")]
    return path.rpartition(".")[0]


def split_path(path: str) -> list[str | int]:
    """`lines[2].ratio.dibao` -> ['lines', 2, 'ratio', 'dibao']; a date key such as 2024-07-01 is one segment."""
    out: list[str | int] = []
    pos = 0
    for m in _SEGMENT.finditer(path):
        if m.start() != pos and path[pos:m.start()] != ".":
            raise ValueError(f"key path {path!r}: cannot read it at {path[pos:]!r}")
        out.append(int(m.group(2)) if m.group(2) is not None else m.group(1))
        pos = m.end()
    if pos != len(path) or not out:
        raise ValueError(f"key path {path!r}: cannot read it")
    return out


def display(path: str) -> str:
    return path or "(top)"


# ---- reading YAML with lines ------------------------------------------------------------------------------

_constructor = yaml.SafeLoader("")  # only its scalar constructors are used

_TAG = "tag:yaml.org,2002:"


def _scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag.removeprefix(_TAG)
    if tag == "null":
        return None
    if tag == "bool":
        return _constructor.construct_yaml_bool(node)
    if tag == "int":
        return _constructor.construct_yaml_int(node)
    if tag == "float":
        try:  # exact: 0.67 stays 0.67, never a binary fraction
            return Decimal(node.value.replace("_", ""))
        except InvalidOperation:
            return node.value
    return node.value  # strings, and dates kept as written (the checker judges them)


def _build(node: yaml.Node, path: str, src: PolicySource) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        out_list = []
        for i, item in enumerate(node.value):
            p = join(path, i)
            src.lines[p] = item.start_mark.line + 1
            out_list.append(_build(item, p, src))
        return out_list
    assert isinstance(node, yaml.MappingNode)
    out: dict[str, Any] = {}
    for knode, vnode in node.value:
        if not isinstance(knode, yaml.ScalarNode):
            src.faults.append(Fault(src.name, knode.start_mark.line + 1, display(path),
                                    "a key must be a plain word or date"))
            continue
        key = knode.value
        p = join(path, key)
        if key == "<<":
            src.faults.append(Fault(src.name, knode.start_mark.line + 1, display(path),
                                    "YAML merge keys (<<) are not allowed: write the keys out"))
            continue
        if key in out:
            src.faults.append(Fault(src.name, knode.start_mark.line + 1, p,
                                    f"{key!r} is written twice in this mapping (line {src.lines[p]} and here)"))
            continue
        src.lines[p] = knode.start_mark.line + 1
        out[key] = _build(vnode, p, src)
    return out


def read_source(path: Path, text: str | None = None) -> PolicySource:
    src = PolicySource(path, {})
    if text is None:
        text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        src.faults.append(Fault(path.name, mark.line + 1 if mark else None, "(top)",
                                f"not valid YAML: {getattr(e, 'problem', None) or e}"))
        return src
    if node is None or not isinstance(node, yaml.MappingNode):
        src.faults.append(Fault(path.name, 1, "(top)", "a policy file is a mapping of keys (policy_id: ...)"))
        return src
    src.lines[""] = 1
    src.data = _build(node, "", src)
    return src


# ---- dated parameters ----------------------------------------------------------------------------------------


def is_parameter(value: Any) -> bool:
    return isinstance(value, dict) and "values" in value


def real_date(text: Any) -> str | None:
    """`text` when it is a real day written YYYY-MM-DD, else None."""
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return None
    return text


def parameters(data: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every parameter of the tree, with its key path."""
    if is_parameter(data):
        yield path, data
        return
    if isinstance(data, dict):
        for k, v in data.items():
            yield from parameters(v, join(path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from parameters(v, join(path, i))


def dated(param: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(date, entry) of a parameter, oldest first; entries whose date is not a real day are left out."""
    values = param.get("values")
    if not isinstance(values, dict):
        return []
    out = [(d, e) for d, e in values.items() if real_date(d) and isinstance(e, dict)]
    return sorted(out, key=lambda t: t[0])


def change_days(data: dict[str, Any]) -> list[str]:
    """Every day on which some parameter of the file takes a new value."""
    days: set[str] = set()
    for _, param in parameters(data):
        days.update(d for d, _ in dated(param))
    return sorted(days)


_MISSING = object()


def in_force(param: dict[str, Any], day: str) -> tuple[str, dict[str, Any]] | None:
    found = None
    for d, entry in dated(param):
        if d <= day:
            found = (d, entry)
    return found


def materialise(data: Any, day: str, path: str = "",
                origin: dict[str, str] | None = None) -> Any:
    """The plain tree in force on `day`: each parameter replaced by its value then (absent when none yet).

    `origin` maps each parameter's path to the path of the dated value used, so a fault found in the
    plain tree points at the line where that value is written."""
    if is_parameter(data):
        found = in_force(data, day)
        if found is None:
            return _MISSING
        d, entry = found
        if origin is not None:
            origin[path] = join(join(join(path, "values"), d), "value")
        return copy.deepcopy(entry.get("value"))
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            m = materialise(v, day, join(path, k), origin)
            if m is not _MISSING:
                out[k] = m
        return out
    if isinstance(data, list):
        items = []
        for i, v in enumerate(data):
            m = materialise(v, day, join(path, i), origin)
            items.append(None if m is _MISSING else m)
        return items
    return data


def source_path(path: str, origin: dict[str, str]) -> str:
    """A key path of a materialised tree translated to where it is written in the file."""
    p = path
    while True:
        if p in origin:
            return origin[p] + path[len(p):]
        if not p:
            return path
        p = parent(p)


def refs(data: Any, day: str) -> dict[str, dict[str, Any]]:
    """Parameter path -> {value, unit, ref, since} in force on `day` (for `policy show`)."""
    out = {}
    for path, param in parameters(data):
        found = in_force(param, day)
        if found is not None:
            d, entry = found
            out[path] = {"value": entry.get("value"), "unit": entry.get("unit"), "ref": entry.get("ref"),
                         "since": d}
    return out


# ---- edits at a key path (what-if, revisions written by tools) ---------------------------------------------


def parse_value(text: str) -> Any:
    """A value given on a command line: YAML's reading of it (30000 -> int, 0.85 -> exact decimal)."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.ScalarNode):
        raise ValueError(f"{text!r}: give one number, word or date")
    return _scalar(node)


def set_value(src: PolicySource, key_path: str, value: Any, on: str | None = None) -> PolicySource:
    """A copy of `src` with `key_path` set to `value`.

    When the path names a parameter (`caps.inpatient`) or a key inside a parameter's table
    (`lines[2].ratio.dibao`, `caps.inpatient.dibao_edge`): with `on` None every dated value of it
    takes the new value; with `on` a date, a value dated `on` is added (unit and reference copied
    from the one in force then), so the days before keep the old value. Any other path is set as
    written. Raises KeyError for a path the file does not have. Check the result with
    `medassist.engine.policy.check_sources` (or build a book from it, which checks)."""
    out = PolicySource(src.path, copy.deepcopy(src.data), dict(src.lines), list(src.faults))
    segs = split_path(key_path)
    node: Any = out.data
    for i, seg in enumerate(segs):
        if is_parameter(node):
            _set_in_parameter(node, segs[i:], value, on, key_path)
            return out
        last = i == len(segs) - 1
        if isinstance(seg, int):
            if not isinstance(node, list) or seg >= len(node):
                raise KeyError(f"{key_path}: no item [{seg}] here")
        elif not isinstance(node, dict) or seg not in node:
            raise KeyError(f"{key_path}: no key {seg!r} here")
        if last:
            if is_parameter(node[seg]):
                _set_in_parameter(node[seg], [], value, on, key_path)
            else:
                node[seg] = value
            return out
        node = node[seg]
    return out


def _set_in_parameter(param: dict[str, Any], inner: list[str | int], value: Any, on: str | None,
                      key_path: str) -> None:
    values = param.get("values")
    if not isinstance(values, dict) or not values:
        raise KeyError(f"{key_path}: the parameter has no dated values")
    if on is None:
        targets = [e for e in values.values() if isinstance(e, dict)]
    else:
        if real_date(on) is None:
            raise ValueError(f"{on!r} is not a date (YYYY-MM-DD)")
        found = in_force(param, on)
        if found is None:
            raise KeyError(f"{key_path}: no value in force on {on} to revise")
        values[on] = copy.deepcopy(found[1])
        targets = [values[on]]
    for entry in targets:
        if not inner:
            entry["value"] = value
            continue
        holder = entry.get("value")
        for seg in inner[:-1]:
            holder = holder.get(seg) if isinstance(holder, dict) else None
        key = inner[-1]
        if not isinstance(holder, dict) or (not isinstance(key, str)):
            raise KeyError(f"{key_path}: the parameter's value has no table here")
        holder[key] = value
