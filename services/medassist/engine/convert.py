"""Converters for the fused check-and-parse (validator.compile_parse): one read of each value.

Each stands in for its schema pattern and for what events.py would do next with
the value, and answers only the common case: anything else is NOT_SURE, and the
event then takes the full path (fastjsonschema, then events.py's own checks),
which gives the same result or names the field. tests/engine/test_fused_parse.py
compares the two paths on hostile input.
"""

from __future__ import annotations

from typing import Any

from medassist.engine.dates import FIRST_DAY, LAST_DAY, is_date
from medassist.engine.money import MAX_FEN
from medassist.engine.validator import NOT_SURE, Converter

MONEY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{0,2})?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
_MAX_YUAN = MAX_FEN // 100

# Day text -> usable (a real YYYY-MM-DD in range): a year of events names a few hundred days.
_DAYS: dict[str, bool] = {}


def _day_ok(v: str) -> bool:
    ok = _DAYS.get(v)
    if ok is None:
        ok = (len(v) == 10 and v.isascii() and v[:4].isdigit() and v[5:7].isdigit() and v[8:].isdigit()
              and is_date(v) and FIRST_DAY <= v <= LAST_DAY)
        if len(_DAYS) < 100_000:  # bounded: hostile input must not grow it for ever
            _DAYS[v] = ok
    return ok


_ZERO = {"0": 0, "0.00": 0}  # over half the amounts on the wire


def fen(v: Any) -> Any:
    """Yuan (decimal text or a non-negative int) to fen, as events._fen gives it."""
    if v.__class__ is str:
        z = _ZERO.get(v)
        if z is not None:
            return z
        n, dot = len(v), v.find(".")
        if dot < 0:
            if 0 < n <= 12 and v.isascii() and v.isdigit() and int(v) <= _MAX_YUAN:
                return int(v) * 100
            return NOT_SURE
        digits = v[:dot] + v[dot + 1:]  # one int() for yuan and fen; n - dot - 1 decimals follow the point
        if 0 < dot <= 12 and n - dot <= 3 and digits.isascii() and digits.isdigit():
            f = int(digits) * (100, 10, 1)[n - dot - 1]
            if f <= MAX_FEN:
                return f
        return NOT_SURE
    if v.__class__ is int and 0 <= v <= _MAX_YUAN:
        return v * 100
    return NOT_SURE  # floats and the rest: the full path


def day(v: Any) -> Any:
    """A YYYY-MM-DD that exists and is in range, as events._date gives it."""
    return v if v.__class__ is str and _day_ok(v) else NOT_SURE


def shanghai_day(v: Any) -> Any:
    """The Shanghai date of a time already in +08:00 (the common case), as events._time_date gives it."""
    if (v.__class__ is str and len(v) == 25 and v.endswith("+08:00") and v[10] == "T" and v[13] == ":"
            and v[16] == ":" and v.isascii() and (v[11:13] + v[14:16] + v[17:19]).isdigit()
            and v[11:13] < "24" and v[14:16] < "60" and v[17:19] < "60"):
        d = v[:10]
        if _day_ok(d):
            return d
    return NOT_SURE


CONVERTERS: dict[str, Converter] = {MONEY_PATTERN: fen, DATE_PATTERN: day, TIME_PATTERN: shanghai_day}
