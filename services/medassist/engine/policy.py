"""Policy files (YAML, one per policy version) loaded, validated and compiled.

A file is checked against `schemas/policy.schema.json`; an error names the file
and the field. Compilation turns yuan into fen, ratios into exact `Ratio`s and
`when:` conditions into predicates, so deciding touches no YAML.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

import fastjsonschema
import yaml

from medassist.engine.events import Settlement, normalise_icd
from medassist.engine.money import Ratio, to_fen
from medassist.monitoring.rules import WarningRule, compile_warnings
from medassist.schemas import load_schema

POLICY_DIR = Path(__file__).resolve().parents[1] / "policies"


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the field."""


# A condition sees the settlement and the person's residence (settlement's, else civil affairs').
Predicate = Callable[[Settlement, "str | None"], bool]


@dataclass(frozen=True, slots=True)
class Line:
    rule: str
    when: Predicate
    deductible: str | None
    caps: tuple[str, ...]
    ratio: dict[str, Ratio]  # rate key -> ratio; a key absent here gets no regular assistance
    burden: bool  # adds its burden after three systems to the tilt


@dataclass(frozen=True, slots=True)
class Supplement:
    rule: str
    lines: frozenset[str]
    when: Predicate
    ratio: dict[str, Ratio]
    caps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tilt:
    rule: str
    mode: str  # "annual" (incremental over the year's burden) or "per_visit"
    threshold_fen: int
    inclusive: bool
    ratio: dict[str, Ratio]
    default_ratio: Ratio | None
    cap: str | None
    when: Predicate

    def ratio_for(self, key: str) -> Ratio | None:
        return self.ratio.get(key, self.default_ratio)


@dataclass(frozen=True, slots=True)
class CategoryRule:
    name: str
    payee: str | None = None
    manual_review: str | None = None
    classes: dict[str, str] | None = None
    class_missing: str | None = None
    until: str | None = None
    after: str | None = None


@dataclass(frozen=True, slots=True)
class PremiumRule:
    ratio: Ratio | None = None
    ratio_by_year: tuple[tuple[int, Ratio], ...] = ()
    ratio_by_residence: dict[str, Ratio] | None = None
    tier2_full: bool = False
    fixed_amount: str | None = None  # operator parameter name, yuan by year

    def ratio_for_year(self, year: int) -> Ratio | None:
        found = None
        for y, r in self.ratio_by_year:  # dated values: the last one not after `year`
            if y <= year:
                found = r
        return found


@dataclass(frozen=True, slots=True)
class Policy:
    policy_id: str
    name: str
    region: str
    region_prefix: str
    effective_from: str
    effective_to: str | None
    payer_level: str
    takes_effect: str
    application_categories: frozenset[str]
    reach_back_months: int
    insured_required: bool
    designated_exceptions: frozenset[str]
    referral_required_locations: frozenset[str]
    remote_days: int | None
    categories: dict[str, CategoryRule]
    deductibles: dict[str, dict[str, int]]
    caps: dict[str, tuple[int, dict[str, int]]]
    lines: tuple[Line, ...]
    supplements: tuple[Supplement, ...]
    tilt: Tilt | None
    premium_insutypes: frozenset[str]
    premium: dict[str, PremiumRule]
    resident_fund_insutypes: frozenset[str]
    source: str = ""
    operator: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[WarningRule, ...] = ()  # early warnings (monitoring/)
    funds: dict[str, Any] = field(default_factory=dict)  # fund-account checks (ledger/), as in the file

    def in_force(self, day: str) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def covers(self, admdvs: str) -> bool:
        return admdvs.startswith(self.region_prefix)

    def cap_limit(self, cap: str, key: str, category: str) -> int:
        default, per = self.caps[cap]
        return per.get(key, per.get(category, default))

    def deductible(self, pool: str, key: str, category: str) -> int:
        table = self.deductibles.get(pool, {})
        return table.get(key, table.get(category, 0))

    def payer_admdvs(self, admdvs: str) -> str:
        return self.region if self.payer_level == "city" else admdvs


def region_prefix(region: str) -> str:
    """130300 (a city) covers 1303xx; 500154 (a district) covers itself only."""
    p = region
    while p.endswith("00") and len(p) > 2:
        p = p[:-2]
    return p


# ---- conditions -------------------------------------------------------------------------------


