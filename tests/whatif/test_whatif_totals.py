"""What-if totals against `medassist replay`: the variant pays what replay pays when the same change is
written into a copy of the policy files by hand; the baseline pays what plain replay pays."""

from __future__ import annotations

import io
import shutil
from collections import Counter
from pathlib import Path

import orjson
import pytest
from medassist.engine.policy import POLICY_DIR, PolicyError
from medassist.population import population
from medassist.replay import replay_file
from medassist.whatif.change import PolicySpec, spec_from_args
from medassist.whatif.run import run_whatif

# (assignment, file, text in the file, the same text as a person would edit it)
CHANGES = [
    ("qinhuangdao-2023:caps.regular_total=30000", "qinhuangdao-2023.yaml",
     "2023-01-01: {value: 20000, unit: yuan, ref: \"§二(三)2\"}\n  tilt:",
     "2023-01-01: {value: 30000, unit: yuan, ref: \"§二(三)2\"}\n  tilt:"),
    ("qinhuangdao-2023:lines[2].ratio.dibao=0.85", "qinhuangdao-2023.yaml",
     "{tekun: 0.80, dibao: 0.80, dibao_edge: 0.77", "{tekun: 0.80, dibao: 0.85, dibao_edge: 0.77"),
    ("fushun-2014:caps.general_outpatient=100", "fushun-2014.yaml",
     "2014-11-27: {value: 70, unit: yuan", "2014-11-27: {value: 100, unit: yuan"),
    ("kaizhou-2023:tilt.threshold=4000", "kaizhou-2023.yaml",
     "2023-07-01: {value: 5000, unit: yuan", "2023-07-01: {value: 4000, unit: yuan"),
    ("lanzhou-2022:tilt.threshold=5000", "lanzhou-2022.yaml",
     '2022-08-22: {value: 6000, unit: yuan, ref: "§十四(三)"}',
     '2022-08-22: {value: 5000, unit: yuan, ref: "§十四(三)"}'),
]


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("whatif") / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in population(360, seed=23)))
    return path


