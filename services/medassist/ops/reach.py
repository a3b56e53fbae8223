"""Is the broker / Redis there? Asked in about two seconds, before a command starts any work.

Without this, kafka-python waits ~30 s for metadata and then raises a long KafkaTimeoutError;
here the answer is one line naming the address and the setting that chose it.
"""

from __future__ import annotations

import socket

from medassist.errors import Unreachable
from medassist.ops.settings import Setting

TIMEOUT_S = 2.0


def check_broker(s: Setting, timeout_s: float = TIMEOUT_S) -> None:
    """At least one bootstrap address accepts a connection and answers a Kafka ApiVersions request."""
    from medassist.security.kafka import KafkaSecurity

    tls = KafkaSecurity.from_env().ssl_context()  # a TLS listener answers ApiVersions inside TLS (before SASL)
    errors = []
    for hp in s.value.split(","):
        host, _, port = hp.strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout_s) as raw, \
                    (tls.wrap_socket(raw, server_hostname=host) if tls else raw) as conn:
                conn.settimeout(timeout_s)
                # ApiVersions v0, correlation id 1, client id "medassist": a broker answers it at once;
                # a port held by something else (Redis, a web server) does not answer like one.
                body = b"\x00\x12\x00\x00\x00\x00\x00\x01\x00\x09medassist"
                conn.sendall(len(body).to_bytes(4, "big") + body)
                head = conn.recv(8)
                if len(head) < 8 or head[4:8] != b"\x00\x00\x00\x01":
                    raise OSError("it does not answer as a Kafka broker")
            return
        except (OSError, ValueError) as e:
            errors.append(_why(e) if "," not in s.value else f"{hp}: {_why(e)}")
    raise Unreachable(f"cannot reach the Kafka broker at {s.value}: {'; '.join(errors)}; check {s.source}")


def check_redis(s: Setting, timeout_s: float = TIMEOUT_S) -> None:
    """Redis answers PING as the configured ACL user (security/redis_auth.py), over TLS if so set."""
    import redis

    from medassist.security import redis_auth

    url = redis_auth.redact(s.value)  # a password in the URL is never printed
    opts = redis_auth.redis_options(s.value)
    try:
        client = redis.Redis.from_url(s.value, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, **opts)
    except ValueError:
        raise Unreachable(f"{url} is not a Redis URL; check {s.source}") from None
    try:
        client.ping()
    except redis.AuthenticationError:
        who = f"user {opts['username']!r}" if "username" in opts else "the default user"
        raise redis_auth.SettingError(
            f"{redis_auth.ENV_PASSWORD_FILE}: Redis at {url} refused {who} with this password "
            f"(or {redis_auth.ENV_USER} is wrong)") from None
    except redis.RedisError as e:
        raise Unreachable(f"cannot reach Redis at {url}: {_why(e)}; check {s.source}") from None
    finally:
        client.close()


def _why(e: BaseException) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, TimeoutError | socket.timeout):
        return f"no answer in {TIMEOUT_S:.0f}s"
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]
