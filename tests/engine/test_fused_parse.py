"""The fused check-and-convert (validator.compile_parse + convert.py) changes no outcome.

parse_event with the fused fast path must give exactly what the full path gives
(fastjsonschema, then events.py's own converters): the same event, or the same
`InvalidEvent` reason, on hostile mutations of valid events of every kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from medassist.engine import events
from medassist.engine.events import InvalidEvent, parse_event
from test_validation import GOOD_OF, HOSTILE

# Edges of the converters: the fen limit (10,000,000.00 yuan), decimals, digits of other scripts, offsets.
EDGES = st.sampled_from([
    "10000000.00", "10000000.01", "9999999.99", 10_000_000, 10_000_001, 0, "0", "0.0", "007.5", "1.5", 1.5,
    "123456789012", "123456789012.3", "1234567890123", "２０２３-05-10", "2023-05-10T10:00:00+08:00",
    "2023-05-10T10:00:00.5+08:00", "2023-05-10T23:30:00-01:00", "2023-05-10T10:00:00Z", "2023-05-10T24:00:00+08:00",
    "2100-12-31", "2101-01-01", "1900-01-01", "2023-05-11", "2022-12-31", "2023-06-01", True, None,
])


@contextmanager
def full_path_only() -> Iterator[None]:
    saved = dict(events._FAST)
    events._FAST.update(dict.fromkeys(saved))
    try:
        yield
    finally:
        events._FAST.update(saved)


def outcome(obj: dict[str, Any]) -> tuple[str, Any]:
    try:
        ev = parse_event(dict(obj))
    except InvalidEvent as e:
        return "invalid", str(e)
    if isinstance(ev, events.Settlement):
        ev.raw = {}  # fastjsonschema fills schema defaults into the raw dict (so did the old fast check not)
    return "event", ev


@pytest.mark.parametrize("kind", sorted(GOOD_OF))
def test_the_fused_path_gives_what_the_full_path_gives(kind: str) -> None:
    good_one = GOOD_OF[kind]
    fields = sorted({*good_one, *events.load_schema(kind)["properties"]})
    assert events._FAST[kind] is not None and events._FAST[kind](dict(good_one)) is not None

    @settings(max_examples=400, deadline=None)
    @given(st.dictionaries(st.sampled_from(fields), st.one_of(HOSTILE, EDGES), min_size=1, max_size=3),
           st.sets(st.sampled_from(fields), max_size=2))
    def same(changes: dict[str, Any], drop: set[str]) -> None:
        obj = {k: v for k, v in {**good_one, **changes}.items() if k not in drop}
        fast = outcome(obj)
        with full_path_only():
            full = outcome(obj)
        assert fast == full, (obj, fast, full)

    same()


def test_worked_settlement_converts_money_and_dates() -> None:
    s = parse_event({**GOOD_OF["settlement"], "hifob_pay": 12, "cvlserv_pay": "0.5"})
    assert isinstance(s, events.Settlement)
    # 35000.00 yuan; 30000.00; funds 18000.00 + 2000.00 + 12 + 0.50 + 0 yuan
    assert (s.medfee_fen, s.inscp_fen, s.fund_fen) == (3_500_000, 3_000_000, 1_800_000 + 200_000 + 1_200 + 50)
    assert (s.setl_date, s.begndate, s.year) == ("2023-05-10", "2023-05-01", 2023)
    with pytest.raises(InvalidEvent, match="^begndate: after the settlement date$"):
        parse_event({**GOOD_OF["settlement"], "begndate": "2023-05-11"})
    with pytest.raises(InvalidEvent, match="^medfee_sumamt: absurd amount"):
        parse_event({**GOOD_OF["settlement"], "medfee_sumamt": 10_000_001})


def test_fen_agrees_with_the_full_path_on_every_short_text() -> None:
    from itertools import product

    from medassist.engine.convert import MONEY_PATTERN, NOT_SURE, fen
    from medassist.engine.money import MoneyError, to_fen
    pattern = re.compile(MONEY_PATTERN[:-1] + r"\Z")
    texts = ["".join(t) for n in range(6) for t in product("019.-١ ", repeat=n)]
    texts += ["123456789012", "123456789012.3", "10000000.00", "10000000.01", "007.50", "0", "0.00"]
    agreed = 0
    for t in texts:
        try:  # what the schema's pattern and then to_fen make of it
            want = to_fen(t) if pattern.search(t) else NOT_SURE
        except MoneyError:
            want = NOT_SURE
        got = fen(t)
        # The converter may say "not sure" where the full path accepts (it then takes the full path), never differ.
        assert got is NOT_SURE or got == want, t
        agreed += got == want
    assert fen("10000000.00") == 1_000_000_000 and fen("12.5") == 1250 and fen("1.") == 100
    assert agreed > 1000
