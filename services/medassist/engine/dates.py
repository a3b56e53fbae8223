"""Dates as ISO text (YYYY-MM-DD): they sort and compare as strings, and cost nothing to store."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

SHANGHAI = timezone(timedelta(hours=8))  # China keeps no daylight saving time
# Days an event may name: outside this a date is a typo, and date arithmetic near year 1 or 9999 overflows.
FIRST_DAY, LAST_DAY = "1900-01-01", "2100-12-31"


def is_date(text: object) -> bool:
    if not isinstance(text, str) or len(text) != 10:
        return False
    return _real_day(text)


# A year of events names a few hundred distinct days: remember the answers (pure functions of text).
@lru_cache(maxsize=8192)
def _real_day(text: str) -> bool:
    if text[4:5] != "-" or text[7:8] != "-":  # YYYY-MM-DD only (fromisoformat also takes week dates)
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def shanghai_date(ts: str) -> str:
    """The Asia/Shanghai calendar date of an ISO 8601 time that carries an offset."""
    if (len(ts) == 25 and ts.endswith("+08:00") and ts[10] == "T" and ts[13] == ":" and ts[16] == ":"
            and ts.isascii() and (ts[11:13] + ts[14:16] + ts[17:19]).isdigit()
            and ts[11:13] < "24" and ts[14:16] < "60" and ts[17:19] < "60"):
        day = ts[:10]  # the common case: already Shanghai time
        if not _real_day(day):  # the fast path still refuses 2023-02-30
            raise ValueError(f"no such day {day}")
        return day
    dt = datetime.fromisoformat(ts)
    if dt.tzinfo is None:
        raise ValueError("no UTC offset")
    try:
        return dt.astimezone(SHANGHAI).date().isoformat()
    except OverflowError:  # e.g. 9999-12-31T23:00-12:00
        raise ValueError("out of range") from None


@lru_cache(maxsize=8192)
def add_days(day: str, n: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=n)).isoformat()


@lru_cache(maxsize=8192)
def first_of_next_month(day: str) -> str:
    d = date.fromisoformat(day)
    return (date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)).isoformat()


def months_before(day: str, months: int) -> str:
    """The same calendar day `months` earlier (29 Feb falls back to 28 Feb)."""
    d = date.fromisoformat(day)
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    m += 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1])).isoformat()
