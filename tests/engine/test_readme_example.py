"""The README's worked example of `medassist replay`, pinned: the README's own input block is
replayed and must print exactly the README's output block (on the fields the README shows).

Worked numbers (Qinhuangdao dibao, effective 2023-04-01 from a list reported 2023-03-04):
S-1 base 30000.00 - 18000.00 - 2000.00 = 10000.00, 80% = 8000.00; S-2 base 30000.00, 80% = 24000.00
capped by what is left of the 20,000 inpatient cap (12000.00), year burden 2000 + 18000 = 20000.00,
tilt 70% of the part above 15000 = 3500.00; R-1 claws back 8000.00.
If replay's output changes on purpose, update the README.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson

README = Path(__file__).resolve().parents[2] / "README.md"


def blocks() -> tuple[bytes, list[dict[str, object]]]:
    found = re.findall(r"```jsonl\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(found) == 2, "the README has one input and one output jsonl block"
    return found[0].encode(), [orjson.loads(x) for x in found[1].splitlines()]


def test_replay_prints_the_readme_decisions(tmp_path: Path) -> None:
    events, shown = blocks()
    src = tmp_path / "example.jsonl"
    src.write_bytes(events)
    done = subprocess.run([sys.executable, "-m", "medassist.cli", "replay", str(src)],
                          capture_output=True, check=True)
    decisions = [orjson.loads(x) for x in done.stdout.splitlines()]
    assert [{k: d[k] for k in want} for d, want in zip(decisions, shown, strict=True)] == shown
    assert [(d["event_id"], d["status"], d["assistance_fen"]) for d in decisions] == [
        ("S-1", "paid", 800000), ("S-2", "paid", 1550000), ("R-1", "reversed", -800000)]
