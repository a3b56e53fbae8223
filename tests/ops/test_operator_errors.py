"""Each mistake an operator makes first is refused in one line, fast, with its exit code, and
leaves no process behind (issue 14: clear errors, fast). docs/operations.md lists the codes."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from medassist.errors import EXIT_UNREACHABLE, EXIT_USAGE
from procs import alive, clean_env, medassist


def _refused(done, spawned, code: int, *words: str) -> str:  # type: ignore[no-untyped-def]
    err = done.stderr
    assert done.returncode == code, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    for w in words:
        assert w in last, last
    assert alive(spawned) == set(), spawned
    return last


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when we return: nothing listens there


def test_run_on_a_missing_file_starts_nothing(tmp_path: Path) -> None:
    t0 = time.monotonic()
    done, spawned = medassist("run", str(tmp_path / "nope.jsonl"), env=clean_env())
    assert spawned == {}, spawned  # no broker, no redis-server, no worker
    _refused(done, spawned, EXIT_USAGE, "nope.jsonl", "no such file")
    assert time.monotonic() - t0 < 10


def test_sample_into_a_missing_folder(tmp_path: Path) -> None:
    done, spawned = medassist("sample", str(tmp_path / "no" / "x.jsonl"), env=clean_env())
    _refused(done, spawned, EXIT_USAGE, "folder", "does not exist")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(("value", "why"), [("2023-13", "month 13 is not 01..12"),
                                            ("2023-5", "not a month written YYYY-MM")])
def test_month_end_says_what_is_wrong_with_the_month(value: str, why: str) -> None:
    done, spawned = medassist("month-end", "--month", value, env=clean_env())
    _refused(done, spawned, EXIT_USAGE, "--month", value, why)


def test_a_dead_broker_is_reported_in_one_line_within_seconds() -> None:
    port = _closed_port()
    for argv in (["month-end", "--month", "2023-05"], ["tail", "decisions"], ["ledger", "statement", "--month",
                                                                                "2023-05"]):
        t0 = time.monotonic()
        done, spawned = medassist(*argv, env=clean_env(MEDASSIST_BOOTSTRAP=f"127.0.0.1:{port}",
                                                       MEDASSIST_REDIS_URL=f"redis://127.0.0.1:{port}/0"))
        assert time.monotonic() - t0 < 8, argv
        _refused(done, spawned, EXIT_UNREACHABLE, f"127.0.0.1:{port}", "MEDASSIST_BOOTSTRAP", "refused")


def test_a_dead_redis_names_the_flag_that_chose_it(kafka_broker) -> None:  # type: ignore[no-untyped-def]
    port = _closed_port()
    done, spawned = medassist("month-end", "--month", "2023-05", "--bootstrap", kafka_broker.bootstrap,
                              "--redis", f"redis://127.0.0.1:{port}/0", env=clean_env())
    _refused(done, spawned, EXIT_UNREACHABLE, "Redis", f"127.0.0.1:{port}", "--redis")


def test_no_broker_configured_points_at_up(tmp_path: Path) -> None:
    """No built-in 127.0.0.1:6379: another program's Redis may be there."""
    done, spawned = medassist("feed", __file__, env=clean_env(MEDASSIST_STATE_DIR=str(tmp_path)))
    _refused(done, spawned, EXIT_USAGE, "medassist up", "MEDASSIST_BOOTSTRAP")


def test_debug_prints_the_traceback() -> None:
    port = _closed_port()
    done, _ = medassist("--debug", "tail", "decisions", env=clean_env(MEDASSIST_BOOTSTRAP=f"127.0.0.1:{port}"))
    assert done.returncode == EXIT_UNREACHABLE
    assert "Traceback" in done.stderr