def _icd_range(spec: str) -> tuple[str, str]:
    lo, _, hi = spec.partition("-")
    lo_n = normalise_icd(lo)
    return lo_n, normalise_icd(hi) if hi else lo_n


def _icd_in(code: str, ranges: Iterable[tuple[str, str]]) -> bool:
    for lo, hi in ranges:
        n = len(lo)  # compare at the range's own precision: C00-C97 takes C50901
        if len(code) >= n and lo <= code[:n] <= hi[:n]:
            return True
    return False


def _diagnosis_list(entries: list[dict[str, Any]]) -> Predicate:
    compiled = []
    for e in entries:
        compiled.append((
            [_icd_range(c) for c in e["codes"]],
            [_icd_range(c) for c in e.get("except", [])],
            e.get("max_age"),
            frozenset(e["gend"]) if "gend" in e else None,
            frozenset(e["residence"]) if "residence" in e else None,
            frozenset(e["not_residence"]) if "not_residence" in e else None,
        ))

    def match(s: Settlement, residence: str | None) -> bool:
        code = s.dise_codg
        if not code:
            return False
        for codes, excl, max_age, gend, res, not_res in compiled:
            if not _icd_in(code, codes) or (excl and _icd_in(code, excl)):
                continue
            if max_age is not None and (s.age is None or s.age > max_age):
                continue
            if gend is not None and s.gend not in gend:
                continue
            if res is not None and residence not in res:
                continue
            if not_res is not None and residence in not_res:
                continue
            return True
        return False

    return match


def _med_type_in(allowed: frozenset[str]) -> Predicate:
    def test(s: Settlement, r: str | None) -> bool:
        return s.med_type in allowed
    return test


def _med_type_prefix(prefixes: tuple[str, ...]) -> Predicate:
    def test(s: Settlement, r: str | None) -> bool:
        return s.med_type.startswith(prefixes)
    return test


def _attr_in(key: str, allowed: frozenset[Any]) -> Predicate:
    get = attrgetter(key)

    def test(s: Settlement, r: str | None) -> bool:
        return get(s) in allowed
    return test


def _flag_is(key: str, value: bool) -> Predicate:
    get = attrgetter(key)

    def test(s: Settlement, r: str | None) -> bool:
        return get(s) is value
    return test


def _inscp_above(limit: int) -> Predicate:
    def test(s: Settlement, r: str | None) -> bool:
        return s.inscp_fen > limit
    return test


def _any(alts: list[Predicate]) -> Predicate:
    def test(s: Settlement, r: str | None) -> bool:
        for t in alts:  # a plain loop: any() over a generator costs a frame per call
            if t(s, r):
                return True
        return False
    return test


def _not(inner: Predicate) -> Predicate:
    def test(s: Settlement, r: str | None) -> bool:
        return not inner(s, r)
    return test


def _all(tests: list[Predicate]) -> Predicate:
    if len(tests) == 2:  # the common case, without a generator per call
        first, second = tests

        def both(s: Settlement, r: str | None) -> bool:
            return first(s, r) and second(s, r)
        return both

    def every(s: Settlement, r: str | None) -> bool:
        for t in tests:
            if not t(s, r):
                return False
        return True
    return every


def _always(s: Settlement, r: str | None) -> bool:
    return True


def compile_condition(spec: dict[str, Any], diagnoses: dict[str, Predicate], where: str) -> Predicate:
    tests: list[Predicate] = []
    for key, value in spec.items():
        if key == "med_type":
            tests.append(_med_type_in(frozenset(value)))
        elif key == "med_type_prefix":
            tests.append(_med_type_prefix(tuple(value)))
        elif key in ("opsp_kind", "hosp_lv", "location"):
            tests.append(_attr_in(key, frozenset(value)))
        elif key in ("referral", "emergency", "special_disease", "major_disease", "inpatient_rated"):
            tests.append(_flag_is(key, value))
        elif key == "inscp_scp_amt_above":
            tests.append(_inscp_above(to_fen(value)))
        elif key == "diagnosis":
            if value not in diagnoses:
                raise PolicyError(f"{where}.diagnosis: no list {value!r} under diagnoses")
            tests.append(diagnoses[value])
        elif key == "any":
            tests.append(_any([compile_condition(c, diagnoses, f"{where}.any") for c in value]))
        elif key == "not":
            tests.append(_not(compile_condition(value, diagnoses, f"{where}.not")))
        else:  # the schema already refuses unknown keys; this guards a schema/engine mismatch
            raise PolicyError(f"{where}.{key}: unknown condition")
    if not tests:
        return _always
    if len(tests) == 1:
        return tests[0]
    return _all(tests)


