"""scripts/setup.sh says what it cannot install and how to get it (not root, no apt-get), still
installs the Python package, and exits 1. Run here with a PATH of stand-ins: kcat is missing,
`id` says we are not root, pip only records that it was asked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRESENT = ("redis-server", "redis-cli", "prometheus", "promtool", "chromium", "dirname", "sort", "sed")


def _bin(tmp_path: Path, apt: bool) -> tuple[Path, Path]:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for prog in PRESENT:
        (bin_ / prog).symlink_to(shutil.which(prog) or "/bin/true")
    (bin_ / "id").write_text("#!/bin/sh\necho 1000\n")
    if apt:
        (bin_ / "apt-get").write_text("#!/bin/sh\necho apt-get must not run >&2\nexit 9\n")
    pip_log = tmp_path / "pip.log"
    (bin_ / "python").write_text(  # the real Python, except that `-m pip` is only recorded
        f'#!/bin/sh\nif [ "$1 $2" = "-m pip" ]; then echo "$@" >> {pip_log}; exit 0; fi\nexec {sys.executable} "$@"\n')
    for f in bin_.iterdir():
        if not f.is_symlink():
            f.chmod(0o755)
    return bin_, pip_log


def _setup(bin_: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(bin_), "PYTHON": str(bin_ / "python"), "MEDASSIST_PURE": "1", "HOME": os.environ["HOME"]}
    return subprocess.run(["/bin/bash", str(ROOT / "scripts/setup.sh")], env=env, capture_output=True, text=True,
                          timeout=60)


def test_not_root_says_to_run_it_with_sudo(tmp_path: Path) -> None:
    bin_, pip_log = _bin(tmp_path, apt=True)
    done = _setup(bin_)
    assert done.returncode == 1, done.stderr
    assert "setup: cannot install kcat: not root and no password-less sudo. Run: sudo bash scripts/setup.sh" \
        in done.stderr
    assert "apt-get must not run" not in done.stderr
    assert "-m pip install" in pip_log.read_text() and "-e .[dev]" in pip_log.read_text()
    assert done.stderr.strip().splitlines()[-1].startswith("setup: incomplete:")


def test_without_apt_get_says_to_use_the_package_manager(tmp_path: Path) -> None:
    bin_, _ = _bin(tmp_path, apt=False)
    done = _setup(bin_)
    assert done.returncode == 1, done.stderr
    assert "setup: cannot install kcat: no apt-get here. Install them with your package manager" in done.stderr
    assert "setup: still missing: kcat" in done.stderr
