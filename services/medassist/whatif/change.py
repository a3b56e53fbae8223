"""What a what-if changes: `POLICY:KEY.PATH=VALUE` assignments and whole variant policy files.

A `PolicySpec` is plain data (it crosses to the worker processes, which build their own books: a
compiled policy holds closures that do not pickle). `books(spec)` gives the baseline and the
variant; a path or value that does not exist or does not check raises `PolicyError` with the
policy checker's message, so the command refuses before it reads a single event.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from medassist.engine.policy import (
    POLICY_DIR,
    PolicyBook,
    PolicyError,
    build_book,
    policy_files,
    read_sources,
    with_change,
)
from medassist.engine.policy_source import PolicySource, is_parameter, read_source

ASSIGNMENT = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*:\s*([^=\s]+)\s*=\s*(.*?)\s*$")
SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class PolicySpec:
    """The baseline's directory and the changes that make the variant from it."""

    directory: str | None = None  # None: MEDASSIST_POLICIES, else the packaged policies
    assignments: tuple[str, ...] = ()  # "qinhuangdao-2023:caps.inpatient=30000"
    variant_files: tuple[str, ...] = ()  # whole policy files replacing the one with their policy_id
    title: str | None = None  # a change file's own words for the summary

    def policy_dir(self) -> Path:
        return Path(self.directory or os.environ.get("MEDASSIST_POLICIES") or POLICY_DIR)

    @property
    def empty(self) -> bool:
        return not self.assignments and not self.variant_files


@dataclass(frozen=True)
class ChangeNote:
    """One assignment as the summary tells it: the value before and after."""

    policy_id: str
    path: str
    before: Any
    after: Any


def split_assignment(text: str) -> tuple[str, str, str]:
    m = ASSIGNMENT.match(text)
    if m is None or not m.group(3):
        raise PolicyError(f"{text!r}: write POLICY:KEY.PATH=VALUE, e.g. qinhuangdao-2023:caps.inpatient=30000")
    return m.group(1), m.group(2), m.group(3)


def split_path(path: str) -> list[str | int]:
    segs: list[str | int] = []
    for m in SEGMENT.finditer(path):
        segs.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
    if not segs or "".join(f".{s}" if isinstance(s, str) else f"[{s}]" for s in segs).lstrip(".") != path:
        raise PolicyError(f"{path!r}: not a key path (write caps.inpatient or lines[2].ratio.dibao)")
    return segs


def read_change_file(path: str) -> tuple[list[str], list[str], str | None]:
    """(assignments, variant files, title) of a `--change` file.

    Either a whole policy file (it has a `policy_id`: it replaces that policy) or a list of changes:
    `set: ["qinhuangdao-2023:caps.inpatient=30000", ...]` with an optional `title:`.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise PolicyError(f"{path}: cannot read: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise PolicyError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: (top): a mapping with set: [...] or a whole policy file")
    if "policy_id" in data:
        return [], [path], None
    sets = data.get("set")
    if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets) or not sets:
        raise PolicyError(f"{path}: set: a list of POLICY:KEY.PATH=VALUE texts")
    unknown = sorted(set(data) - {"set", "title"})
    if unknown:
        raise PolicyError(f"{path}: {unknown[0]}: unknown key (allowed: set, title)")
    title = data.get("title")
    return list(sets), [], str(title) if title is not None else None


def spec_from_args(sets: list[str], change_files: list[str], directory: str | None) -> PolicySpec:
    assignments = list(sets)
    files: list[str] = []
    title = None
    for path in change_files:
        a, v, t = read_change_file(path)
        assignments += a
        files += v
        title = title or t
    for text in assignments:
        split_assignment(text)  # the form, before anything is loaded
    return PolicySpec(directory, tuple(assignments), tuple(files), title)


# ---- the policy files as written (dated parameters), and the one place that turns them into books -------


def _replace(sources: list[PolicySource], path: str) -> list[PolicySource]:
    new = read_source(Path(path))
    pid = new.data.get("policy_id")
    if not any(s.data.get("policy_id") == pid for s in sources):
        ids = ", ".join(str(s.data.get("policy_id")) for s in sources)
        raise PolicyError(f"{path}: policy_id: no policy {pid!r} to replace (policies: {ids})")
    return [new if s.data.get("policy_id") == pid else s for s in sources]


def variant_sources(spec: PolicySpec) -> list[PolicySource]:
    """The baseline's files with the variant files put in and every assignment applied (every dated
    value of the parameter takes the new value, as `with_change` does with no date)."""
    sources = read_sources(spec.policy_dir())
    for f in spec.variant_files:
        sources = _replace(sources, f)
    for a in spec.assignments:
        sources = with_change(sources, a)
    return sources


def changed_policy_ids(spec: PolicySpec) -> frozenset[str]:
    """The policies a change names (whether or not the value differs: a cautious over-estimate)."""
    ids = {split_assignment(a)[0] for a in spec.assignments}
    ids |= {str(read_source(Path(f)).data.get("policy_id")) for f in spec.variant_files}
    return frozenset(ids)


def touched_prefixes(spec: PolicySpec, *books_: PolicyBook) -> tuple[str, ...]:
    """The admdvs prefixes of every changed policy, as each book has it (a variant may move a region)."""
    ids = changed_policy_ids(spec)
    return tuple(sorted({p.region_prefix for b in books_ for p in b.policies if p.policy_id in ids}))


def books(spec: PolicySpec) -> tuple[PolicyBook, PolicyBook]:
    """(baseline, variant), each checked by the policy checker as any policy directory is: a change
    that does not check raises PolicyError with the checker's message."""
    d = spec.policy_dir()
    return build_book(read_sources(d), None, d), build_book(variant_sources(spec), None, d)


