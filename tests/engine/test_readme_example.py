"""The README's worked example of `medassist replay`, pinned byte for byte.

readme_example.jsonl: a Qinhuangdao dibao grant (reported 2023-03-04, in force from 2023-04-01), a
2024 resident-insurance enrollment (90% of 380.00 = 342.00), an inpatient settlement (base
30000.00 - 18000.00 - 2000.00 = 10000.00; dibao has no deductible; 80% = 8000.00) and its reversal
(-8000.00). If replay's output changes on purpose, update the README and the .decisions.jsonl file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

HERE = Path(__file__).parent


def test_replay_prints_exactly_the_readme_decisions() -> None:
    done = subprocess.run([sys.executable, "-m", "medassist.cli", "replay", str(HERE / "readme_example.jsonl")],
                          capture_output=True, check=True)
    assert done.stdout == (HERE / "readme_example.decisions.jsonl").read_bytes()
    decisions = [orjson.loads(x) for x in done.stdout.splitlines()]
    assert [(d["event_id"], d["status"], d["assistance_fen"]) for d in decisions] == [
        ("N-1", "paid", 34200), ("S-1", "paid", 800000), ("R-1", "reversed", -800000)]
