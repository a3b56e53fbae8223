"""README's first hour, as written: its set-up and demo commands, read from README.md itself, run in
a fresh virtualenv on a clean clone of this commit (so README and test cannot drift apart).

Slow (a fresh venv and pip install, then the demo): pip's cache keeps it to a minute or two.
MEDASSIST_PURE=1 skips the mypyc build here only for time; CI's own install builds it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- first-hour:"


def first_hour_commands(readme: str) -> str:
    """The ```sh block right after the first-hour marker."""
    after = readme[readme.index(MARKER):]
    m = re.search(r"```sh\n(.*?)```", after, re.S)
    assert m, "README.md: no ```sh block after the first-hour marker"
    return m.group(1)


def test_readme_first_hour_block_is_the_set_up_and_the_demo() -> None:
    block = first_hour_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    commands = [ln.split("#")[0].strip() for ln in block.splitlines() if ln.split("#")[0].strip()]
    assert any("scripts/setup.sh" in c for c in commands)
    assert commands[-1].startswith("medassist demo")
    assert "bash scripts/setup.sh" in (ROOT / ".ci/run").read_text()  # CI sets up the same way


def test_readme_set_up_and_demo_on_a_clean_clone(tmp_path: Path) -> None:
    clone = tmp_path / "medassist"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    block = first_hour_commands((clone / "README.md").read_text(encoding="utf-8"))
    # a clean environment: no virtualenv of ours on PATH, no MEDASSIST_* settings, no running `up` found
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if not (Path(p) / "activate").exists())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDASSIST_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(PATH=path, MEDASSIST_PURE="1", MEDASSIST_STATE_DIR=str(tmp_path / "state"))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=clone, env=env, capture_output=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr.decode()[-4000:]
    assert (clone / ".venv" / "bin" / "medassist").exists()
    summary = orjson.loads(done.stdout[done.stdout.index(b"{"):])
    assert summary["matches_replay"] is True
    assert summary["events_fed"] > 0
