"""Closing on a real redis-server and on a Redis Cluster: stored once under ma:close:, final, safe
against a racing closer."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from medassist.engine.dates import SHANGHAI
from medassist.monthend.closes import CloseStore
from medassist.monthend.closing import close
from medassist.monthend.instructions import Intake
from medassist.ops.embedded import RedisServer
from medassist.ops.redis_cluster import LocalRedisCluster
from redis import RedisCluster

from .make import assistance
from .test_monthend_statements import may_instructions

pytestmark = pytest.mark.integration
JUNE_6 = datetime(2023, 6, 6, 9, 0, tzinfo=SHANGHAI)
JULY_6 = datetime(2023, 7, 6, 9, 0, tzinfo=SHANGHAI)


def all_keys(target: RedisServer | LocalRedisCluster) -> list[bytes]:
    if isinstance(target, LocalRedisCluster):
        return target.client().keys("*", target_nodes=RedisCluster.PRIMARIES)  # type: ignore[no-any-return]
    return target.client().keys("*")  # type: ignore[no-any-return]


def test_close_is_final_and_late_items_go_to_the_next_close(redis_any: RedisServer | LocalRedisCluster) -> None:
    store = CloseStore(redis_any.client(), "p1")
    intake = Intake().add_all(may_instructions())
    may, new = close("2023-05", list(intake), store, JUNE_6)
    may_read_to = intake.position
    assert new and may["closed_at"] == "2023-06-06T09:00:00+08:00"
    assert [(s["fixmedins_code"], s["net_due_fen"]) for s in may["statements"]] == [("H1", 930000), ("H2", 30000)]
    intake.add(assistance("A-S7", "S-7", 40000, "2023-05-20"))  # late for May
    again, new = close("2023-05", list(intake), store, JULY_6)
    assert not new and again == may  # same statements, same closed_at: nothing changed
    june, new = close("2023-06", list(intake), store, JULY_6)
    h1 = june["statements"][0]
    assert new and [(a["original_month"], a["setl_id"], a["amount_fen"]) for a in h1["adjustments"]] == \
        [("2023-05", "S-7", 40000)]
    assert h1["net_due_fen"] == 40000 - 150000
    assert store.closed_months() == {"2023-05", "2023-06"}
    # a close records where it read to, not the ids it took: 4 in May (A-S1, A-S2, A-S5, C-S0), the
    # late A-S7 and C-S2 in June
    assert [(r["instruction_count"], r["read_to"]) for r in store.records().values()] == \
        [(4, {"0": may_read_to}), (2, {"0": may_read_to + 1})]
    assert store.details("2023-05", "H1") == {"S-1": 800000, "S-2": 150000, "S-0": -20000}
    keys = sorted(k.decode() for k in all_keys(redis_any))
    # one hash tag per namespace: the WATCH/MULTI over a month and the set of months stays in one
    # Redis Cluster slot; the staged detail rows are renamed into place, none left behind
    assert keys == ["ma:close:{p1}:2023-05", "ma:close:{p1}:2023-05:details", "ma:close:{p1}:2023-06",
                    "ma:close:{p1}:2023-06:details", "ma:close:{p1}:months"]
    # a second deployment sharing this Redis is not affected
    assert CloseStore(redis_any.client(), "p2").closed_months() == set()


def test_racing_closers_store_one_close(redis_any: RedisServer | LocalRedisCluster) -> None:
    items = list(Intake().add_all(may_instructions()))
    results: list[tuple[dict[str, Any], bool]] = []
    stamps = [JUNE_6, JULY_6]

    def closer(i: int) -> None:
        results.append(close("2023-05", items, CloseStore(redis_any.client(), "p"), stamps[i]))

    threads = [threading.Thread(target=closer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(new for _, new in results) == [False, True]
    assert results[0][0] == results[1][0]


def test_a_close_computed_before_another_close_is_recomputed(redis_any: RedisServer | LocalRedisCluster) -> None:
    store = CloseStore(redis_any.client(), "p")
    intake = Intake().add_all(may_instructions())
    close("2023-05", list(intake), store, JUNE_6)
    # a June close computed while May was still open must not be stored: it ignored May's includes
    assert store.put_once("2023-06", {"month": "2023-06"}, set()) is None
    assert store.closed_months() == {"2023-05"}


def test_a_bad_month_is_refused(redis_any: RedisServer | LocalRedisCluster) -> None:
    with pytest.raises(ValueError, match="not YYYY-MM"):
        close("2023-13", [], CloseStore(redis_any.client(), "p"), JUNE_6)
