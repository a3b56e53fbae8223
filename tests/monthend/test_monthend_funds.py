"""The counties' fund statements and the push lists are frozen by the close (real redis-server: close store and
ledger); a late instruction or movement after the close shows up in the next month as a prior-period adjustment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import fastjsonschema
import pytest
from medassist.engine.dates import SHANGHAI
from medassist.engine.money import yuan
from medassist.ledger.postings import from_instruction, from_movement
from medassist.ledger.redis_book import RedisBook
from medassist.monthend.closes import CloseStore
from medassist.monthend.closing import close
from medassist.monthend.companions import Companions, pushed_rows, to_csv
from medassist.monthend.instructions import Intake
from medassist.monthend.run import valid_fund_statements
from medassist.ops.embedded import RedisServer
from medassist.schemas import load_schema

from .make import assistance

pytestmark = pytest.mark.integration
JUNE_6 = datetime(2023, 6, 6, 9, 0, tzinfo=SHANGHAI)
JULY_6 = datetime(2023, 7, 6, 9, 0, tzinfo=SHANGHAI)
AUG_6 = datetime(2023, 8, 6, 9, 0, tzinfo=SHANGHAI)
COUNTY = "130302"
check = fastjsonschema.compile(load_schema("fund_statement"))


def movement(mid: str, kind: str, amount: str, day: str, **extra: Any) -> dict[str, Any]:
    return {"movement_id": mid, "kind": kind, "county": COUNTY, "date": day, "amount": amount, **extra}


def warning(n: int, day: str, notify: tuple[str, ...] = ("civil_affairs",)) -> dict[str, Any]:
    return {"warning_id": f"EW-{n:024x}", "type": "early_warning", "kind": "relapse", "measure": "year_total",
            "policy_id": "qinhuangdao-2023", "psn_no": f"P{n}", "year": 2023, "category": "dibao",
            "insutype": "390", "residence": "rural", "out_of_pocket_fen": 1_200_000, "out_of_pocket": "12000.00",
            "threshold_fen": 968_200, "threshold": "9682.00", "basis": None, "event_id": f"ev-{n}",
            "setl_id": f"S-W{n}", "setl_date": day, "insuplc_admdvs": COUNTY, "fixmedins_code": "H1",
            "notify": list(notify)}


class World:
    """One county's ledger and close store on the same redis-server; instructions feed both, as in production."""

    def __init__(self, server: RedisServer) -> None:
        self.book = RedisBook(server.client(), "p")
        self.store = CloseStore(server.client(), "p")
        self.intake = Intake()
        self.warnings: list[Any] = []
        self.loads = 0

    def instruction(self, ins: dict[str, Any]) -> None:
        self.intake.add(ins)
        self.book.post_many([from_instruction(ins)])

    def movement(self, mv: dict[str, Any]) -> None:
        self.book.post_many([from_movement(mv)])

    def companions(self) -> Companions:
        self.loads += 1
        return Companions(self.book.load_flows(), "redis ledger", list(self.warnings))

    def close(self, month: str, now: datetime) -> tuple[dict[str, Any], bool]:
        return close(month, list(self.intake), self.store, now, self.companions)

    def true_fund_balance(self) -> int:
        bal = self.book.load_balances()[COUNTY]
        return bal["special"] + bal["expenditure"]


def may(w: World) -> None:
    w.movement(movement("M1", "inflow", "100000.00", "2023-05-02", source="fiscal_subsidy", level="city"))
    w.movement(movement("M2", "transfer", "80000.00", "2023-05-03"))
    w.instruction(assistance("A-S1", "S-1", 930_000, "2023-05-10"))
    w.instruction(assistance("A-S2", "S-2", 30_000, "2023-05-12", code="H2"))


