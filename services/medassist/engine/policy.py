"""Policy files loaded, checked and compiled.

A file (policy_source.py) holds dated parameters; policy_check.py finds every fault, each named by
file, line, key path, bad value and what is allowed; nothing with a fault is compiled. Compilation
makes one `Policy` per span of days over which no value changes (its `version`), turning yuan into
fen, ratios into exact `Ratio`s and `when:` conditions into predicates, so deciding touches no YAML.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import Any

import yaml

from medassist.engine import policy_check
from medassist.engine.dates import add_days
from medassist.engine.events import Settlement, normalise_icd
from medassist.engine.money import Ratio, to_fen
from medassist.engine.policy_check import Window
from medassist.engine.policy_source import (
    Fault,
    PolicySource,
    change_days,
    materialise,
    parse_value,
    read_source,
    set_value,
)
from medassist.engine.rules.warning_rules import WarningRule, compile_warnings
from medassist.engine.vocabulary import (
    POLICY_DIR,
    REGISTRY_FILES,
    RegistryError,
    Vocabulary,
    load_refusal_codes,
    load_vocabulary,
)


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
    ratio: Ratio | None = None  # by year: the version in force on 1 January of the year decides
    ratio_by_residence: dict[str, Ratio] | None = None
    tier2_full: bool = False
    fixed_amount: str | None = None  # operator parameter name, yuan by year


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
    warnings: tuple[WarningRule, ...] = ()  # early warnings (rules/warning_rules.py; published by monitoring/)
    funds: dict[str, Any] = field(default_factory=dict)  # fund-account checks (ledger/), as in the file
    version: str = ""  # policy_id@first day of this span of values: what every decision names
    refs: dict[str, str] = field(default_factory=dict)  # rule -> clause reference, on each decision line
    rank: dict[str, int] = field(default_factory=dict)  # category -> rank (vocabulary.yaml), 1 is best
    order: dict[str, int] = field(default_factory=dict)  # category -> place in the vocabulary: last tie-break
    class_rank: dict[str, int] = field(default_factory=dict)  # class rate key -> place in its group

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


# ---- compiling one day's plain tree ----------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Exact decimals as their text: the engine reads amounts and ratios from text, never floats."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _ratios(table: dict[str, Any]) -> dict[str, Ratio]:
    return {k: Ratio.parse(str(v)) for k, v in table.items()}


def compile_policy(data: dict[str, Any], path: Path, operator: dict[str, Any], vocab: Vocabulary,
                   start: str, end: str | None) -> Policy:
    """The plain tree in force from `start` to `end` (checked already) as the engine's `Policy`."""
    data = _jsonable(data)
    diagnoses = {k: _diagnosis_list(v) for k, v in data.get("diagnoses", {}).items()}
    caps: dict[str, tuple[int, dict[str, int]]] = {}
    for cap, v in data["caps"].items():
        if isinstance(v, dict):
            caps[cap] = (to_fen(v["default"]), {k: to_fen(x) for k, x in v.items() if k != "default"})
        else:
            caps[cap] = (to_fen(v), {})
    deductibles = {pool: {k: to_fen(v) for k, v in t.items()} for pool, t in data["deductibles"].items()}
    refs: dict[str, str] = {}
    lines = []
    for i, ln in enumerate(data["lines"]):
        refs.setdefault(ln["rule"], ln["ref"])
        lines.append(Line(ln["rule"], compile_condition(ln["when"], diagnoses, f"{path.name}: lines[{i}].when"),
                          ln.get("deductible"), tuple(ln.get("caps", [])), _ratios(ln.get("ratio", {})),
                          ln.get("burden", False)))
    sups = []
    for i, sp in enumerate(data.get("supplements", [])):
        refs.setdefault(sp["rule"], sp["ref"])
        sups.append(Supplement(sp["rule"], frozenset(sp["lines"]),
                               compile_condition(sp["when"], diagnoses, f"{path.name}: supplements[{i}].when"),
                               _ratios(sp["ratio"]), tuple(sp["caps"])))
    tilt = None
    if "tilt" in data:
        t = data["tilt"]
        refs.setdefault(t["rule"], t["ref"])
        ratios = _ratios(t["ratio"])
        tilt = Tilt(t["rule"], t["mode"], to_fen(t["threshold"]), t["threshold_inclusive"],
                    ratios, ratios.pop("default", None), t["cap"],
                    compile_condition(t.get("when", {}), diagnoses, f"{path.name}: tilt.when"))
    premium: dict[str, PremiumRule] = {}
    ps = data.get("premium_subsidy", {"insutypes": [], "categories": {}, "ref": ""})
    refs.setdefault("premium_subsidy", ps.get("ref", ""))
    for cat, p in ps["categories"].items():
        premium[cat] = PremiumRule(
            ratio=Ratio.parse(p["ratio"]) if "ratio" in p else None,
            ratio_by_residence=_ratios(p["ratio_by_residence"]) if "ratio_by_residence" in p else None,
            tier2_full=p.get("tier2") == "tier1_contribution",
            fixed_amount=p.get("fixed_amount"),
        )
    categories = {}
    for c, v in data["categories"].items():
        group = v.get("classes")
        categories[c] = CategoryRule(
            c, payee=v.get("payee"), manual_review=v.get("manual_review"),
            classes=dict(vocab.class_groups[group]) if group else None,
            class_missing=v.get("class_missing"), until=v.get("until"), after=v.get("after"))
    class_rank = {key: i for keys in vocab.class_keys.values() for i, key in enumerate(keys)}
    el, adm = data["eligibility"], data["admission"]
    return Policy(
        policy_id=data["policy_id"], name=data["document"]["title"], region=data["region"],
        region_prefix=region_prefix(data["region"]),
        effective_from=start, effective_to=end,
        payer_level=data["payer_level"], takes_effect=el["takes_effect"],
        application_categories=frozenset(el["application_categories"]),
        reach_back_months=el.get("reach_back_months") or 0,
        insured_required=adm["insured_required"],
        designated_exceptions=frozenset(adm["designated_exceptions"]),
        referral_required_locations=frozenset(adm["referral_required_locations"]),
        remote_days=adm.get("remote_inpatient_registration_days"),
        categories=categories,
        deductibles=deductibles, caps=caps, lines=tuple(lines), supplements=tuple(sups), tilt=tilt,
        premium_insutypes=frozenset(ps["insutypes"]), premium=premium,
        resident_fund_insutypes=frozenset(data.get("payees", {}).get("resident_fund_insutypes", [])),
        source=str(path), operator=operator,
        warnings=compile_warnings(data.get("early_warnings", [])), funds=data.get("funds", {}),
        version=f"{data['policy_id']}@{start}", refs=refs,
        rank={c: vocab.rank.get(c, 99) for c in categories},
        order={c: vocab.order.get(c, 99) for c in categories}, class_rank=class_rank,
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
        self.by_version = {p.version: p for p in self.policies}
        self.by_id: dict[str, Policy] = {}  # policy_id -> its first version
        for p in self.policies:
            if p.policy_id not in self.by_id or p.effective_from < self.by_id[p.policy_id].effective_from:
                self.by_id[p.policy_id] = p
        self._by_region: dict[str, list[Policy]] = {}
        # (admdvs, day) -> the policy in force: a year of events names a few hundred days per region.
        self._routes: dict[tuple[str, str], Policy | None] = {}

    def versions(self, policy_id: str) -> list[Policy]:
        return sorted((p for p in self.policies if p.policy_id == policy_id), key=lambda p: p.effective_from)

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


# ---- loading: read, check, compile -----------------------------------------------------------------------


def policy_files(directory: Path) -> list[Path]:
    return [p for p in sorted(directory.glob("*.yaml")) if p.name not in REGISTRY_FILES]


def read_sources(directory: Path | None = None) -> list[PolicySource]:
    d = directory or Path(os.environ.get("MEDASSIST_POLICIES", POLICY_DIR))
    return [read_source(p) for p in policy_files(d)]


def check_sources(sources: list[PolicySource], operator: dict[str, Any] | None = None,
                  policy_dir: Path | None = None) -> tuple[list[Window], list[Fault]]:
    """Every fault of these files (empty: they may decide). The same checks as every load."""
    ops = operator if operator is not None else load_operator_parameters()
    try:
        vocab = load_vocabulary(policy_dir)
        codes = load_refusal_codes(policy_dir)
    except RegistryError as e:
        return [], [Fault("(registry)", None, "(top)", str(e))]
    wins, faults = policy_check.check_sources(sources, vocab, codes, ops)
    if not sources:
        faults.append(Fault(str(policy_dir or POLICY_DIR), None, "(top)", "no policy files here"))
    return wins, faults


def build_book(sources: list[PolicySource], operator: dict[str, Any] | None = None,
               policy_dir: Path | None = None) -> PolicyBook:
    """Check every file, then compile each into one `Policy` per span of days its values hold."""
    ops = operator if operator is not None else load_operator_parameters()
    wins, faults = check_sources(sources, ops, policy_dir)
    if faults:
        # The first line stands alone (an operator's one-line error); every fault follows, one a line.
        head = (f"{len(faults)} fault(s) in the policy files (`medassist policy check` lists them); "
                f"the first: {faults[0]}")
        raise PolicyError("\n".join([head, *(str(f) for f in faults)]))
    vocab = load_vocabulary(policy_dir)
    out = []
    for w in wins:
        starts = [w.start] + [d for d in change_days(w.source.data) if w.start < d and (w.end is None or d <= w.end)]
        for i, start in enumerate(starts):
            end = add_days(starts[i + 1], -1) if i + 1 < len(starts) else w.end
            plain = materialise(w.source.data, start)
            out.append(compile_policy(plain, w.source.path, ops, vocab, start, end))
    return PolicyBook(out)


def load_policies(directory: Path | None = None, operator: dict[str, Any] | None = None) -> PolicyBook:
    d = directory or Path(os.environ.get("MEDASSIST_POLICIES", POLICY_DIR))
    return build_book(read_sources(d), operator, d)


def with_change(sources: list[PolicySource], assignment: str, on: str | None = None) -> list[PolicySource]:
    """`POLICY:KEY.PATH=VALUE` applied to the file of that policy (see policy_source.set_value).

    Raises PolicyError naming the policy or key path that does not exist. The result is checked when a
    book is built from it (`build_book`), exactly as a file on disk."""
    pid, sep, rest = assignment.partition(":")
    key_path, eq, text = rest.partition("=")
    if not sep or not eq or not key_path:
        raise PolicyError(f"{assignment!r}: write POLICY:KEY.PATH=VALUE, e.g. qinhuangdao-2023:caps.inpatient=30000")
    out = []
    found = False
    for src in sources:
        if src.data.get("policy_id") == pid:
            found = True
            try:
                src = set_value(src, key_path.strip(), parse_value(text.strip()), on)
            except (KeyError, ValueError) as e:
                raise PolicyError(f"{src.name}: {e.args[0] if e.args else e}") from None
        out.append(src)
    if not found:
        ids = ", ".join(str(s.data.get("policy_id")) for s in sources)
        raise PolicyError(f"{assignment!r}: no policy {pid!r} (allowed: {ids})")
    return out