# ---- loading ----------------------------------------------------------------------------------

# Compiled on first use. Declared: mypyc (setup.py) enforces a module global's type at run time.
_validate_policy: Callable[[Any], Any] | None = None


def _schema_check(data: dict[str, Any], path: Path) -> None:
    global _validate_policy
    if _validate_policy is None:
        _validate_policy = fastjsonschema.compile(load_schema("policy"))
    try:
        _validate_policy(data)
    except fastjsonschema.JsonSchemaValueException as e:
        where = (e.name or "data").removeprefix("data").lstrip(".") or "(top)"
        raise PolicyError(f"{path.name}: {where}: {e.message}") from None


def _ratios(table: dict[str, str], where: str) -> dict[str, Ratio]:
    try:
        return {k: Ratio.parse(v) for k, v in table.items()}
    except ValueError as e:
        raise PolicyError(f"{where}: {e}") from None


def compile_policy(data: dict[str, Any], path: Path, operator: dict[str, Any]) -> Policy:
    # YAML keys such as years arrive as ints; the schema speaks JSON, so normalise first.
    data = json.loads(json.dumps(data, default=str))
    _schema_check(data, path)
    name = path.name
    cats = data["categories"]
    diagnoses = {k: _diagnosis_list(v) for k, v in data.get("diagnoses", {}).items()}
    caps: dict[str, tuple[int, dict[str, int]]] = {}
    for cap, v in data["caps"].items():
        if isinstance(v, dict):
            caps[cap] = (to_fen(v["default"]), {k: to_fen(x) for k, x in v.items() if k != "default"})
        else:
            caps[cap] = (to_fen(v), {})

    def check_caps(names: list[str], where: str) -> tuple[str, ...]:
        for c in names:
            if c not in caps:
                raise PolicyError(f"{name}: {where}: cap {c!r} is not defined under caps")
        return tuple(names)

    deductibles = {pool: {k: to_fen(v) for k, v in t.items()} for pool, t in data["deductibles"].items()}
    lines = []
    for i, ln in enumerate(data["lines"]):
        where = f"lines[{i}]"
        pool = ln.get("deductible")
        if pool is not None and pool not in deductibles:
            raise PolicyError(f"{name}: {where}.deductible: pool {pool!r} is not defined")
        lines.append(Line(ln["rule"], compile_condition(ln["when"], diagnoses, f"{name}: {where}.when"),
                          pool, check_caps(ln.get("caps", []), where),
                          _ratios(ln.get("ratio", {}), f"{name}: {where}.ratio"), ln.get("burden", False)))
    sups = tuple(
        Supplement(s["rule"], frozenset(s["lines"]),
                   compile_condition(s["when"], diagnoses, f"{name}: supplements[{i}].when"),
                   _ratios(s["ratio"], f"{name}: supplements[{i}].ratio"),
                   check_caps(s["caps"], f"supplements[{i}]"))
        for i, s in enumerate(data.get("supplements", []))
    )
    tilt = None
    if "tilt" in data:
        t = data["tilt"]
        ratios = _ratios(t["ratio"], f"{name}: tilt.ratio")
        tilt = Tilt(t["rule"], t["mode"], to_fen(t["threshold"]), t["threshold_inclusive"],
                    ratios, ratios.pop("default", None),
                    check_caps([t["cap"]], "tilt")[0] if t["cap"] else None,
                    compile_condition(t.get("when", {}), diagnoses, f"{name}: tilt.when"))
    premium: dict[str, PremiumRule] = {}
    ps = data.get("premium_subsidy", {"insutypes": [], "categories": {}})
    for cat, p in ps["categories"].items():
        where = f"{name}: premium_subsidy.categories.{cat}"
        if "fixed_amount" in p and p["fixed_amount"] not in operator:
            raise PolicyError(f"{where}.fixed_amount: no operator parameter {p['fixed_amount']!r}")
        premium[cat] = PremiumRule(
            ratio=Ratio.parse(p["ratio"]) if "ratio" in p else None,
            ratio_by_year=tuple(sorted((int(y), Ratio.parse(r)) for y, r in p.get("ratio_by_year", {}).items())),
            ratio_by_residence=_ratios(p["ratio_by_residence"], where) if "ratio_by_residence" in p else None,
            tier2_full=p.get("tier2") == "tier1_contribution",
            fixed_amount=p.get("fixed_amount"),
        )
    el, adm = data["eligibility"], data["admission"]
    if el["reach_back_months"] and any(w["measure"] == "year_total" for w in data.get("early_warnings", [])):
        # A reach-back re-records the settlement and would drop the year total's undo from it.
        raise PolicyError(f"{name}: early_warnings: a year_total warning cannot go with reach_back_months")
    if data["effective_to"] is not None and data["effective_to"] < data["effective_from"]:
        raise PolicyError(f"{name}: effective_to: before effective_from")
    return Policy(
        policy_id=data["policy_id"], name=data["name"], region=data["region"],
        region_prefix=region_prefix(data["region"]),
        effective_from=data["effective_from"], effective_to=data["effective_to"],
        payer_level=data["payer_level"], takes_effect=el["takes_effect"],
        application_categories=frozenset(el["application_categories"]),
        reach_back_months=el["reach_back_months"],
        insured_required=adm["insured_required"],
        designated_exceptions=frozenset(adm["designated_exceptions"]),
        referral_required_locations=frozenset(adm["referral_required_locations"]),
        remote_days=adm["remote_inpatient_registration_days"],
        categories={c: CategoryRule(c, **v) for c, v in cats.items()},
        deductibles=deductibles, caps=caps, lines=tuple(lines), supplements=sups, tilt=tilt,
        premium_insutypes=frozenset(ps["insutypes"]), premium=premium,
        resident_fund_insutypes=frozenset(data.get("payees", {}).get("resident_fund_insutypes", [])),
        source=str(path), operator=operator,
        warnings=compile_warnings(data.get("early_warnings", [])), funds=data.get("funds", {}),
    )


