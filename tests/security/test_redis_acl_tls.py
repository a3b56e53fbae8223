"""Least-privilege Redis on a real redis-server (TLS only, client certificates, the repository's ACL
file): the worker, the ledger and month-end each work as their own user; the worker's user cannot
FLUSHALL, CONFIG or touch keys outside its prefix; a wrong password stops the worker at start."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis
from medassist.ledger.consumer import LedgerConsumer
from medassist.ledger.redis_book import RedisBook
from medassist.monthend.run import Options, month_end
from medassist.ops.cluster import WorkerProcess, end_total, wait_processed
from medassist.ops.embedded import TansuBroker
from medassist.population import population
from medassist.replay import Replayer
from medassist.security import redis_acl, redis_auth
from medassist.security.signing import verifier_from_env
from medassist.state.redis_client import sync_client
from medassist.stream.config import WorkerConfig
from medassist.stream.feed import feed_lines
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, ensure_topics

from .secure_redis import SecureRedis

pytestmark = pytest.mark.integration


@pytest.fixture
def secure_redis(tmp_path: Path) -> Iterator[SecureRedis]:
    with SecureRedis(tmp_path / "secure") as server:
        yield server


def test_worker_ledger_and_month_end_work_as_their_own_users_over_tls(
        kafka_broker: TansuBroker, secure_redis: SecureRedis, topics: Topics, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    events = list(population(25, seed=9))
    replay = Replayer()
    expected = sum(len(replay.feed(dict(e))) for e in events)
    bootstrap = kafka_broker.bootstrap
    ensure_topics(bootstrap, topics.all(), 2)
    for k, v in secure_redis.env("worker").items():
        monkeypatch.setenv(k, v)  # what the worker process inherits
    cfg = WorkerConfig(bootstrap=bootstrap, redis_url=secure_redis.url, topics=topics,
                       group=f"{topics.prefix}-workers", partitions=2, fast_rebalance=True,
                       datadir=str(tmp_path / "faust"), metrics_port=0)
    worker = WorkerProcess(cfg, "w-tls", tmp_path).start()
    try:
        assert feed_lines(bootstrap, topics.events, [orjson.dumps(e) for e in events]) == len(events)
        wait_processed(bootstrap, cfg.group, topics.events, end_total(bootstrap, topics.events), 120.0,
                       [worker], progress=False)
        assert worker.alive, worker.log_path.read_text()
    finally:
        worker.stop()
    assert len(list(read_topic(bootstrap, topics.decisions))) == expected
    instructions = [orjson.loads(v) for v in read_topic(bootstrap, topics.instructions)]
    assert instructions and all(verifier_from_env().check(i) is None for i in instructions)

    # the worker's user: its own keys, nothing else
    w = secure_redis.client_as("worker")
    psn = events[0]["psn_no"]
    assert w.hgetall(f"ma:{{{psn}}}")  # a person's accumulators
    for denied in (w.flushall, w.flushdb, lambda: w.config_get("*"), lambda: w.config_set("appendonly", "no"),
                   lambda: w.keys("*"), lambda: w.get("ml:{x:130302}:bal"), lambda: w.get("ma:close:{p}:months"),
                   lambda: w.acl_list(), lambda: w.execute_command("SHUTDOWN")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            denied()
    w.close()
    admin = secure_redis.client_as("admin")
    assert admin.exists(f"ma:{{{psn}}}") == 1  # FLUSHALL really was refused

    # the ledger posts as `ledger` (its keys only) ...
    for k, v in secure_redis.env("ledger").items():
        monkeypatch.setenv(k, v)
    book = RedisBook(sync_client(secure_redis.url), topics.prefix)
    consumer = LedgerConsumer(bootstrap, book, topics, group=f"{topics.prefix}-ledger")
    try:
        summary = consumer.run(until_end=True)
    finally:
        consumer.close()
    assert summary.posted == len({i["instruction_id"] for i in instructions}) and not summary.rejected
    with pytest.raises(redis.exceptions.NoPermissionError):
        book.r.hgetall(f"ma:{{{psn}}}")  # no person data for the ledger

    # ... and month-end closes as `month-end`, reading the ledger but unable to change it
    for k, v in secure_redis.env("month-end").items():
        monkeypatch.setenv(k, v)
    month = min(i["setl_date"] for i in instructions if i.get("setl_date"))[:7]
    s = month_end(month, Options(bootstrap, secure_redis.url, topics.prefix, companions=True))
    assert s["closed_now"] is True and s["intake"]["unverified"] == {}
    me = secure_redis.client_as("month-end")
    assert me.smembers(f"ml:{topics.prefix}:counties")
    with pytest.raises(redis.exceptions.NoPermissionError):
        me.sadd(f"ml:{topics.prefix}:counties", "999999")
    assert admin.exists(f"ma:close:{{{topics.prefix}}}:{month}") == 1
    admin.close()
    me.close()


def test_a_wrong_password_stops_the_worker_at_start_in_one_line(
        kafka_broker: TansuBroker, secure_redis: SecureRedis, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MEDASSIST_REDIS")}
    env.update(secure_redis.env("worker", wrong), MEDASSIST_BOOTSTRAP=kafka_broker.bootstrap)
    done = subprocess.run([sys.executable, "-m", "medassist.cli", "worker"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("medassist worker: MEDASSIST_REDIS_PASSWORD_FILE: Redis at rediss://127.0.0.1:")
    assert "refused user 'worker'" in lines[0]
    assert "not-the-password" not in done.stderr + done.stdout
    assert secure_redis.passwords["worker"] not in done.stderr + done.stdout


def test_redis_settings_name_the_setting_and_never_the_secret(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret-value\n")
    opts = redis_auth.redis_options("redis://h:1/0", {redis_auth.ENV_USER: "worker",
                                                      redis_auth.ENV_PASSWORD_FILE: str(pw)})
    assert opts == {"username": "worker", "password": "s3cret-value"}
    with pytest.raises(redis_auth.SettingError, match=r"^MEDASSIST_REDIS_PASSWORD_FILE: not set"):
        redis_auth.redis_options("redis://h:1/0", {redis_auth.ENV_USER: "worker"})
    with pytest.raises(redis_auth.SettingError, match=r"^MEDASSIST_REDIS_PASSWORD_FILE: cannot read"):
        redis_auth.redis_options("redis://h:1/0", {redis_auth.ENV_PASSWORD_FILE: str(tmp_path / "none")})
    with pytest.raises(redis_auth.SettingError, match=r"^MEDASSIST_REDIS_CA_FILE: set, but .* not rediss://"):
        redis_auth.redis_options("redis://h:1/0", {redis_auth.ENV_CA: str(pw)})
    assert redis_auth.redact("redis://worker:s3cret@h:6379/0") == "redis://worker:***@h:6379/0"
    with pytest.raises(redis_auth.SettingError, match="no password for user 'ledger'"):
        redis_acl.render("user ledger on #<ledger-password-sha256> ~ml:* +get\n", {})
