"""Kafka client security settings: what each setting gives each client library, and every client
(feed, tail, topics, the faust/aiokafka worker, the ledger, month-end, the launcher) really talking
TLS with a client certificate to a real Tansu broker (behind a TLS front: Tansu 0.6 serves no TLS
itself, and its SASL users cannot be created on the memory engine; see README)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from medassist.ledger.consumer import LedgerConsumer
from medassist.ledger.redis_book import RedisBook
from medassist.monthend.run import Options, month_end
from medassist.ops.cluster import WorkerProcess, end_total, wait_processed
from medassist.ops.embedded import RedisServer, TansuBroker, free_port
from medassist.population import population
from medassist.replay import Replayer
from medassist.security import kafka as K
from medassist.stream.config import WorkerConfig
from medassist.stream.faust_settings import faust_app_kwargs
from medassist.stream.feed import feed_lines
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, ensure_topics

from .pki import make_pki
from .tls_proxy import TlsProxy


def test_sasl_ssl_scram_gives_each_library_the_same_principal(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    pw = tmp_path / "finance.password"
    pw.write_text("finance-s3cret\n")
    env = {K.ENV_PROTOCOL: "SASL_SSL", K.ENV_USER: "finance", K.ENV_PASSWORD_FILE: str(pw),
           K.ENV_CA: str(pki["ca"]), K.ENV_CERT: str(pki["client"]), K.ENV_KEY: str(pki["client-key"])}
    s = K.KafkaSecurity.from_env(env)
    assert s.mechanism == "SCRAM-SHA-512"  # the default mechanism
    assert "finance-s3cret" not in repr(s)
    assert K.kafka_options(env) == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "finance",
        "sasl_plain_password": "finance-s3cret", "ssl_check_hostname": True, "ssl_cafile": str(pki["ca"]),
        "ssl_certfile": str(pki["client"]), "ssl_keyfile": str(pki["client-key"])}
    aio = s.aiokafka()
    assert {k: v for k, v in aio.items() if k != "ssl_context"} == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "finance",
        "sasl_plain_password": "finance-s3cret"}
    assert isinstance(aio["ssl_context"], ssl.SSLContext) and aio["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    creds = s.faust()["broker_credentials"]  # what faust hands aiokafka for the worker's consumer group
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    auth = credentials_to_aiokafka_auth(creds)
    assert (auth["security_protocol"], auth["sasl_mechanism"], auth["sasl_plain_username"],
            auth["sasl_plain_password"]) == ("SASL_SSL", "SCRAM-SHA-512", "finance", "finance-s3cret")
    plain = K.KafkaSecurity.from_env({**env, K.ENV_MECHANISM: "PLAIN"})
    assert plain.kafka_python()["sasl_mechanism"] == "PLAIN"


def test_the_worker_app_takes_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pw = tmp_path / "worker.password"
    pw.write_text("w\n")
    monkeypatch.setenv(K.ENV_PROTOCOL, "SASL_PLAINTEXT")
    monkeypatch.setenv(K.ENV_USER, "medassist-worker")
    monkeypatch.setenv(K.ENV_PASSWORD_FILE, str(pw))
    kw = faust_app_kwargs("b:9092", "g")
    assert kw["broker_credentials"].username == "medassist-worker"
    assert kw["broker_credentials"].mechanism.value == "SCRAM-SHA-512"


@pytest.mark.parametrize("env, message", [
    ({K.ENV_PROTOCOL: "SASL_SSLX"}, r"^MEDASSIST_KAFKA_SECURITY_PROTOCOL: 'SASL_SSLX' is not one of"),
    ({K.ENV_PROTOCOL: "SASL_SSL"}, r"^MEDASSIST_KAFKA_USER: not set"),
    ({K.ENV_PROTOCOL: "SASL_SSL", K.ENV_USER: "u"}, r"^MEDASSIST_KAFKA_PASSWORD_FILE: not set"),
    ({K.ENV_PROTOCOL: "SASL_SSL", K.ENV_USER: "u", K.ENV_PASSWORD_FILE: "/nonexistent/pw"},
     r"^MEDASSIST_KAFKA_PASSWORD_FILE: cannot read /nonexistent/pw"),
    ({K.ENV_PROTOCOL: "SASL_PLAINTEXT", K.ENV_MECHANISM: "PLAIN", K.ENV_USER: "u"},
     r"^MEDASSIST_KAFKA_SASL_MECHANISM: PLAIN sends the password as it is"),
    ({K.ENV_PROTOCOL: "SASL_SSL", K.ENV_MECHANISM: "GSSAPI"}, r"^MEDASSIST_KAFKA_SASL_MECHANISM: 'GSSAPI'"),
    ({K.ENV_CA: "/etc/hostname"}, r"^MEDASSIST_KAFKA_CA_FILE: set, but MEDASSIST_KAFKA_SECURITY_PROTOCOL is PLAINTEXT"),
    ({K.ENV_PROTOCOL: "SSL", K.ENV_CERT: "/etc/hostname"}, r"^MEDASSIST_KAFKA_KEY_FILE: a client certificate needs"),
])
def test_settings_errors_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(K.SettingError, match=message):
        K.KafkaSecurity.from_env(env)


class ProxiedTansu(TansuBroker):
    """Tansu advertising the TLS front's address: clients reach it only through TLS."""

    def __init__(self, advertised_port: int, workdir: Path, env: dict[str, str]) -> None:
        super().__init__(workdir=workdir)
        self.advertised_port, self.env = advertised_port, env

    def _argv(self) -> list[str]:
        return [self.binary, "broker", "--listener-url", f"tcp://127.0.0.1:{self.port}",
                "--advertised-listener-url", f"tcp://127.0.0.1:{self.advertised_port}",
                "--storage-engine", "memory://tansu/"]

    def _probe(self) -> None:
        admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{self.advertised_port}", request_timeout_ms=2000,
                                 bootstrap_timeout_ms=2000, **K.kafka_options(self.env))
        try:
            admin.describe_cluster()
        finally:
            admin.close()


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], TlsProxy]]:
    pki = make_pki(tmp_path / "pki")
    env = {K.ENV_PROTOCOL: "SSL", K.ENV_CA: str(pki["ca"]), K.ENV_CERT: str(pki["client"]),
           K.ENV_KEY: str(pki["client-key"])}
    front, back = free_port(), free_port()
    proxy = TlsProxy(front, back, pki["server"], pki["server-key"], pki["ca"]).start()
    broker = ProxiedTansu(front, tmp_path / "tansu", env)
    broker.port = back
    try:
        with broker:
            yield f"127.0.0.1:{front}", env, proxy
    finally:
        proxy.close()


