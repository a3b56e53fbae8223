"""What a what-if changes: `POLICY:KEY.PATH=VALUE` assignments and whole variant policy files.

A `PolicySpec` is plain data (it crosses to the worker processes, which build their own books: a
compiled policy holds closures that do not pickle). `books(spec)` gives the baseline and the
variant; a path or value that does not exist or does not check raises `PolicyError` with the
policy checker's message, so the command refuses before it reads a single event.
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from medassist.engine.policy import POLICY_DIR, PolicyBook, PolicyError, compile_policy, load_operator_parameters

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


# ---- the policy files as data, and the one place that turns them into a book ----------------------------


def _read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise PolicyError(f"{path.name}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path.name}: (top): not a mapping")
    return data


def policy_files(directory: Path) -> list[Path]:
    return [p for p in sorted(directory.glob("*.yaml")) if p.name != "operator-parameters.yaml"]


def _sources(spec: PolicySpec) -> list[tuple[Path, dict[str, Any]]]:
    d = spec.policy_dir()
    return [(p, _read_yaml(p)) for p in policy_files(d)]


def _parse_value(text: str, old: Any) -> Any:
    if isinstance(old, str):  # ratios are written as exact decimal text ("0.85"), codes as text
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise PolicyError(f"{text!r}: not a value: {e}") from None


def _locate(data: dict[str, Any], path: str, name: str) -> tuple[Any, str | int]:
    """(holder, last key) of `path` in `data`; PolicyError naming the first segment that is not there."""
    segs = split_path(path)
    node: Any = data
    done = ""
    for i, seg in enumerate(segs):
        here = f"{done}[{seg}]" if isinstance(seg, int) else (f"{done}.{seg}" if done else seg)
        if isinstance(seg, int):
            if not isinstance(node, list) or seg >= len(node):
                raise PolicyError(f"{name}: {here}: no such item")
        elif not isinstance(node, dict) or seg not in node:
            have = ", ".join(str(k) for k in node) if isinstance(node, dict) else "none: not a table"
            raise PolicyError(f"{name}: {here}: no such key (keys here: {have})")
        if i == len(segs) - 1:
            return node, seg
        node = node[seg]
        done = here
    raise AssertionError("unreachable")


def _apply(sources: list[tuple[Path, dict[str, Any]]], assignment: str) -> list[tuple[Path, dict[str, Any]]]:
    pid, path, text = split_assignment(assignment)
    out = []
    found = False
    for p, data in sources:
        if data.get("policy_id") == pid:
            found = True
            data = copy.deepcopy(data)
            holder, key = _locate(data, path, p.name)
            holder[key] = _parse_value(text, holder[key])  # type: ignore[index]
        out.append((p, data))
    if not found:
        ids = ", ".join(str(d.get("policy_id")) for _, d in sources)
        raise PolicyError(f"{assignment!r}: no policy {pid!r} (policies: {ids})")
    return out


def _replace(sources: list[tuple[Path, dict[str, Any]]], path: str) -> list[tuple[Path, dict[str, Any]]]:
    data = _read_yaml(Path(path))
    pid = data.get("policy_id")
    if not any(d.get("policy_id") == pid for _, d in sources):
        ids = ", ".join(str(d.get("policy_id")) for _, d in sources)
        raise PolicyError(f"{path}: policy_id: no policy {pid!r} to replace (policies: {ids})")
    return [(Path(path), data) if d.get("policy_id") == pid else (p, d) for p, d in sources]


def _book(sources: list[tuple[Path, dict[str, Any]]]) -> PolicyBook:
    ops = load_operator_parameters()
    if not sources:
        raise PolicyError("no policy files")
    return PolicyBook([compile_policy(data, p, ops) for p, data in sources])


def variant_sources(spec: PolicySpec) -> list[tuple[Path, dict[str, Any]]]:
    sources = _sources(spec)
    for f in spec.variant_files:
        sources = _replace(sources, f)
    for a in spec.assignments:
        sources = _apply(sources, a)
    return sources


def changed_policy_ids(spec: PolicySpec) -> frozenset[str]:
    """The policies a change names (whether or not the value differs: a cautious over-estimate)."""
    ids = {split_assignment(a)[0] for a in spec.assignments}
    ids |= {str(_read_yaml(Path(f)).get("policy_id")) for f in spec.variant_files}
    return frozenset(ids)


def touched_prefixes(spec: PolicySpec, *books_: PolicyBook) -> tuple[str, ...]:
    """The admdvs prefixes of every changed policy, as each book has it (a variant may move a region)."""
    ids = changed_policy_ids(spec)
    return tuple(sorted({p.region_prefix for b in books_ for p in b.policies if p.policy_id in ids}))


def books(spec: PolicySpec) -> tuple[PolicyBook, PolicyBook]:
    """(baseline, variant): both checked as any policy file is; PolicyError when one does not check."""
    return _book(_sources(spec)), _book(variant_sources(spec))


def notes(spec: PolicySpec) -> list[ChangeNote]:
    """Each assignment with the value it replaces (plain JSON values, for the summary)."""
    sources = _sources(spec)
    out = []
    for a in spec.assignments:
        pid, path, text = split_assignment(a)
        before = None
        for p, data in sources:
            if data.get("policy_id") == pid:
                holder, key = _locate(data, path, p.name)
                before = holder[key]  # type: ignore[index]
        sources = _apply(sources, a)
        after = None
        for p, data in sources:
            if data.get("policy_id") == pid:
                holder, key = _locate(data, path, p.name)
                after = holder[key]  # type: ignore[index]
        out.append(ChangeNote(pid, path, _plain(before), _plain(after)))
    return out


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def write_variant_dir(spec: PolicySpec, out: Path) -> Path:
    """The variant's policy files in `out` (for a shadow group's MEDASSIST_POLICIES)."""
    out.mkdir(parents=True, exist_ok=True)
    src = spec.policy_dir()
    for p in sorted(src.glob("*.yaml")):
        if p not in policy_files(src):  # registries (operator parameters): as they are
            (out / p.name).write_bytes(p.read_bytes())
    for p, data in variant_sources(spec):
        name = p.name if p.parent == src else f"{data.get('policy_id')}.yaml"
        for old in policy_files(src):  # a replaced policy's own file must not stay beside it
            if old.name != name and _read_yaml(old).get("policy_id") == data.get("policy_id"):
                (out / old.name).unlink(missing_ok=True)
        (out / name).write_text(yaml.safe_dump(_plain(data), allow_unicode=True, sort_keys=False),
                                encoding="utf-8")
    return out