def test_late_flows_leave_the_closed_statement_alone_and_adjust_the_next(redis_server: RedisServer) -> None:
    w = World(redis_server)
    may(w)
    rec, new = w.close("2023-05", JUNE_6)
    [fs] = rec["funds"]["statements"]
    # May: in 100000.00; out 9300.00 + 300.00 = 9600.00; closing 90400.00 (special 20000.00, expenditure 70400.00)
    assert new and (fs["statement_id"], fs["type"], fs["closed_at"]) == (
        "FS-202305-130302", "fund_statement", "2023-06-06T09:00:00+08:00")
    assert (fs["opening_fen"], fs["inflows_total_fen"], fs["outflows_total_fen"], fs["closing_fen"]) == (
        0, 10_000_000, 960_000, 9_040_000)
    assert fs["accounts"] == {"special": {"opening_fen": 0, "adjustments_fen": 0, "closing_fen": 2_000_000},
                              "expenditure": {"opening_fen": 0, "adjustments_fen": 0, "closing_fen": 7_040_000}}
    assert fs["closing_fen"] == w.true_fund_balance()

    # after the close: a May settlement (400.00) and a May donation (500.00) arrive late; June pays 1500.00
    w.instruction(assistance("A-S7", "S-7", 40_000, "2023-05-20"))
    w.movement(movement("M3", "inflow", "500.00", "2023-05-31", source="donation"))
    w.instruction(assistance("A-S8", "S-8", 150_000, "2023-06-03"))
    again, new = w.close("2023-05", JULY_6)
    assert not new and again == rec and w.loads == 1  # the rerun reads no ledger and changes nothing
    [fs_again] = again["funds"]["statements"]
    assert fs_again["closing_fen"] == 9_040_000 and fs_again["outflows"]["assistance"] == 960_000

    june_rec, new = w.close("2023-06", JULY_6)
    [jun] = june_rec["funds"]["statements"]
    assert new and jun["statement_id"] == "FS-202306-130302" and jun["previous_statement_id"] == "FS-202305-130302"
    assert jun["opening_fen"] == fs["closing_fen"] == 9_040_000  # the chain holds
    assert jun["outflows"]["assistance"] == 150_000 and jun["inflows_total_fen"] == 0
    adj = jun["prior_period_adjustments"]
    assert [(x["original_month"], x["section"], x["name"], x["amount_fen"], x["amount"]) for x in adj["lines"]] == [
        ("2023-05", "inflows", "donation", 50_000, "500.00"), ("2023-05", "outflows", "assistance", 40_000, "400.00")]
    assert (adj["inflows"]["donation"], adj["outflows"]["assistance"], adj["postings"], adj["total_fen"]) == (
        50_000, 40_000, 2, 10_000)
    # 90400.00 - 1500.00 + (500.00 - 400.00) = 89000.00, which is what the ledger holds now
    assert (jun["closing_fen"], jun["closing"]) == (8_900_000, "89000.00")
    assert jun["closing_fen"] == w.true_fund_balance() and jun["balanced"]
    assert jun["accounts"] == {
        "special": {"opening_fen": 2_000_000, "adjustments_fen": 50_000, "closing_fen": 2_050_000},
        "expenditure": {"opening_fen": 7_040_000, "adjustments_fen": -40_000, "closing_fen": 6_850_000}}
    # the institutions' side agrees: S-7 is an adjustment line on H1's June statement
    h1 = next(s for s in june_rec["statements"] if s["fixmedins_code"] == "H1")
    assert [(a["setl_id"], a["amount_fen"]) for a in h1["adjustments"]] == [("S-7", 40_000)]
    for s in (fs, jun):
        check(s)
    assert all(sum(accts.values()) == 0 for accts in w.book.load_balances().values())  # double entry holds

    # July: nothing late any more, the chain goes on; both earlier closes are still as stored
    w.instruction(assistance("A-S9", "S-9", 10_000, "2023-07-01"))
    [jul] = w.close("2023-07", AUG_6)[0]["funds"]["statements"]
    assert (jul["opening_fen"], jul["prior_period_adjustments"]["lines"], jul["closing_fen"]) == (
        8_900_000, [], 8_890_000)
    assert w.close("2023-06", AUG_6)[0] == june_rec and w.close("2023-05", AUG_6)[0] == rec


def test_a_county_first_seen_late_starts_from_zero_with_its_whole_past_as_adjustment(
        redis_server: RedisServer) -> None:
    w = World(redis_server)
    w.instruction(assistance("A-X", "S-X", 1_000, "2023-04-30"))  # April, never closed: in the opening
    w.close("2023-05", JUNE_6)
    assert w.store.get("2023-05")["funds"]["statements"][0]["county"] == COUNTY  # type: ignore[index]
    w.book.post_many([from_movement({**movement("N1", "inflow", "300.00", "2023-05-09", source="lottery"),
                                     "county": "130303"})])
    june = {s["county"]: s for s in w.close("2023-06", JULY_6)[0]["funds"]["statements"]}
    new = june["130303"]
    assert (new["opening_fen"], new["previous_statement_id"], new["closing_fen"]) == (0, None, 30_000)
    assert [(x["original_month"], x["name"], x["amount_fen"]) for x in new["prior_period_adjustments"]["lines"]] \
        == [("2023-05", "lottery", 30_000)]
    assert june[COUNTY]["opening_fen"] == june[COUNTY]["closing_fen"] == -1_000  # paid before any money came in


