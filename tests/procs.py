"""Run `medassist ...` as a subprocess and see which processes it started, and whether any is left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def medassist(*argv: str, env: dict[str, str] | None = None, timeout: float = 60,
              stdin: int | None = subprocess.DEVNULL) -> tuple[subprocess.CompletedProcess[str], dict[int, str]]:
    """(the finished process, every child it spawned: pid -> command line)."""
    proc = subprocess.Popen([sys.executable, "-m", "medassist.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, stdin=stdin)
    spawned = watch_children(proc, lambda seen: False, timeout)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), spawned


def watch_children(proc: subprocess.Popen[Any], enough: Callable[[dict[int, str]], bool],
                   timeout: float = 120) -> dict[int, str]:
    """pid -> command line of every child `proc` started, watched until it exits or `enough`."""
    seen: dict[int, str] = {}
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        out = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "--ppid", str(proc.pid)], capture_output=True,
                             text=True)
        for line in out.stdout.splitlines():
            pid, _, args = line.strip().partition(" ")
            if not args.startswith("["):  # "[python]": a reaped-soon zombie shows no command line
                seen.setdefault(int(pid), args)
        if enough(seen):
            break
        time.sleep(0.05)
    return seen


def alive(pids: object) -> set[int]:
    """Those still running (a zombie waiting to be reaped is not running)."""
    out = set()
    for pid in pids:  # type: ignore[attr-defined]
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state != "Z":
            out.add(int(pid))
    return out


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any MEDASSIST_* setting of the caller's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDASSIST_") or k == "MEDASSIST_PURE"}
    env.update(extra)
    return env
