"""`medassist up` keeps the stack up; its export lines work for feed and tail; `down` leaves nothing.

The README's operator's day rests on this (issue 14)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from medassist.ops.demo import write_sample
from procs import alive, clean_env, medassist


def _exports(stdout) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env: dict[str, str] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = stdout.readline()
        if not line:
            break
        if line.startswith("export "):
            k, _, v = line[len("export "):].strip().partition("=")
            env[k] = v
        if line.startswith("# Ctrl-C"):
            return env
    raise AssertionError(f"up printed no settings; got {env}")


def test_up_serves_feed_tail_and_down_stops_everything(tmp_path: Path) -> None:
    state = tmp_path / "state"
    base = clean_env(MEDASSIST_STATE_DIR=str(state))
    up = subprocess.Popen([sys.executable, "-m", "medassist.cli", "up", "--workers", "1", "--partitions", "2",
                           "--dir", str(tmp_path / "stack")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=base)
    try:
        exported = _exports(up.stdout)
        assert set(exported) == {"MEDASSIST_BOOTSTRAP", "MEDASSIST_REDIS_URL", "MEDASSIST_TOPIC_PREFIX",
                                 "MEDASSIST_SIGNING_KEY_FILE", "MEDASSIST_SIGNING_KEY_ID", "MEDASSIST_VERIFY_KEYS"}
        # no key configured: up made a pair for this stack, in its own dir; only paths are exported
        key_file = Path(exported["MEDASSIST_SIGNING_KEY_FILE"])
        assert key_file.is_relative_to(tmp_path / "stack") and key_file.stat().st_mode & 0o077 == 0
        assert not exported["MEDASSIST_REDIS_URL"].endswith(":6379/0")  # never another program's port
        recorded = orjson.loads((state / "up.json").read_bytes())
        names = {p["name"] for p in recorded["processes"]}
        assert names == {"tansu", "redis-server", "worker-0", "ledger", "month-end"}
        assert set(recorded["metrics"]) == {"worker-0", "ledger", "month-end"}
        pids = {p["pid"] for p in recorded["processes"]}
        assert alive(pids) == pids

        sample = tmp_path / "s.jsonl"
        fed = write_sample(sample, people=10, seed=3)
        lines = sample.read_bytes().splitlines()
        lines[6] = lines[6][:30]  # a truncated line 7: dead-lettered, and findable
        sample.write_bytes(b"\n".join(lines) + b"\n")
        env = {**base, **exported}
        done, _ = medassist("feed", str(sample), env=env)
        assert done.returncode == 0, done.stderr
        assert f"fed {fed} events" in done.stderr
        deadline = time.monotonic() + 90
        decisions: list[str] = []
        while time.monotonic() < deadline:  # the worker decides what was fed; tail reads it back
            done, _ = medassist("tail", "decisions", env=env)
            assert done.returncode == 0, done.stderr
            decisions = done.stdout.splitlines()
            if len(decisions) >= fed - 10:
                break
            time.sleep(1)
        # the truncated line's decision has no event_id (nothing of it could be read), and its null key puts
        # it on any partition, so it may come first: every other decision names its event
        read = [orjson.loads(d) for d in decisions]
        assert read and all(d["event_id"] for d in read if d["status"] != "invalid")
        assert {d["event_id"] for d in read if d["status"] == "invalid"} == {None}
        done, _ = medassist("tail", "deadletters", env=env)
        assert done.returncode == 0, done.stderr
        where, _, rest = done.stdout.partition("  ")
        assert where == f"{sample}:7", done.stdout
        assert rest.startswith("invalid:event: event: not valid JSON")
        assert done.stdout.splitlines()[1] == "    " + lines[6].decode()
        # without the export lines the commands find the running `up` through its state file
        done, _ = medassist("tail", "decisions", env=base)
        assert done.returncode == 0 and len(done.stdout.splitlines()) == len(decisions), done.stderr
        done, _ = medassist("up", "--print-env", env=base)
        assert done.stdout.splitlines() == [f"export {k}={v}" for k, v in exported.items()]

        done, spawned = medassist("down", env=base)
        assert done.returncode == 0, done.stderr
        assert up.wait(30) == 128 + 15
        deadline = time.monotonic() + 20
        while alive(pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert alive(pids) == set()
        assert not (state / "up.json").exists()
    finally:
        if up.poll() is None:
            up.terminate()
            up.wait(30)


def test_down_with_nothing_up_says_so(tmp_path: Path) -> None:
    done, _ = medassist("down", env=clean_env(MEDASSIST_STATE_DIR=str(tmp_path)))
    assert done.returncode == 0
    assert "nothing to stop" in done.stderr


def test_second_up_is_refused_while_one_runs_and_ctrl_c_stops_up(tmp_path: Path) -> None:
    base = clean_env(MEDASSIST_STATE_DIR=str(tmp_path))
    up = subprocess.Popen([sys.executable, "-m", "medassist.cli", "up", "--workers", "1", "--partitions", "1"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=base)
    try:
        _exports(up.stdout)
        done, spawned = medassist("up", env=base)
        assert done.returncode == 2 and "already running" in done.stderr
        assert spawned == {}
    finally:
        children = {p["pid"] for p in orjson.loads((tmp_path / "up.json").read_bytes())["processes"]}
        assert len(children) == 5 and alive(children) == children
        up.send_signal(signal.SIGINT)  # Ctrl-C in up's terminal
        assert up.wait(60) == 130
        time.sleep(1)
        assert alive(children) == set()
