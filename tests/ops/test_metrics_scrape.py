"""A real Prometheus scrapes a real worker: the counts it stores are the counts replay gives.

Embedded broker + redis-server (fixtures); topics made by the compose file's own one-shot
command; one `medassist worker` with /metrics on a free port; a few people's events fed;
then /usr/bin/prometheus, configured from deploy/prometheus.yml with the worker target
rewritten and deploy/alerts.yml loaded, scrapes every second and is asked over its API.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from medassist.ops.cluster import WorkerProcess, end_total, wait_processed
from medassist.ops.embedded import RedisServer, TansuBroker, free_port
from medassist.population import population
from medassist.replay import replay_events
from medassist.stream import deadletter, instructions
from medassist.stream.config import WorkerConfig
from medassist.stream.feed import feed_lines
from medassist.stream.topics import Topics

pytestmark = [pytest.mark.integration, pytest.mark.needs("prometheus")]

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
BAD_LINES = [b"{not json", b'{"type": "settlement", "event_id": "S-bad"}', b'{"type": "reversal"}']


def http_get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return bytes(r.read())


def eventually(fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout_s: float = 45.0) -> Any:
    """Poll until `ok(fetch())`; returns the last value (the assertion after it shows it if not ok)."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        try:
            value = fetch()
            if ok(value):
                return value
        except OSError:
            pass  # not listening yet
        time.sleep(0.5)
    return value