def replayed(events: Path, policies: Path | None, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """What `medassist replay` writes, with MEDASSIST_POLICIES pointing at `policies`."""
    with monkeypatch.context() as m:
        if policies is not None:
            m.setenv("MEDASSIST_POLICIES", str(policies))
        buf = io.BytesIO()
        replay_file(str(events), buf)
    return [orjson.loads(x) for x in buf.getvalue().splitlines()]


def by_person(decisions: list[dict[str, object]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for d in decisions:
        if d["status"] != "invalid":
            out[str(d["psn_no"])] += int(d["assistance_fen"])  # type: ignore[call-overload]
    return out


def edited_copy(tmp_path: Path, edits: list[tuple[str, str, str]]) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, copy)
    for name, old, new in edits:
        f = copy / name
        text = f.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{name}: the hand edit's text {old!r} is not there once"
        f.write_text(text.replace(old, new), encoding="utf-8")
    return copy


@pytest.mark.parametrize(("assignment", "name", "old", "new"), CHANGES, ids=[c[0] for c in CHANGES])
def test_variant_pays_what_replay_pays_with_the_change_written_by_hand(
        events: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        assignment: str, name: str, old: str, new: str) -> None:
    base = replayed(events, None, monkeypatch)
    var = replayed(events, edited_copy(tmp_path, [(name, old, new)]), monkeypatch)
    out = run_whatif(str(events), PolicySpec(None, (assignment,)), workers=2, progress_to=io.StringIO())
    s = out.summary()
    assert s["baseline_fen"] == sum(int(d["assistance_fen"]) for d in base)  # type: ignore[call-overload]
    assert s["variant_fen"] == sum(int(d["assistance_fen"]) for d in var)  # type: ignore[call-overload]
    assert s["delta_fen"] == s["variant_fen"] - s["baseline_fen"] != 0
    assert s["events"] == len(events.read_bytes().splitlines())
    pb, pv = by_person(base), by_person(var)
    changed = {p: (pb[p], pv[p]) for p in set(pb) | set(pv) if pb[p] != pv[p]}
    assert {p: (b, v) for p, b, v in out.result.changed} == changed
    assert s["people_gaining"] == sum(v > b for b, v in changed.values())
    assert s["people_losing"] == sum(v < b for b, v in changed.values())
    assert s["people"] == len({d["psn_no"] for d in base if d["status"] != "invalid"})


def test_every_person_replayed_twice_gives_the_same(events: Path) -> None:
    """Taking the baseline's decisions for people no changed policy reaches changes nothing."""
    spec = PolicySpec(None, tuple(c[0] for c in CHANGES[:2]) + ("lanzhou-2022:tilt.threshold=5000",))
    quick = run_whatif(str(events), spec, workers=1, progress_to=io.StringIO())
    full = run_whatif(str(events), spec, workers=2, shares=3, full=True, progress_to=io.StringIO())
    a, b = quick.result, full.result
    assert (a.base.total_fen, a.var.total_fen) == (b.base.total_fen, b.var.total_fen)
    assert a.base.cube == b.base.cube and a.var.cube == b.var.cube and a.var.caps == b.var.caps
    assert sorted(a.changed) == sorted(b.changed)
    assert sorted(a.burden_var) == sorted(b.burden_var)


def test_a_change_that_touches_nothing_gives_nothing(events: Path) -> None:
    """Kaizhou's regular cap (100,000) is not reached by anyone in this year: raising it changes nothing."""
    out = run_whatif(str(events), PolicySpec(None, ("kaizhou-2023:caps.regular_total=150000",)), workers=2,
                     progress_to=io.StringIO())
    s = out.summary()
    assert out.result.base.caps[("kaizhou-2023", "regular_total")] == 0
    assert s["delta_fen"] == 0 and s["people_changed"] == 0
    assert s["people_gaining"] == s["people_losing"] == 0
    assert s["baseline_fen"] == s["variant_fen"] > 0
    assert out.result.base.cube == out.result.var.cube


@pytest.mark.parametrize(("assignment", "words"), [
    ("qinhuangdao-2023:caps.inpatientt=30000", "caps.inpatientt"),
    ("qinhuangdao-2023:caps.inpatient=lots", "caps.inpatient"),
    ("nowhere-2023:caps.inpatient=30000", "nowhere-2023"),
    ("qinhuangdao-2023:caps.inpatient", "POLICY:KEY.PATH=VALUE"),
])
def test_a_change_that_does_not_check_is_refused_before_anything_runs(
        events: Path, assignment: str, words: str) -> None:
    said = io.StringIO()
    with pytest.raises(PolicyError, match=words.replace(".", r"\.")):
        run_whatif(str(events), PolicySpec(None, (assignment,)), progress_to=said)
    assert said.getvalue() == ""  # no share started


def test_a_change_file_and_a_whole_variant_file_say_the_same_as_set(events: Path, tmp_path: Path) -> None:
    assignment, name, old, new = CHANGES[4]
    changes = tmp_path / "changes.yaml"
    changes.write_text(f"title: Lanzhou's tilt from 5,000 yuan\nset:\n  - {assignment}\n", encoding="utf-8")
    (tmp_path / "variants").mkdir()
    variant = tmp_path / "variants" / name  # named for its policy_id, as every policy file
    variant.write_text((POLICY_DIR / name).read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    by_set = run_whatif(str(events), spec_from_args([assignment], [], None), progress_to=io.StringIO()).summary()
    by_file = spec_from_args([], [str(changes)], None)
    assert by_file.title == "Lanzhou's tilt from 5,000 yuan"
    s1 = run_whatif(str(events), by_file, progress_to=io.StringIO()).summary()
    s2 = run_whatif(str(events), spec_from_args([], [str(variant)], None), progress_to=io.StringIO()).summary()
    for s in (s1, s2):
        assert (s["baseline_fen"], s["variant_fen"], s["people_gaining"], s["people_losing"]) == \
            (by_set["baseline_fen"], by_set["variant_fen"], by_set["people_gaining"], by_set["people_losing"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("set: [lanzhou-2022:tilt.threshold=-5]\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="tilt.threshold"):
        run_whatif(str(events), spec_from_args([], [str(bad)], None), progress_to=io.StringIO())
