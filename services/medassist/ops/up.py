"""`medassist up` / `medassist down`: the embedded stack kept up until Ctrl-C, for an operator's day.

`up` starts a Tansu broker and a redis-server on free loopback ports (never 9092/6379, where
another program may listen), N workers, the ledger consumer and the month-end schedule, each
with its /metrics; prints the `export MEDASSIST_...` lines; records every process in the state
file (ops/settings.py) so that the other commands find the stack and `down` can stop it; and
restarts a worker that exits, as a supervisor would. Ctrl-C, SIGTERM or `medassist down` stop
everything it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import orjson

from medassist.errors import CommandError, UsageError
from medassist.ops.cluster import WorkerProcess
from medassist.ops.embedded import RedisServer, TansuBroker, embedded_signing_keys, free_port
from medassist.ops.settings import pid_alive, read_up_state, state_file
from medassist.stream.config import WorkerConfig
from medassist.stream.topics import Topics, ensure_topics

STOP_TIMEOUT_S = 20.0


class Child:
    """A `medassist ...` subprocess in its own session, logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "medassist.cli", *self.argv], env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def export_lines(env: dict[str, str]) -> str:
    return "".join(f"export {k}={v}\n" for k, v in env.items())


def print_env() -> int:
    state = read_up_state()
    if state is None:
        raise UsageError("no `medassist up` is running (start it in another terminal)")
    sys.stdout.write(export_lines(state["env"]))
    return 0


