"""The registries beside the policies: categories and their classes (vocabulary.yaml), refusal codes.

Data, not code: adding a category is an entry in vocabulary.yaml (and in the policies that name
it); nothing here lists one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

POLICY_DIR = Path(__file__).resolve().parents[1] / "policies"
VOCABULARY_FILE = "vocabulary.yaml"
REFUSAL_CODES_FILE = "refusal-codes.yaml"
REGISTRY_FILES = frozenset({VOCABULARY_FILE, REFUSAL_CODES_FILE, "operator-parameters.yaml"})


@dataclass(frozen=True, slots=True)
class Vocabulary:
    rank: dict[str, int]  # category -> rank, 1 is most favourable
    order: dict[str, int]  # category -> its place in the file (the last tie-breaker)
    application: frozenset[str]  # categories granted on application everywhere
    class_groups: dict[str, dict[str, str]]  # group -> event class -> rate key (dibao_class: urban_full -> ..._a)
    class_keys: dict[str, tuple[str, ...]]  # group -> rate keys, most favourable first
    names: dict[str, str]  # category -> Chinese name


class RegistryError(ValueError):
    """vocabulary.yaml or refusal-codes.yaml is not usable; the message says where."""


def _read(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise RegistryError(f"{path.name}: cannot read it: {e}") from None


def registry_dir(policy_dir: Path | None) -> Path:
    """The registries live beside the policies; a directory without them uses the package's."""
    if policy_dir is not None and (policy_dir / VOCABULARY_FILE).exists():
        return policy_dir
    return POLICY_DIR


def load_vocabulary(policy_dir: Path | None = None) -> Vocabulary:
    path = registry_dir(policy_dir) / VOCABULARY_FILE
    data = _read(path)
    if not isinstance(data, dict) or not isinstance(data.get("categories"), dict):
        raise RegistryError(f"{path.name}: needs `categories:` (code: {{rank: N, zh: ...}})")
    rank, order, names, application = {}, {}, {}, set()
    for i, (code, entry) in enumerate(data["categories"].items()):
        if not isinstance(entry, dict) or not isinstance(entry.get("rank"), int) or isinstance(entry["rank"], bool):
            raise RegistryError(f"{path.name}: categories.{code}: needs a whole-number rank")
        rank[str(code)] = entry["rank"]
        order[str(code)] = i
        names[str(code)] = str(entry.get("zh", ""))
        if entry.get("application"):
            application.add(str(code))
    groups: dict[str, dict[str, str]] = {}
    keys: dict[str, tuple[str, ...]] = {}
    for group, table in (data.get("class_groups") or {}).items():
        if not isinstance(table, dict):
            raise RegistryError(f"{path.name}: class_groups.{group}: a table rate key -> [classes]")
        groups[group] = {}
        for key, classes in table.items():
            for cls in classes or []:
                if cls in groups[group]:
                    raise RegistryError(f"{path.name}: class_groups.{group}: {cls!r} is in two groups")
                groups[group][str(cls)] = str(key)
        keys[group] = tuple(str(k) for k in table)
    return Vocabulary(rank, order, frozenset(application), groups, keys, names)


@dataclass(frozen=True, slots=True)
class RefusalCode:
    code: str
    status: tuple[str, ...]
    meaning: str
    rule: str
    dead_letter_only: bool = False


def load_refusal_codes(policy_dir: Path | None = None) -> dict[str, RefusalCode]:
    path = registry_dir(policy_dir) / REFUSAL_CODES_FILE
    data = _read(path)
    if not isinstance(data, dict):
        raise RegistryError(f"{path.name}: a mapping code -> {{status, meaning, rule}}")
    out = {}
    for code, e in data.items():
        if not isinstance(e, dict) or not {"status", "meaning", "rule"} <= set(e):
            raise RegistryError(f"{path.name}: {code}: needs status, meaning and rule")
        out[str(code)] = RefusalCode(str(code), tuple(e["status"]), str(e["meaning"]), str(e["rule"]),
                                     bool(e.get("dead_letter_only", False)))
    return out


def decision_reasons(codes: dict[str, RefusalCode]) -> list[str]:
    """The codes a decision's `reason` may carry (the schema's enum), in registry order."""
    return [c for c, e in codes.items() if not e.dead_letter_only]