def _values_at(data: Any, segs: list[str | int]) -> list[Any]:
    """Every value at a key path, through dated parameters (one per dated value)."""
    if is_parameter(data):
        out = []
        for entry in data["values"].values():
            out += _values_at(entry.get("value") if isinstance(entry, dict) else None, segs)
        return out
    if not segs:
        return [data]
    seg = segs[0]
    if isinstance(seg, int):
        return _values_at(data[seg], segs[1:]) if isinstance(data, list) and seg < len(data) else []
    return _values_at(data[seg], segs[1:]) if isinstance(data, dict) and seg in data else []


def _one(values: list[Any]) -> Any:
    distinct = []
    for v in (_plain(x) for x in values):
        if v not in distinct:
            distinct.append(v)
    return distinct[0] if len(distinct) == 1 else distinct or None


def notes(spec: PolicySpec) -> list[ChangeNote]:
    """Each assignment with the value it replaces (plain JSON values; a list where dated values differ)."""
    sources = read_sources(spec.policy_dir())
    out = []
    for a in spec.assignments:
        pid, path, _ = split_assignment(a)
        segs = split_path(path)
        before = [v for s in sources if s.data.get("policy_id") == pid for v in _values_at(s.data, segs)]
        sources = with_change(sources, a)
        after = [v for s in sources if s.data.get("policy_id") == pid for v in _values_at(s.data, segs)]
        out.append(ChangeNote(pid, path, _one(before), _one(after)))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else str(value)
    return json.loads(json.dumps(value, default=str))


class _Dumper(yaml.SafeDumper):
    """Writes a Decimal as the YAML number it was read from (the reader takes it back exactly)."""


_Dumper.add_representer(Decimal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:float", str(v)))


def write_variant_dir(spec: PolicySpec, out: Path) -> Path:
    """The variant's policy directory (for a shadow group's MEDASSIST_POLICIES): registries as they are,
    the changed policies written out, the others copied."""
    out.mkdir(parents=True, exist_ok=True)
    src = spec.policy_dir()
    own = {p.name for p in policy_files(src)}
    for p in sorted(src.glob("*.yaml")):
        if p.name not in own:  # vocabulary, refusal codes, operator parameters
            (out / p.name).write_bytes(p.read_bytes())
    for s in variant_sources(spec):
        name = f"{s.data.get('policy_id')}.yaml"
        (out / name).write_text(yaml.dump(s.data, Dumper=_Dumper, allow_unicode=True, sort_keys=False),
                                encoding="utf-8")
    return out
