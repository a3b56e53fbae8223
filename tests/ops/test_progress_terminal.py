"""On a terminal `medassist run` draws a progress bar that moves (count, rate, time left); into a
file it writes plain periodic lines instead (issue 14: progress that moves)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from medassist.ops.demo import write_sample
from medassist.progress import Progress


def _run_on_a_terminal(argv: list[str], timeout: float = 300) -> tuple[int, str]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "MEDASSIST_PROGRESS"}
    env["TERM"] = "xterm"
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's last writer has gone
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(30), out.decode(errors="replace")


def test_run_draws_a_bar_that_moves_on_a_terminal(tmp_path: Path) -> None:
    sample = tmp_path / "s.jsonl"
    n = write_sample(sample, people=600, seed=9)
    code, screen = _run_on_a_terminal([sys.executable, "-m", "medassist.cli", "run", str(sample), "--workers", "1",
                                       "--partitions", "2"])
    assert code == 0, screen[-3000:]
    # tqdm redraws the line in place: "run: processed:  42%|████▏     | 2900/6900 [00:03<00:04, 850.00 events/s]"
    frame = re.compile(r"run: processed:\s+(\d+)%\|[^|]*\| *([\d,]+)/([\d,]+) "
                       r"\[([\d:]+)<([\d:?]+), *([\d.?]+) ?\w* ?events/s")
    frames = frame.findall(screen)
    assert frames, screen[-2000:]
    done = [int(f[1]) for f in frames]
    assert all(int(f[2]) == n for f in frames)
    assert 0 < min(d for d in done if d > 0) < n, "the bar never showed a count between 0 and the end"
    assert done == sorted(done) and done[-1] == n
    assert any(0 < int(f[0]) < 100 for f in frames)
    assert "\r" in screen  # redrawn in place, not one line per update


def test_progress_into_a_file_is_plain_lines(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("MEDASSIST_PROGRESS", raising=False)
    monkeypatch.setenv("MEDASSIST_PROGRESS_INTERVAL", "0")
    log = tmp_path / "log"
    with open(log, "w") as f, Progress("month-end: instructions read", total=300, unit="messages", stream=f) as p:
        for i in range(0, 301, 100):
            p.set(i)
            time.sleep(0.6)  # the rate counts from the first move, once it has lasted half a second
    lines = log.read_text().splitlines()
    assert "\r" not in log.read_text()
    assert lines[1] == "month-end: instructions read: 100/300 messages (0/s)"
    assert lines[2].startswith("month-end: instructions read: 200/300 messages (") and "left)" in lines[2]
    assert lines[-1].startswith("month-end: instructions read: 300/300 messages in ")
