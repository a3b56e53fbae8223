"""Where the broker and Redis are: a flag, else MEDASSIST_*, else the running `medassist up`.

There is deliberately no built-in host default: 127.0.0.1:6379 may be another program's Redis,
and writing a person's accumulators into it would be worse than refusing to start.
`medassist up` records its settings (and the processes it started) in a state file, so the
commands find its stack without the export lines too; `medassist down` reads the same file.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from medassist.errors import UsageError

STATE_DIR_ENV = "MEDASSIST_STATE_DIR"


def state_dir() -> Path:
    env = os.environ.get(STATE_DIR_ENV)
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "medassist"


def state_file() -> Path:
    return state_dir() / "up.json"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0): read its state where /proc tells it
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def read_up_state() -> dict[str, Any] | None:
    """The state `medassist up` wrote, if that `up` is still running."""
    try:
        state: dict[str, Any] = orjson.loads(state_file().read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return state if pid_alive(int(state.get("pid", 0))) else None


@dataclass(frozen=True)
class Setting:
    value: str
    source: str  # what to change: the flag, the variable, or the running `up`


def resolve(flag_value: str | None, flag: str, env: str, up_key: str, what: str) -> Setting:
    if flag_value:
        return Setting(flag_value, flag)
    if os.environ.get(env):
        return Setting(os.environ[env], env)
    up = read_up_state()
    if up is not None and up.get("env", {}).get(env):
        for k, v in up["env"].items():  # the rest of up's settings too (topic prefix, key paths), as if exported
            os.environ.setdefault(k, v)
        return Setting(up["env"][env], f"{env} (from the running `medassist up`, pid {up['pid']})")
    raise UsageError(f"no {what} configured: start `medassist up` (it prints the export lines), "
                     f"or set {env}, or pass {flag}")


def bootstrap(flag_value: str | None) -> Setting:
    return resolve(flag_value, "--bootstrap", "MEDASSIST_BOOTSTRAP", "bootstrap", "Kafka broker")


def redis_url(flag_value: str | None) -> Setting:
    return resolve(flag_value, "--redis", "MEDASSIST_REDIS_URL", "redis_url", "Redis")


def topic_prefix(flag_value: str | None = None) -> str | None:
    """The prefix to use when neither the flag nor MEDASSIST_TOPIC_PREFIX says: the running `up`'s."""
    if flag_value or os.environ.get("MEDASSIST_TOPIC_PREFIX"):
        return flag_value or os.environ["MEDASSIST_TOPIC_PREFIX"]
    up = read_up_state()
    return None if up is None else up.get("env", {}).get("MEDASSIST_TOPIC_PREFIX")
