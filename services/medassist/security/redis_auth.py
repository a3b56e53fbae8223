"""Redis credentials and TLS from the environment, for every Redis client medassist makes.

  MEDASSIST_REDIS_USER            the ACL user (worker, ledger, month-end: deploy/redis/users.acl)
  MEDASSIST_REDIS_PASSWORD_FILE   a file holding its password (never the URL, never the environment)
  MEDASSIST_REDIS_CA_FILE         CA that signed the server's certificate   } TLS: used when
  MEDASSIST_REDIS_CERT_FILE       client certificate, if the server asks   } MEDASSIST_REDIS_URL
  MEDASSIST_REDIS_KEY_FILE        its private key                           } is rediss://

`redis_options(url)` gives keyword arguments that redis.Redis.from_url, redis.asyncio.from_url,
the cluster clients' from_url and a ConnectionPool all accept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from medassist.security.errors import SettingError

ENV_USER = "MEDASSIST_REDIS_USER"
ENV_PASSWORD_FILE = "MEDASSIST_REDIS_PASSWORD_FILE"
ENV_CA = "MEDASSIST_REDIS_CA_FILE"
ENV_CERT = "MEDASSIST_REDIS_CERT_FILE"
ENV_KEY = "MEDASSIST_REDIS_KEY_FILE"


def read_secret(path: str, setting: str) -> str:
    """A password file's content without its trailing newline; the error names the setting, not the secret."""
    try:
        text = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as e:
        raise SettingError(f"{setting}: cannot read {path} ({e.strerror or type(e).__name__})") from None
    if not text:
        raise SettingError(f"{setting}: {path} is empty")
    return text


def is_tls(url: str) -> bool:
    return url.startswith("rediss://")


def redis_options(url: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for a client of `url`: user, password from its file, TLS files."""
    e = os.environ if env is None else env
    kw: dict[str, Any] = {}
    if e.get(ENV_USER):
        kw["username"] = e[ENV_USER]
    if e.get(ENV_PASSWORD_FILE):
        kw["password"] = read_secret(e[ENV_PASSWORD_FILE], ENV_PASSWORD_FILE)
    elif "username" in kw:
        raise SettingError(f"{ENV_PASSWORD_FILE}: not set ({ENV_USER} is {kw['username']!r}; its password "
                           "comes from a file)")
    files = {ENV_CA: "ssl_ca_certs", ENV_CERT: "ssl_certfile", ENV_KEY: "ssl_keyfile"}
    given = {name: e[name] for name in files if e.get(name)}
    if given and not is_tls(url):
        raise SettingError(f"{next(iter(given))}: set, but MEDASSIST_REDIS_URL is not rediss:// (TLS)")
    for name, path in given.items():
        if not Path(path).is_file():
            raise SettingError(f"{name}: no file at {path}")
        kw[files[name]] = path
    if is_tls(url):
        kw["ssl_cert_reqs"] = "required"  # the server's certificate is always checked
    return kw


def redact(url: str) -> str:
    """`url` without a password in it, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable Redis URL>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
