"""README's operator's day, as written: `medassist up` in one "terminal", the day's commands in
another, read from README.md itself; the Excel statement it opens must be there (issue 14)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import openpyxl
from procs import alive, clean_env

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- operators-day:"


def day_blocks() -> tuple[str, list[str]]:
    after = (ROOT / "README.md").read_text(encoding="utf-8").split(MARKER, 1)[1]
    up, session = re.findall(r"```sh\n(.*?)```", after, re.S)[:2]
    lines = [ln.split("  #")[0].strip() for ln in session.splitlines()]
    return up.split("#")[0].strip(), [ln for ln in lines if ln]


def test_readme_operators_day(tmp_path: Path) -> None:
    up_cmd, session = day_blocks()
    assert up_cmd.startswith("medassist up")
    opened = [ln for ln in session if ln.startswith("xdg-open ")]
    assert len(opened) == 1 and session[-1] == "medassist down"
    env = clean_env(MEDASSIST_STATE_DIR=str(tmp_path / "state"))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]  # this venv's `medassist`
    up = subprocess.Popen(shlex.split(up_cmd), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    try:
        assert up.stdout is not None
        for line in up.stdout:  # up is ready once it has printed its settings
            if line.startswith("# Ctrl-C"):
                break
        state = (tmp_path / "state" / "up.json").read_text()
        pids = {int(p) for p in re.findall(r'"pid": (\d+)', state)}
        script = "\n".join(ln for ln in session if not ln.startswith("xdg-open "))
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        assert up.wait(30) == 128 + 15  # `medassist down` stopped it
        assert alive(pids) == set()
    finally:
        if up.poll() is None:
            up.terminate()
            up.wait(30)
    decisions = [ln for ln in done.stdout.splitlines() if ln.startswith('{"event_id"')]
    assert len(decisions) == 10  # `tail decisions | head`
    statement = tmp_path / opened[0].split()[1]
    book = openpyxl.load_workbook(statement, read_only=True)
    assert book.sheetnames
    assert "month-end: instructions read" in done.stderr