def load_operator_parameters(path: Path | None = None) -> dict[str, Any]:
    env = os.environ.get("MEDASSIST_OPERATOR_PARAMETERS")
    p = path or (Path(env) if env else POLICY_DIR / "operator-parameters.yaml")
    with p.open(encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    return json.loads(json.dumps(data, default=str))  # type: ignore[no-any-return]


class PolicyBook:
    """All policy versions; routes a region and a date to the one in force."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self.policies = sorted(policies, key=lambda p: (-len(p.region_prefix), p.effective_from))
        ids = [p.policy_id for p in self.policies]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise PolicyError(f"policy ids defined twice: {sorted(dup)}")
        self.by_id = {p.policy_id: p for p in self.policies}
        self._by_region: dict[str, list[Policy]] = {}
        # (admdvs, day) -> the policy in force: a year of events names a few hundred days per region.
        self._routes: dict[tuple[str, str], Policy | None] = {}

    def candidates(self, admdvs: str) -> list[Policy]:
        found = self._by_region.get(admdvs)
        if found is None:
            found = [p for p in self.policies if p.covers(admdvs)]
            self._by_region[admdvs] = found
        return found

    def route(self, admdvs: str, day: str) -> Policy | None:
        key = (admdvs, day)
        try:
            return self._routes[key]
        except KeyError:
            pass
        found = None
        for p in self.candidates(admdvs):  # the most specific region first
            if p.in_force(day):
                found = p
                break
        if len(self._routes) < 1_000_000:  # bounded: hostile input must not grow it for ever
            self._routes[key] = found
        return found


def load_policies(directory: Path | None = None, operator: dict[str, Any] | None = None) -> PolicyBook:
    d = directory or Path(os.environ.get("MEDASSIST_POLICIES", POLICY_DIR))
    ops = operator if operator is not None else load_operator_parameters()
    out = []
    for path in sorted(d.glob("*.yaml")):
        if path.name == "operator-parameters.yaml":
            continue
        with path.open(encoding="utf-8") as f:
            try:
                data = yaml.safe_load(f)
            except yaml.YAMLError as e:
                raise PolicyError(f"{path.name}: not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise PolicyError(f"{path.name}: (top): not a mapping")
        out.append(compile_policy(data, path, ops))
    if not out:
        raise PolicyError(f"no policy files in {d}")
    return PolicyBook(out)
