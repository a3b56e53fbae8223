"""argparse `type=` checks: a wrong value is refused before anything starts, saying what is wrong.

Each raises argparse.ArgumentTypeError with the reason; argparse prints
`medassist CMD: error: argument --x: <reason>` and exits with 2.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})Q(\d)$")


def month(text: str) -> str:
    m = _MONTH.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month written YYYY-MM (e.g. 2023-05)")
    if not 1 <= int(m.group(2)) <= 12:
        raise argparse.ArgumentTypeError(f"{text!r}: month {m.group(2)} is not 01..12")
    return text


def quarter(text: str) -> str:
    m = _QUARTER.match(text)
    if not m or not 1 <= int(m.group(2)) <= 4:
        raise argparse.ArgumentTypeError(f"{text!r} is not a quarter written YYYYQn, n 1..4 (e.g. 2023Q2)")
    return text


def positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} must be at least 1")
    return n


def positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0")
    return x


def port(text: str) -> int:
    n = positive_int(text)
    if n > 65535:
        raise argparse.ArgumentTypeError(f"{n} is not a TCP port (1..65535)")
    return n


def input_file(text: str) -> str:
    p = Path(text)
    if not p.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    if not os.access(p, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text}: not readable (permission denied)")
    return text


def output_file(text: str) -> str:
    p = Path(text)
    parent = p.parent
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name inside it")
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text}: folder {parent} is not writable")
    return text


def output_dir(text: str) -> str:
    """A folder to write into: created when missing (with its parents), so only a file in the way is refused."""
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    return text


def bootstrap(text: str) -> str:
    for hp in text.split(","):
        host, sep, p = hp.rpartition(":")
        if not sep or not host or not p.isdigit() or not 0 < int(p) <= 65535:
            raise argparse.ArgumentTypeError(f"{hp!r} is not HOST:PORT (e.g. 127.0.0.1:9092)")
    return text


def redis_url(text: str) -> str:
    if not text.startswith(("redis://", "rediss://", "unix://")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Redis URL (redis://HOST:PORT/DB)")
    return text