def up(workers: int = 2, partitions: int = 8, prefix: str = "medassist", workdir: str | None = None,
       out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    running = read_up_state()
    if running is not None:
        raise UsageError(f"`medassist up` is already running (pid {running['pid']}); "
                         "`medassist down` stops it, `medassist up --print-env` prints its settings")
    base = Path(workdir or tempfile.mkdtemp(prefix="medassist-up-"))
    base.mkdir(parents=True, exist_ok=True)
    logs = base / "logs"
    logs.mkdir(exist_ok=True)
    broker = TansuBroker(workdir=base / "tansu")
    redis_ = RedisServer(workdir=base / "redis")
    workers_: list[WorkerProcess] = []
    children: list[Child] = []
    sf = state_file()
    try:
        broker.start()
        say(f"started Tansu broker on {broker.bootstrap} (in memory: its topics end with it)")
        redis_.start()
        say(f"started redis-server on {redis_.url} (AOF in {redis_.workdir})")
        topics = Topics(prefix)
        ensure_topics(broker.bootstrap, topics.all(), partitions)
        env = {"MEDASSIST_BOOTSTRAP": broker.bootstrap, "MEDASSIST_REDIS_URL": redis_.url,
               "MEDASSIST_TOPIC_PREFIX": prefix}
        env.update(embedded_signing_keys(base))  # a key pair for this stack (paths only in the exports)
        cfg = WorkerConfig(bootstrap=broker.bootstrap, redis_url=redis_.url, topics=topics,
                           group=f"{prefix}-workers", partitions=partitions, fast_rebalance=True,
                           datadir=str(base / "faust"))
        metrics: dict[str, str] = {}
        for i in range(workers):
            port = free_port()
            w = WorkerProcess(cfg, f"worker-{i}", logs, metrics_port=port).start()
            workers_.append(w)
            metrics[w.worker_id] = f"http://127.0.0.1:{port}/metrics"
        child_env = {**os.environ, **env}
        ledger_port, monthend_port = free_port(), free_port()
        children.append(Child("ledger", ["ledger", "consume", "--metrics-port", str(ledger_port)],
                              child_env, logs / "ledger.log").start())
        metrics["ledger"] = f"http://127.0.0.1:{ledger_port}/metrics"
        children.append(Child("month-end", ["month-end", "--schedule", "--interval", "60", "--metrics-port",
                                            str(monthend_port), "--out", str(base / "exports")],
                              child_env, logs / "month-end.log").start())
        metrics["month-end"] = f"http://127.0.0.1:{monthend_port}/metrics"
        targets = base / "prometheus-targets.json"  # file_sd_configs for a Prometheus of your own
        targets.write_bytes(orjson.dumps([{"targets": [u.split("/")[2]], "labels": {"job": f"medassist-{n}"}}
                                          for n, u in metrics.items()], option=orjson.OPT_INDENT_2))
        sf.parent.mkdir(parents=True, exist_ok=True)
        state = {"pid": os.getpid(), "workdir": str(base), "env": env, "metrics": metrics,
                 "processes": processes(broker, redis_, workers_, children)}
        sf.write_bytes(orjson.dumps(state, option=orjson.OPT_INDENT_2))
        plural = "s" if workers != 1 else ""
        out.write(f"# medassist up: {workers} worker{plural}, the ledger consumer and the month-end schedule.\n"
                  "# In another terminal, paste these (or: eval \"$(medassist up --print-env)\"):\n")
        out.write(export_lines(env))
        out.write("# /metrics:\n" + "".join(f"#   {n:10} {u}\n" for n, u in metrics.items()))
        out.write(f"# Prometheus file_sd targets: {targets}\n# logs: {logs}\n"
                  "# Ctrl-C here, or `medassist down`, stops everything.\n")
        out.flush()
        supervise(broker, redis_, workers_, children, sf, state)
    finally:
        for c in children:
            c.stop()
        for w in workers_:
            w.stop()
        redis_.stop()
        broker.stop()
        mine = read_state_file()
        if mine is not None and mine.get("pid") == os.getpid():
            with contextlib.suppress(OSError):
                sf.unlink()
        say("stopped the workers, the ledger consumer, the month-end schedule, redis-server and the broker")
    return 0


def processes(broker: TansuBroker, redis_: RedisServer, workers: list[WorkerProcess],
              children: list[Child]) -> list[dict[str, Any]]:
    out = [{"name": "tansu", "pid": broker.pid}, {"name": "redis-server", "pid": redis_.pid}]
    out += [{"name": w.worker_id, "pid": w.proc.pid if w.proc else None} for w in workers]
    out += [{"name": c.name, "pid": c.proc.pid if c.proc else None} for c in children]
    return out


def supervise(broker: TansuBroker, redis_: RedisServer, workers: list[WorkerProcess], children: list[Child],
              sf: Path, state: dict[str, Any]) -> None:
    """Until interrupted: restart what exits (workers, ledger, month-end); a dead broker or Redis ends `up`."""
    while True:
        time.sleep(1.0)
        for name, svc in (("broker", broker), ("redis-server", redis_)):
            if not svc.running():
                raise CommandError(f"the {name} exited; see {svc.log_path}")
        changed = False
        for w in workers:
            if not w.alive:
                code = w.proc.returncode if w.proc else None
                say(f"{w.worker_id} exited with code {code}; restarting it (log {w.log_path})")
                w.start()
                changed = True
        for c in children:
            if not c.alive:
                code = c.proc.returncode if c.proc else None
                say(f"{c.name} exited with code {code}; restarting it (log {c.log_path})")
                time.sleep(1.0)
                c.start()
                changed = True
        if changed:
            state["processes"] = processes(broker, redis_, workers, children)
            sf.write_bytes(orjson.dumps(state, option=orjson.OPT_INDENT_2))


def read_state_file() -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = orjson.loads(state_file().read_bytes())
        return state
    except (OSError, orjson.JSONDecodeError):
        return None


def down(timeout_s: float = STOP_TIMEOUT_S) -> int:
    """Stop the `up` recorded in the state file, then anything it started that is still alive."""
    state = read_state_file()
    if state is None:
        say("nothing to stop: no `medassist up` is recorded")
        return 0
    up_pid = int(state.get("pid", 0))
    if pid_alive(up_pid):
        os.kill(up_pid, signal.SIGTERM)  # `up` unwinds through its own cleanup
        wait_gone([up_pid], timeout_s)
    left = [int(p["pid"]) for p in state.get("processes", []) if p.get("pid") and pid_alive(int(p["pid"]))]
    for pid in left:  # `up` was killed -9, or did not finish: stop its children ourselves
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    left = wait_gone(left, 10.0)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_gone(left, 5.0)
    with contextlib.suppress(OSError):
        state_file().unlink()
    say(f"stopped `medassist up` (pid {up_pid}) and the {len(state.get('processes', []))} processes it started")
    return 0


def wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    alive = [p for p in pids if pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if pid_alive(p)]
    return alive


def say(text: str) -> None:
    print(f"medassist: {text}", file=sys.stderr, flush=True)
