"""Bad input you can find: `replay` and `run` name the file and line of each invalid input, `run
--deadletters` keeps the dead letters with their origin, and the run's summary adds up (issue 14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from medassist.ops.demo import write_sample
from medassist.stream.tail import describe_dead_letter

BAD = {17: None, 142: b"not json at all", 205: b'{"type":"settlement"}'}  # line -> content (None: truncated)


def _bad_file(tmp_path: Path) -> Path:
    good = tmp_path / "good.jsonl"
    write_sample(good, people=30, seed=5)
    lines = good.read_bytes().splitlines()
    for n, content in BAD.items():
        lines[n - 1] = content if content is not None else lines[n - 1][:40]
    bad = tmp_path / "day.jsonl"
    bad.write_bytes(b"\n".join(lines) + b"\n")
    return bad


def test_replay_names_each_invalid_line_and_sums_them_up(tmp_path: Path) -> None:
    bad = _bad_file(tmp_path)
    done = subprocess.run([sys.executable, "-m", "medassist.cli", "replay", str(bad)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    err = done.stderr.splitlines()
    assert [ln.split(": ")[0] for ln in err[:3]] == [f"{bad}:17", f"{bad}:142", f"{bad}:205"]
    assert "not valid JSON" in err[0] and "event_id: missing" in err[2]
    assert err[-1].startswith(f"{bad}: 3 invalid lines: 17, 142, 205; see ")
    assert sum(1 for d in done.stdout.splitlines() if orjson.loads(d)["status"] == "invalid") == 3


def test_run_keeps_dead_letters_with_file_and_line_and_its_summary_adds_up(tmp_path: Path) -> None:
    bad = _bad_file(tmp_path)
    dead = tmp_path / "dead.jsonl"
    done = subprocess.run([sys.executable, "-m", "medassist.cli", "run", str(bad), "--workers", "1",
                           "--partitions", "2", "--deadletters", str(dead)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    letters = [orjson.loads(x) for x in dead.read_bytes().splitlines()]
    invalid = sorted((d["origin"]["line"], d["reason"]) for d in letters if d["status"] == "invalid")
    assert [n for n, _ in invalid] == sorted(BAD)
    assert all(d["origin"]["file"] == str(bad) for d in letters)
    assert f"{bad}: 3 invalid lines: 17, 142, 205; see {dead}" in done.stderr
    # what `medassist tail deadletters` prints: where, why, the original bytes
    first = describe_dead_letter(dead.read_bytes().splitlines()[[d["origin"]["line"] for d in letters].index(142)])
    assert first.startswith(f"{bad}:142  invalid:event: event: not valid JSON")
    assert first.endswith("\n    not json at all")

    summary = orjson.loads(done.stdout)
    a = summary["accounting"]
    fed = a["events_fed"]
    assert fed == len([ln for ln in bad.read_bytes().splitlines() if ln.strip()])
    assert a["adds_up"] and fed == a["decided"] + a["eligibility_updates"] + a["invalid"]
    assert a["invalid"] == a["dead_lettered"]["invalid"] == 3
    assert a["eligibility_updates"] > 0 and a["reach_back_decisions"] >= 0
    assert summary["decisions"] >= a["decided"] + a["reach_back_decisions"] + a["invalid"]
    assert f"{fed} events fed = {a['decided']} decided + {a['eligibility_updates']} eligibility" in done.stderr
