"""A real redis-server with deploy/redis/users.acl installed and TLS only (no plaintext port)."""

from __future__ import annotations

import secrets
from pathlib import Path

import redis
from medassist.ops.embedded import RedisServer
from medassist.security import redis_acl, redis_auth

from .pki import make_pki

ROOT = Path(__file__).resolve().parents[2]
USERS = ("admin", "worker", "ledger", "month-end", "whatif")


class SecureRedis(RedisServer):
    """TLS on `port` (client certificates required), the repository's ACL file with fresh passwords."""

    name = "redis-secure"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir=workdir / "redis")
        self.pki = make_pki(workdir / "pki")
        self.passwords = {u: secrets.token_urlsafe(18) for u in USERS}
        self.password_files = {}
        for u, pw in self.passwords.items():
            f = workdir / f"{u}.password"
            f.write_text(pw + "\n")
            f.chmod(0o600)
            self.password_files[u] = f
        self.aclfile = workdir / "users.acl"
        template = (ROOT / "deploy" / "redis" / "users.acl").read_text(encoding="utf-8")
        self.aclfile.write_text(redis_acl.render(template, self.passwords))

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    def env(self, user: str, password_file: Path | None = None) -> dict[str, str]:
        """The settings a program running as `user` gets (what docker-compose.yml sets)."""
        return {"MEDASSIST_REDIS_URL": self.url, redis_auth.ENV_USER: user,
                redis_auth.ENV_PASSWORD_FILE: str(password_file or self.password_files[user]),
                redis_auth.ENV_CA: str(self.pki["ca"]), redis_auth.ENV_CERT: str(self.pki["client"]),
                redis_auth.ENV_KEY: str(self.pki["client-key"])}

    def client_as(self, user: str) -> redis.Redis:
        return redis.Redis.from_url(self.url, **redis_auth.redis_options(self.url, self.env(user)))

    def _argv(self) -> list[str]:
        return [self.binary, "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
                "--tls-cert-file", str(self.pki["server"]), "--tls-key-file", str(self.pki["server-key"]),
                "--tls-ca-cert-file", str(self.pki["ca"]), "--tls-auth-clients", "yes",
                "--aclfile", str(self.aclfile), "--dir", str(self.workdir), "--daemonize", "no", "--save", "",
                "--appendonly", "yes", "--appendfsync", "always"]

    def _probe(self) -> None:
        c = self.client_as("admin")
        try:
            if not c.ping():
                raise ConnectionError("no PONG")
        finally:
            c.close()
