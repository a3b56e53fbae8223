"""Month-end as a stream: the same close as the in-memory path, and what a close took told by offsets.

The streaming path keeps the ids it met and the detail rows in temporary sqlite files, and a
stored close records where it read the topic to instead of the ids it took. These tests hold it
to the in-memory path and to the rules for late and redelivered instructions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
from medassist.engine.dates import SHANGHAI
from medassist.monthend.closes import CloseStore
from medassist.monthend.closing import close
from medassist.monthend.instructions import Intake, StreamSource
from medassist.ops.embedded import RedisServer

from .make import assistance
from .test_monthend_statements import may_instructions

pytestmark = pytest.mark.integration
JUNE_6 = datetime(2023, 6, 6, 9, 0, tzinfo=SHANGHAI)
JULY_6 = datetime(2023, 7, 6, 9, 0, tzinfo=SHANGHAI)


def topic(messages: list[Any]) -> list[tuple[int, int, bytes]]:
    """One partition of a topic holding `messages`, in order."""
    return [(0, i, m if isinstance(m, bytes) else orjson.dumps(m)) for i, m in enumerate(messages)]


def test_streamed_close_equals_the_in_memory_close(redis_server: RedisServer) -> None:
    msgs = may_instructions()
    intake = Intake().add_all(msgs).check_reversals()  # what month-end did before it streamed
    mem, _ = close("2023-05", intake, CloseStore(redis_server.client(), "mem"), JUNE_6)
    source = StreamSource(lambda: topic(msgs))
    streamed, new = close("2023-05", source, CloseStore(redis_server.client(), "disk"), JUNE_6)
    assert new and streamed["statements"] == mem["statements"] and streamed["summary"] == mem["summary"]
    assert streamed["read_to"] == mem["read_to"] == {"0": len(msgs)}
    seen = source.last
    assert (seen.items_seen, seen.duplicates, seen.not_institution_money, seen.errors) == \
        (4, 1, 3, {"not valid JSON": 1})
    # the two clawbacks name instructions this topic does not hold: set aside, in both paths
    assert seen.set_aside == intake.set_aside == [
        f"{iid}: reverses_instruction_id: names no counted assistance instruction" for iid in ("C-S0", "C-S2")]
    store = CloseStore(redis_server.client(), "disk")
    assert store.details("2023-05", "H1") == {"S-1": 800000, "S-2": 150000}
    assert store.details("2023-05", "H2") == {"S-5": 30000}


def test_a_copy_redelivered_after_the_close_is_not_paid_again(redis_server: RedisServer) -> None:
    """May is closed reading to offset N. Then the topic gets a late May settlement and a redelivered
    copy of one May already took: June's close adjusts for the late one only."""
    store = CloseStore(redis_server.client(), "p")
    msgs = may_instructions()
    may, _ = close("2023-05", StreamSource(lambda: topic(msgs)), store, JUNE_6)
    later = [*msgs, assistance("A-S7", "S-7", 40000, "2023-05-20"), assistance("A-S5", "S-5", 30000, "2023-05-15",
                                                                               code="H2")]
    source = StreamSource(lambda: topic(later), {"0": len(later)})
    june, new = close("2023-06", source, store, JULY_6)
    assert new and source.last.duplicates == 2  # A-S1 twice in May's part, A-S5 once more after it
    adjustments = [(s["fixmedins_code"], a["instruction_id"]) for s in june["statements"] for a in s["adjustments"]]
    assert adjustments == [("H1", "A-S7")]
    assert june["read_to"] == {"0": len(later)} and may["read_to"] == {"0": len(msgs)}
    # and a rerun of May, whatever the topic holds now, is the stored close
    assert close("2023-05", source, store, JULY_6) == (may, False)
