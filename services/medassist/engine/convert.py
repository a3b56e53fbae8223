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


def _clock_ok(t: str) -> bool:
    """"THH:MM:SS+08:00": a time of day in Shanghai (what follows the date in the common case)."""
    ok = _CLOCKS.get(t)
    if ok is None:
        ok = (len(t) == 15 and t.isascii() and t[0] == "T" and t[3] == ":" and t[6] == ":" and t[9:] == "+08:00"
              and (t[1:3] + t[4:6] + t[7:9]).isdigit() and t[1:3] < "24" and t[4:6] < "60" and t[7:9] < "60")
        if len(_CLOCKS) < 100_000:  # 86,400 valid ones; hostile input must not grow it for ever
            _CLOCKS[t] = ok
    return ok


_CLOCKS: dict[str, bool] = {}


def shanghai_day(v: Any) -> Any:
    """The Shanghai date of a time already in +08:00 (the common case), as events._time_date gives it."""
    if v.__class__ is str and len(v) == 25:
        d = v[:10]
        if _day_ok(d) and _clock_ok(v[10:]):
            return d
    return NOT_SURE


CONVERTERS: dict[str, Converter] = {MONEY_PATTERN: fen, DATE_PATTERN: day, TIME_PATTERN: shanghai_day}
