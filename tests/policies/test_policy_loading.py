"""Loading the shipped policies, routing by date, and the key-path API (with_change)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from medassist.engine.policy import (
    POLICY_DIR,
    PolicyError,
    build_book,
    load_policies,
    read_sources,
    with_change,
)


def test_the_shipped_policies_have_no_faults() -> None:
    book = load_policies()
    assert {p.policy_id for p in book.policies} == {"qinhuangdao-2023", "fushun-2014", "kaizhou-2023",
                                                      "lanzhou-2022"}


def test_a_dated_value_starts_a_new_version_and_the_old_keeps_the_days_before() -> None:
    sources = with_change(read_sources(), "qinhuangdao-2023:caps.inpatient=30000", on="2024-07-01")
    book = build_book(sources)
    before, after = book.route("130302", "2024-06-30"), book.route("130302", "2024-07-01")
    assert before is not None and after is not None
    assert before.caps["inpatient"][0] == 20000_00 and after.caps["inpatient"][0] == 30000_00
    assert after.version == "qinhuangdao-2023@2024-07-01"
    assert before.version == "qinhuangdao-2023@2024-01-01"  # the premium ratio's yearly step


def test_with_change_everywhere_and_inside_a_table() -> None:
    book = build_book(with_change(with_change(read_sources(), "lanzhou-2022:tilt.threshold=5000"),
                                  "qinhuangdao-2023:lines[2].ratio.dibao=0.85"))
    lz, qhd = book.route("620100", "2023-03-01"), book.route("130300", "2023-03-01")
    assert lz is not None and qhd is not None
    assert lz.tilt is not None and lz.tilt.threshold_fen == 5000_00
    assert qhd.lines[2].ratio["dibao"].text == "0.85"


def test_with_change_names_what_does_not_exist() -> None:
    with pytest.raises(PolicyError, match="no policy 'nowhere-2023'"):
        with_change(read_sources(), "nowhere-2023:caps.inpatient=1")
    with pytest.raises(PolicyError, match="no key 'inpatinet'"):
        with_change(read_sources(), "qinhuangdao-2023:caps.inpatinet=1")
    bad = r"qinhuangdao-2023.yaml:84: lines\[2\]\.ratio\.values\.2023-01-01\.value\.dibao: 1\.5 is outside 0-1"
    with pytest.raises(PolicyError, match=bad):
        build_book(with_change(read_sources(), "qinhuangdao-2023:lines[2].ratio.dibao=1.5"))


def test_a_second_file_for_the_same_region_is_refused_unless_it_supersedes(tmp_path: Path) -> None:
    for p in POLICY_DIR.glob("*.yaml"):
        shutil.copy(p, tmp_path / p.name)
    text = (POLICY_DIR / "qinhuangdao-2023.yaml").read_text(encoding="utf-8")
    text = text.replace('          2024-01-01: {value: 0.70, unit: ratio, ref: "§二(二)1"}\n', "")
    revised = (text.replace("policy_id: qinhuangdao-2023", "policy_id: qinhuangdao-2024")
               .replace("effective_from: 2023-01-01", "effective_from: 2024-01-01")
               .replace("2023-01-01: {", "2024-01-01: {"))
    (tmp_path / "qinhuangdao-2024.yaml").write_text(revised, encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        load_policies(tmp_path)
    assert ("qinhuangdao-2024.yaml:9: effective_from: qinhuangdao-2024.yaml and qinhuangdao-2023.yaml are both "
            "in force for region 130300 from 2024-01-01, with no end") in str(e.value)
    (tmp_path / "qinhuangdao-2024.yaml").write_text(
        revised.replace("effective_to: null", "effective_to: null\nsupersedes: qinhuangdao-2023", 1), encoding="utf-8")
    book = load_policies(tmp_path)
    assert book.route("130300", "2023-12-31").policy_id == "qinhuangdao-2023"  # type: ignore[union-attr]
    assert book.route("130300", "2024-01-01").policy_id == "qinhuangdao-2024"  # type: ignore[union-attr]


def test_replay_refuses_to_start_on_a_faulty_policy_file(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    for p in POLICY_DIR.glob("*.yaml"):
        shutil.copy(p, tmp_path / p.name)
    path = tmp_path / "lanzhou-2022.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("effective_to: 2027-08-21", "effective_to: 2027-02-29"),
                    encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "medassist.cli", "replay", str(events)], capture_output=True,
                          text=True, env={**os.environ, "MEDASSIST_POLICIES": str(tmp_path)}, timeout=120)
    assert done.returncode != 0 and done.stdout == ""
    assert ("1 fault(s) in the policy files (`medassist policy check` lists them); the first: lanzhou-2022.yaml:11: "
            "effective_to: '2027-02-29' is not a real date") in done.stderr


def test_policy_show_gives_each_parameter_in_force_with_its_clause(capsys: pytest.CaptureFixture[str]) -> None:
    import orjson
    from medassist.cli import main

    assert main(["policy", "show", "qinhuangdao-2023", "--on", "2024-03-01", "--json"]) == 0
    info = orjson.loads(capsys.readouterr().out)
    assert info["in_force"] and info["document"]["title"] == "秦皇岛市医疗救助办法"
    assert info["parameters"]["caps.inpatient"] == {"value": 20000, "unit": "yuan", "ref": "§二(三)2",
                                                    "since": "2023-01-01"}
    assert info["parameters"]["premium_subsidy.categories.monitored_rural.ratio"] == {
        "value": "0.70", "unit": "ratio", "ref": "§二(二)1", "since": "2024-01-01"}
    assert {"rule": "tilt", "ref": "§二(三)3", "when": {}} in info["rules"]
    assert main(["policy", "show", "qinhuangdao-2023", "--on", "2024-03-01"]) == 0
    text = capsys.readouterr().out
    assert "caps.inpatient" in text and "20000 yuan   §二(三)2   (since 2023-01-01)" in text
    assert main(["policy", "show", "qinhuangdao-2023", "--on", "2022-03-01"]) == 0
    assert "NOT in force on this day" in capsys.readouterr().out
