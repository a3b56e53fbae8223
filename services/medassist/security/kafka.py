"""Kafka client security settings from the environment, for every client medassist makes.

  MEDASSIST_KAFKA_SECURITY_PROTOCOL   PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL
  MEDASSIST_KAFKA_SASL_MECHANISM      SCRAM-SHA-512 (default with SASL), SCRAM-SHA-256 or PLAIN
  MEDASSIST_KAFKA_USER                the principal (one per role: docker-compose.yml, docs/security.md)
  MEDASSIST_KAFKA_PASSWORD_FILE       a file holding its password (never the environment itself)
  MEDASSIST_KAFKA_CA_FILE             CA that signed the brokers' certificates (SSL, SASL_SSL)
  MEDASSIST_KAFKA_CERT_FILE           client certificate, where the listener asks for one (mTLS)
  MEDASSIST_KAFKA_KEY_FILE            its private key

One reading (`KafkaSecurity.from_env`), three shapes: kafka-python's keyword arguments (feed, tail,
topics, ledger, month-end, the launcher), aiokafka's (the worker's producer), faust's
`broker_credentials` (the worker's consumer group, and whatif's shadow group, which runs workers).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medassist.security.errors import SettingError
from medassist.security.redis_auth import read_secret

ENV_PROTOCOL = "MEDASSIST_KAFKA_SECURITY_PROTOCOL"
ENV_MECHANISM = "MEDASSIST_KAFKA_SASL_MECHANISM"
ENV_USER = "MEDASSIST_KAFKA_USER"
ENV_PASSWORD_FILE = "MEDASSIST_KAFKA_PASSWORD_FILE"
ENV_CA = "MEDASSIST_KAFKA_CA_FILE"
ENV_CERT = "MEDASSIST_KAFKA_CERT_FILE"
ENV_KEY = "MEDASSIST_KAFKA_KEY_FILE"

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a repr, a log or an error
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KafkaSecurity:
        e = os.environ if env is None else env
        protocol = (e.get(ENV_PROTOCOL) or "PLAINTEXT").upper()
        if protocol not in PROTOCOLS:
            raise SettingError(f"{ENV_PROTOCOL}: {protocol!r} is not one of {', '.join(PROTOCOLS)}")
        files = {}
        for name in (ENV_CA, ENV_CERT, ENV_KEY):
            if e.get(name):
                if protocol not in ("SSL", "SASL_SSL"):
                    raise SettingError(f"{name}: set, but {ENV_PROTOCOL} is {protocol} (no TLS)")
                if not Path(e[name]).is_file():
                    raise SettingError(f"{name}: no file at {e[name]}")
                files[name] = e[name]
        if bool(files.get(ENV_CERT)) != bool(files.get(ENV_KEY)):
            raise SettingError(f"{ENV_CERT if ENV_KEY in files else ENV_KEY}: a client certificate needs both "
                               "the certificate and its key")
        if not protocol.startswith("SASL_"):
            return cls(protocol, ca_file=files.get(ENV_CA), cert_file=files.get(ENV_CERT), key_file=files.get(ENV_KEY))
        mechanism = (e.get(ENV_MECHANISM) or "SCRAM-SHA-512").upper()
        if mechanism not in MECHANISMS:
            raise SettingError(f"{ENV_MECHANISM}: {mechanism!r} is not one of {', '.join(MECHANISMS)}")
        if mechanism == "PLAIN" and protocol != "SASL_SSL":
            raise SettingError(f"{ENV_MECHANISM}: PLAIN sends the password as it is; use it only with SASL_SSL")
        user = e.get(ENV_USER)
        if not user:
            raise SettingError(f"{ENV_USER}: not set ({ENV_PROTOCOL} is {protocol})")
        if not e.get(ENV_PASSWORD_FILE):
            raise SettingError(f"{ENV_PASSWORD_FILE}: not set ({ENV_PROTOCOL} is {protocol})")
        password = read_secret(e[ENV_PASSWORD_FILE], ENV_PASSWORD_FILE)
        return cls(protocol, mechanism, user, password, files.get(ENV_CA), files.get(ENV_CERT), files.get(ENV_KEY))

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient."""
        if self.protocol == "PLAINTEXT":
            return {}
        kw: dict[str, Any] = {"security_protocol": self.protocol}
        if self.sasl:
            kw.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.user,
                      sasl_plain_password=self.password)
        if self.tls:
            kw.update(ssl_check_hostname=True, ssl_cafile=self.ca_file, ssl_certfile=self.cert_file,
                      ssl_keyfile=self.key_file)
        return kw

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for aiokafka and faust (None without TLS): the CA given, else the system's."""
        if not self.tls:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        if self.cert_file and self.key_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's AIOKafkaProducer / AIOKafkaConsumer."""
        if self.protocol == "PLAINTEXT":
            return {}
        kw: dict[str, Any] = {"security_protocol": self.protocol}
        if self.sasl:
            kw.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.user,
                      sasl_plain_password=self.password)
        if self.tls:
            kw["ssl_context"] = self.ssl_context()
        return kw

    def faust(self) -> dict[str, Any]:
        """`broker_credentials` for faust.App (empty for PLAINTEXT)."""
        import faust

        if self.sasl:
            creds: Any = faust.SASLCredentials(username=self.user, password=self.password,
                                               ssl_context=self.ssl_context(), mechanism=self.mechanism)
        elif self.tls:
            creds = faust.SSLCredentials(self.ssl_context())
        else:
            return {}
        return {"broker_credentials": creds}


def kafka_options(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """kafka-python keyword arguments from the environment (what every kafka-python client adds)."""
    return KafkaSecurity.from_env(env).kafka_python()
