"""Debian's kcat as an independent Kafka client, for the tests that read topics with it.

librdkafka < 2.1 (Debian bookworm: kcat 1.7.1 + librdkafka 2.0.2) mis-skips the tagged fields
Tansu 0.6 puts in its ApiVersions v3 response and can never connect; api.version.request=false
does not avoid it. There `kcat_consume` pins that exact failure and returns None, so a test
starts failing the day the toolchain changes and its real read-back assertion takes over.
"""

from __future__ import annotations

import re
import shutil
import subprocess


def librdkafka_version(kcat: str) -> tuple[int, ...]:
    out = subprocess.run([kcat, "-V"], capture_output=True, timeout=10, check=True)
    m = re.search(rb"librdkafka (\d+)\.(\d+)\.(\d+)", out.stdout)
    assert m, out.stdout
    return tuple(int(x) for x in m.groups())


def kcat_consume(bootstrap: str, topic: str, fmt: str, *extra: str, timeout: float = 60) -> bytes | None:
    """What kcat prints consuming `topic` to its end, or None where it provably cannot talk to Tansu."""
    kcat = shutil.which("kcat")
    assert kcat, "kcat must be installed"
    argv = [kcat, "-b", bootstrap, "-C", "-t", topic, *extra, "-e", "-f", fmt]
    if librdkafka_version(kcat) < (2, 1, 0):
        res = subprocess.run(argv + ["-m", "3"], capture_output=True, timeout=30)
        assert res.returncode != 0 and res.stdout == b""
        assert b"ApiVersionRequest failed: Local: Read underflow" in res.stderr
        return None
    return subprocess.run(argv, capture_output=True, timeout=timeout, check=True).stdout
