"""Worker processes on this machine: start N `medassist worker`s, watch progress, stop them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from medassist.progress import Progress
from medassist.security.kafka import kafka_options
from medassist.stream.config import WorkerConfig
from medassist.stream.topics import end_offsets


def worker_env(cfg: WorkerConfig, worker_id: str, metrics_port: int = 0) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "MEDASSIST_BOOTSTRAP": cfg.bootstrap,
        "MEDASSIST_REDIS_URL": cfg.redis_url,
        "MEDASSIST_TOPIC_PREFIX": cfg.topics.prefix,
        "MEDASSIST_GROUP": cfg.group,
        "MEDASSIST_PARTITIONS": str(cfg.partitions),
        "MEDASSIST_BATCH_SIZE": str(cfg.batch_size),
        "MEDASSIST_METRICS_PORT": str(metrics_port),
        "MEDASSIST_FAST_REBALANCE": "1" if cfg.fast_rebalance else "0",
        "MEDASSIST_DATADIR": cfg.datadir,
        "MEDASSIST_WORKER_ID": worker_id,
        "MEDASSIST_REDIS_PREFIX": cfg.redis_prefix,
    })
    if cfg.topics.events_topic:
        env["MEDASSIST_EVENTS_TOPIC"] = cfg.topics.events_topic
    else:
        env.pop("MEDASSIST_EVENTS_TOPIC", None)
    return env


class WorkerProcess:
    def __init__(self, cfg: WorkerConfig, worker_id: str, logdir: Path, metrics_port: int = 0,
                 env: dict[str, str] | None = None) -> None:
        self.cfg, self.worker_id, self.metrics_port = cfg, worker_id, metrics_port
        self.env = env or {}  # more settings (a shadow group's MEDASSIST_POLICIES)
        self.log_path = logdir / f"{worker_id}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        self.proc = subprocess.Popen([sys.executable, "-m", "medassist.cli", "worker"],
                                     env={**worker_env(self.cfg, self.worker_id, self.metrics_port), **self.env},
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the crash the fault tests inject."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def pause(self) -> None:
        if self.proc:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc:
            os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self, timeout: float = 15.0) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def committed_total(bootstrap: str, group: str, topic: str, admin: Any = None) -> int:
    """Input events the group has finished (committed offsets summed over partitions)."""
    from kafka import KafkaAdminClient

    own = admin is None
    if own:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=5000,
                                 **kafka_options())
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        if own:
            admin.close()
    return sum(max(0, meta.offset) for tp, meta in offsets.items() if tp.topic == topic)


def end_total(bootstrap: str, topic: str) -> int:
    """Messages in `topic` (true high watermarks: Tansu's ListOffsets under-reports)."""
    return sum(end_offsets(bootstrap, topic).values())


def wait_processed(bootstrap: str, group: str, topic: str, expected: int, timeout_s: float,
                   workers: list[WorkerProcess] | None = None, progress: bool = True,
                   restarts: int = 0) -> float:
    """Block until the group committed `expected` input events; returns the seconds it took.

    With `restarts`, a worker that exits is started again (up to that many times in all), as a
    supervisor would: a worker exits on purpose when its agent crashes (code 70), and its
    unacknowledged events are redelivered to whoever owns the partition next.
    """
    from kafka import KafkaAdminClient

    t0 = time.monotonic()
    done = 0
    bar = Progress("run: processed", total=expected) if progress else None
    admin = None
    try:
        while True:
            for w in workers or ():
                if restarts > 0 and w.proc is not None and not w.alive:
                    restarts -= 1
                    print(f"{w.worker_id} exited with code {w.proc.returncode}; restarting it "
                          f"(see {w.log_path})", file=sys.stderr, flush=True)
                    w.start()
            note = ""
            try:
                if admin is None:  # one client for the whole wait: a new one per poll costs a connection
                    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=5000,
                                             **kafka_options())
                done = committed_total(bootstrap, group, topic, admin)
                if done == 0:
                    note = "the workers are joining the consumer group"
            except Exception as e:  # noqa: BLE001 - group not formed yet, broker busy: ask again
                note = f"waiting for the consumer group ({type(e).__name__})"
            if bar is not None:
                bar.set(done, note)
            now = time.monotonic()
            if done >= expected:
                return now - t0
            if workers is not None and not any(w.alive for w in workers):
                codes = {w.worker_id: w.proc.returncode if w.proc else None for w in workers}
                raise RuntimeError(f"every worker has exited (exit codes {codes}; 70: agent crashed); "
                                   "see the worker logs")
            if now - t0 > timeout_s:
                raise TimeoutError(f"only {done}/{expected} events processed after {timeout_s:.0f}s")
            time.sleep(0.2)
    finally:
        if bar is not None:
            bar.close()
        if admin is not None:
            admin.close()