@pytest.mark.integration
def test_every_client_talks_tls_with_a_client_certificate(
        tls_broker: tuple[str, dict[str, str], TlsProxy], redis_server: RedisServer, topics: Topics,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bootstrap, env, proxy = tls_broker
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    events = list(population(15, seed=4))
    replay = Replayer()
    expected = sum(len(replay.feed(dict(e))) for e in events)
    ensure_topics(bootstrap, topics.all(), 2)  # kafka-python admin
    cfg = WorkerConfig(bootstrap=bootstrap, redis_url=redis_server.url, topics=topics, group=f"{topics.prefix}-w",
                       partitions=2, fast_rebalance=True, datadir=str(tmp_path / "faust"), metrics_port=0)
    worker = WorkerProcess(cfg, "w-tls", tmp_path).start()  # faust's consumer, aiokafka's producer
    try:
        assert feed_lines(bootstrap, topics.events, [orjson.dumps(e) for e in events]) == len(events)
        wait_processed(bootstrap, cfg.group, topics.events, end_total(bootstrap, topics.events), 120.0,
                       [worker], progress=False)  # the launcher's admin client
        assert worker.alive, worker.log_path.read_text()
    finally:
        worker.stop()
    assert len(list(read_topic(bootstrap, topics.decisions))) == expected  # tail
    consumer = LedgerConsumer(bootstrap, RedisBook(redis_server.client(), topics.prefix), topics,
                              group=f"{topics.prefix}-ledger")
    try:
        assert consumer.run(until_end=True).posted > 0
    finally:
        consumer.close()
    instructions = [orjson.loads(v) for v in read_topic(bootstrap, topics.instructions)]
    month = min(i["setl_date"] for i in instructions if i.get("setl_date"))[:7]
    s = month_end(month, Options(bootstrap, redis_server.url, topics.prefix, companions=False))
    assert s["closed_now"] is True and len(list(read_topic(bootstrap, topics.reconciliation))) >= 1
    assert proxy.handshakes > 10

    # without the settings a client gets nowhere: plaintext never reaches the broker ...
    for k in env:
        monkeypatch.delenv(k)
    with pytest.raises(KafkaError):
        KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=1500, bootstrap_timeout_ms=1500,
                         api_version_auto_timeout_ms=1500).describe_cluster()
    # ... and TLS without a client certificate is refused at the handshake
    with pytest.raises(KafkaError):
        KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=1500, bootstrap_timeout_ms=1500,
                         api_version_auto_timeout_ms=1500, security_protocol="SSL",
                         ssl_cafile=env[K.ENV_CA]).describe_cluster()
