"""Person numbers never in logs or metric labels; secrets never in logs, summaries or errors.

A fault run: two workers on a real broker and a password-protected, TLS-only redis-server, hostile
input fed among a population's events, one worker killed -9 mid-run and restarted, then the ledger
and month-end. Every log line written (workers, ledger, month-end), a scraped /metrics, and the
summaries are then searched for every person number and every secret of the run.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from medassist.ledger.consumer import LedgerConsumer
from medassist.ledger.redis_book import RedisBook
from medassist.monthend.run import Options, month_end
from medassist.ops.cluster import WorkerProcess, end_total, wait_processed, worker_env
from medassist.ops.embedded import TansuBroker, free_port
from medassist.population import population
from medassist.security import signing
from medassist.state.redis_client import sync_client
from medassist.stream.config import WorkerConfig
from medassist.stream.feed import feed_lines
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, ensure_topics

from .secure_redis import SecureRedis

pytestmark = [pytest.mark.integration, pytest.mark.fault]


class InfoWorker(WorkerProcess):
    """A worker logging at INFO, as docker-compose.yml runs them (the default is WARNING)."""

    def start(self) -> WorkerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        self.proc = subprocess.Popen([sys.executable, "-m", "medassist.cli", "worker", "--loglevel", "INFO"],
                                     env={**worker_env(self.cfg, self.worker_id, self.metrics_port), **self.env},
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self


def hostile(events: list[dict[str, object]]) -> list[bytes]:
    """Bad messages that carry person numbers: each is dead-lettered, and none may be logged."""
    e = dict(events[3])
    return [orjson.dumps({**e, "event_id": "BAD-1", "age": "forty"}),  # wrong type
            orjson.dumps({**e, "event_id": "BAD-2", "type": "settlemnt"}),  # unknown type
            orjson.dumps({k: v for k, v in e.items() if k != "setl_time"} | {"event_id": "BAD-3"}),
            b'{"psn_no": "' + str(e["psn_no"]).encode() + b'", "oops"',  # not JSON
            orjson.dumps({**e, "event_id": "BAD-4", "medfee_sumamt": "-1e9"})]


def test_a_fault_run_logs_no_person_numbers_and_no_secrets(
        kafka_broker: TansuBroker, topics: Topics, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        signing_keys: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="medassist")
    events = list(population(40, seed=13))
    people = {str(e["psn_no"]) for e in events}
    bootstrap = kafka_broker.bootstrap
    ensure_topics(bootstrap, topics.all(), 4)
    with SecureRedis(tmp_path / "secure") as rs:
        for k, v in rs.env("worker").items():
            monkeypatch.setenv(k, v)
        cfg = WorkerConfig(bootstrap=bootstrap, redis_url=rs.url, topics=topics, group=f"{topics.prefix}-w",
                           partitions=4, fast_rebalance=True, datadir=str(tmp_path / "faust"))
        ports = [free_port(), free_port()]
        workers = [InfoWorker(cfg, f"w{i}", tmp_path, metrics_port=ports[i]).start() for i in range(2)]
        try:
            lines = [orjson.dumps(e) for e in events]
            half = len(lines) // 2
            feed_lines(bootstrap, topics.events, lines[:half])
            time.sleep(4.0)
            workers[0].kill()  # kill -9 mid-run: its partitions move, its batch is redelivered
            feed_lines(bootstrap, topics.events, hostile(events) + lines[half:])
            workers[0].start()
            wait_processed(bootstrap, cfg.group, topics.events, end_total(bootstrap, topics.events), 180.0,
                           workers, progress=False, restarts=2)
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{ports[1]}/metrics", timeout=5).read().decode()
        finally:
            for w in workers:
                w.stop()
        assert len(list(read_topic(bootstrap, topics.deadletters))) >= 5  # the hostile input was seen
        assert "medassist_dead_letters_total" in metrics and "medassist_events_total" in metrics

        for k, v in rs.env("ledger").items():
            monkeypatch.setenv(k, v)
        consumer = LedgerConsumer(bootstrap, RedisBook(sync_client(rs.url), topics.prefix), topics,
                                  group=f"{topics.prefix}-ledger")
        try:
            ledger_summary = consumer.run(until_end=True)
        finally:
            consumer.close()
        for k, v in rs.env("month-end").items():
            monkeypatch.setenv(k, v)
        month = min(str(e["setl_time"])[:7] for e in events if e.get("setl_time"))
        summary = month_end(month, Options(bootstrap, rs.url, topics.prefix, out_dir=str(tmp_path / "out")))
        secrets = [*rs.passwords.values()]

    key_pem = Path(signing_keys[signing.ENV_KEY_FILE]).read_text()
    secrets += [line for line in key_pem.splitlines() if not line.startswith("-----")]
    logs = "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("w*.log")) + "\n" + caplog.text
    assert "agent crashed" not in logs
    assert logs.count("[INFO]") > 20  # a real log to search, not an empty file
    person = re.compile("|".join(map(re.escape, sorted(people))))
    assert person.search(logs) is None, person.search(logs)
    labels = "\n".join(line for line in metrics.splitlines() if not line.startswith("#"))
    assert person.search(labels) is None
    summaries = orjson.dumps(summary).decode() + repr(ledger_summary)
    for secret in secrets:
        assert secret not in logs and secret not in metrics and secret not in summaries