def test_push_lists_are_frozen_and_late_warnings_go_to_the_next_month(redis_server: RedisServer) -> None:
    w = World(redis_server)
    may(w)
    w.warnings += [warning(1, "2023-05-10", ("civil_affairs", "rural_revitalisation")), warning(2, "2023-05-31"),
                   warning(1, "2023-05-10", ("civil_affairs", "rural_revitalisation")),  # redelivered
                   b"{not json", warning(3, "2023-06-02")]
    rec, _ = w.close("2023-05", JUNE_6)
    ids = [f"EW-{n:024x}" for n in range(5)]
    assert rec["pushed"]["on_time"] == [ids[1], ids[2]] and rec["pushed"]["late"] == {}
    assert rec["pushed"]["rejected"] == ["#3: not valid JSON"]
    w.warnings.append(warning(4, "2023-05-20"))  # raised for May after May was closed
    assert w.close("2023-05", JULY_6)[0]["pushed"] == rec["pushed"]
    lists, missing = pushed_rows("2023-05", rec["pushed"], w.warnings)
    assert missing == [] and [r["warning_id"] for r in lists["civil_affairs"]] == [ids[1], ids[2]]
    assert [r["warning_id"] for r in lists["rural_revitalisation"]] == [ids[1]]

    june, _ = w.close("2023-06", JULY_6)
    assert june["pushed"]["on_time"] == [ids[3]] and june["pushed"]["late"] == {ids[4]: "2023-05"}
    lists, missing = pushed_rows("2023-06", june["pushed"], w.warnings)
    assert [(r["warning_id"], r["setl_date"], r["late"]) for r in lists["civil_affairs"]] == [
        (ids[3], "2023-06-02", False), (ids[4], "2023-05-20", True)]
    assert to_csv(lists["civil_affairs"]).splitlines()[2].endswith(",True")
    # rerun: the same lists, whatever came since; a warning gone from the topic is named, not silently dropped
    assert pushed_rows("2023-06", w.close("2023-06", AUG_6)[0]["pushed"], w.warnings) == (lists, [])
    assert pushed_rows("2023-06", june["pushed"], w.warnings[:-1])[1] == [ids[4]]
    # May's list is still the one it was
    assert pushed_rows("2023-05", w.store.get("2023-05")["pushed"], w.warnings)[0]["civil_affairs"] == \
        pushed_rows("2023-05", rec["pushed"], w.warnings[:3])[0]["civil_affairs"]  # type: ignore[index]


def test_closes_without_frozen_funds_start_the_chain_from_the_ledger(redis_server: RedisServer) -> None:
    """A month closed before fund statements were frozen (no companions) leaves nothing to chain to."""
    w = World(redis_server)
    may(w)
    old, _ = close("2023-05", list(w.intake), w.store, JUNE_6)
    assert "funds" not in old and "pushed" not in old
    w.instruction(assistance("A-S7", "S-7", 40_000, "2023-05-20"))
    [jun] = w.close("2023-06", JULY_6)[0]["funds"]["statements"]
    # opening from the ledger: 90400.00 - 400.00 late; nothing to adjust against
    assert (jun["opening_fen"], jun["prior_period_adjustments"]["total_fen"], jun["previous_statement_id"]) == (
        9_000_000, 0, None)
    assert jun["closing_fen"] == w.true_fund_balance() == 9_000_000 and yuan(jun["closing_fen"]) == "90000.00"


def test_a_fund_statement_the_schema_refuses_is_reported_not_published(redis_server: RedisServer) -> None:
    w = World(redis_server)
    may(w)
    [fs] = w.close("2023-05", JUNE_6)[0]["funds"]["statements"]
    broken = {**fs, "statement_id": "FS-2023-05-130302"}
    assert valid_fund_statements([fs, broken]) == (
        [fs], ["FS-2023-05-130302: data.statement_id must match pattern ^FS-[0-9]{6}-[0-9]{6}$"])