class Prometheus:
    """/usr/bin/prometheus on a free loopback port with its TSDB in a temp dir."""

    def __init__(self, config: dict[str, Any], workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        shutil.copy(ROOT / "deploy" / "alerts.yml", workdir / "alerts.yml")
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Prometheus:
        log = open(self.workdir / "prometheus.log", "wb")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen([PROMETHEUS, f"--config.file={self.workdir / 'prometheus.yml'}",
                                      f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                                      f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        ready = eventually(lambda: http_get(f"{self.url}/-/ready"), lambda body: b"Ready" in body, 30)
        assert ready and b"Ready" in ready, (self.workdir / "prometheus.log").read_text()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, promql: str) -> list[dict[str, Any]]:
        body = http_get(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        answer = json.loads(body)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]  # type: ignore[no-any-return]

    def scalar(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def rules(self) -> list[dict[str, Any]]:
        return json.loads(http_get(f"{self.url}/api/v1/rules"))["data"]["groups"]  # type: ignore[no-any-return]


def scrape_config(worker_target: str) -> dict[str, Any]:
    """deploy/prometheus.yml with the worker job pointed at the local worker, scraping every second."""
    cfg = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    cfg["global"].update(scrape_interval="1s", evaluation_interval="1s")
    cfg.pop("alerting")
    (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "medassist-worker"]
    cfg["scrape_configs"] = [{"job_name": job["job_name"], "static_configs": [{"targets": [worker_target]}]}]
    return cfg


def create_topics_like_compose(bootstrap: str, topics: Topics, partitions: int) -> dict[str, int]:
    """Run docker-compose.yml's one-shot `topics` command, with its environment, against our broker."""
    svc = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]["topics"]
    # without its Kafka login: the embedded broker has no SASL (tests/security test those settings)
    env = {**os.environ, **{k: str(v) for k, v in svc["environment"].items() if not k.startswith("MEDASSIST_KAFKA_")},
           "MEDASSIST_BOOTSTRAP": bootstrap, "MEDASSIST_TOPIC_PREFIX": topics.prefix,
           "MEDASSIST_PARTITIONS": str(partitions)}
    assert svc["entrypoint"] == ["python", "-c"]
    r = subprocess.run([sys.executable, "-c", svc["command"][0]], env=env, capture_output=True, text=True,
                       timeout=90)
    assert r.returncode == 0, r.stderr
    return ast.literal_eval(r.stdout.strip())  # it prints ensure_topics' {topic: partitions}


@pytest.fixture
def worker(kafka_broker: TansuBroker, redis_server: RedisServer, topics: Topics,
           tmp_path: Path) -> Iterator[WorkerProcess]:
    cfg = WorkerConfig(bootstrap=kafka_broker.bootstrap, redis_url=redis_server.url, topics=topics,
                       group=f"{topics.prefix}-workers", partitions=2, fast_rebalance=True,
                       datadir=str(tmp_path / "faust"))
    proc = WorkerProcess(cfg, "w-metrics", tmp_path, metrics_port=free_port())
    yield proc
    proc.stop()


@pytest.mark.needs("promtool")
def test_prometheus_scrapes_the_worker_counts_replay_gives(kafka_broker: TansuBroker, topics: Topics,
                                                            worker: WorkerProcess, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap
    assert create_topics_like_compose(bootstrap, topics, 2) == {t: 2 for t in topics.all()}
    worker.start()

    lines = [orjson.dumps(e) for e in population(8, seed=11)]
    for i, bad in enumerate(BAD_LINES):  # between good ones
        lines.insert(5 + 10 * i, bad)
    decisions = replay_events(lines)
    expected = Counter((d["type"] or "unknown", d["status"]) for d in decisions)
    expected_dead = sum(1 for d in decisions if deadletter.is_dead(d))
    expected_paid_fen = sum(ln["amount_fen"] for d in decisions if instructions.build(d) is not None
                            for ln in d["lines"] if ln["amount_fen"] > 0)
    assert expected_dead >= len(BAD_LINES) and expected_paid_fen > 0 and expected[("settlement", "paid")] > 0

    assert feed_lines(bootstrap, topics.events, lines) == len(lines)
    wait_processed(bootstrap, worker.cfg.group, topics.events, end_total(bootstrap, topics.events), 120,
                   [worker], progress=False)

    worker_url = f"http://127.0.0.1:{worker.metrics_port}/metrics"
    text = http_get(worker_url)
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert lint.returncode == 0 and lint.stdout == b"" and lint.stderr == b"", lint.stdout + lint.stderr

    with Prometheus(scrape_config(f"127.0.0.1:{worker.metrics_port}"), tmp_path) as prom:
        total = sum(expected.values())
        got = eventually(lambda: prom.scalar('sum(medassist_events_total{job="medassist-worker"})'),
                         lambda v: v == total)
        assert got == total
        by_outcome = {(r["metric"]["type"], r["metric"]["outcome"]): int(float(r["value"][1]))
                      for r in prom.query("medassist_events_total")}
        assert by_outcome == dict(expected)
        assert prom.scalar("sum(medassist_dead_letters_total)") == expected_dead
        assert prom.scalar("sum(medassist_assistance_paid_fen_total)") == expected_paid_fen
        assert prom.scalar('up{job="medassist-worker"}') == 1
        lag = eventually(lambda: prom.scalar("sum(medassist_consumer_lag_messages)"), lambda v: v == 0)
        assert lag == 0
        # the real Prometheus loaded deploy/alerts.yml and evaluates every rule without error
        groups = eventually(prom.rules, lambda gs: all(r["health"] == "ok" for g in gs for r in g["rules"])
                            and len(gs) == 3)
        assert {g["name"] for g in groups} == {"medassist-processes", "medassist-stream", "medassist-money"}
        assert all(r["health"] == "ok" for g in groups for r in g["rules"]), groups
        # The dead-letter series were born with their final values (a new series starts at its
        # first value, so increase() sees nothing): this alert firing proves its `_created` half.
        groups = eventually(prom.rules, lambda gs: any(r["name"] == "MedassistDeadLetters" and r["state"] == "firing"
                                                       for g in gs for r in g["rules"]))
        firing = {r["name"] for g in groups for r in g["rules"] if r.get("state") == "firing"}
        assert "MedassistDeadLetters" in firing
        print(f"scraped {total} decisions, {expected_dead} dead letters, {expected_paid_fen} fen paid; "
              f"alerts firing: {sorted(firing)}")
        assert "MedassistNoWorkerUp" not in firing and "MedassistWorkerDown" not in firing
