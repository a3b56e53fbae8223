"""Postings, the in-memory book and the monthly fund statement, with worked numbers."""

from __future__ import annotations

import fastjsonschema
import pytest
from ledger_data import fushun_quarter, instruction, movement
from medassist.ledger.book import CONFLICT, DUPLICATE, POSTED, MemoryBook
from medassist.ledger.postings import LedgerError, Posting, from_instruction, from_movement
from medassist.ledger.statements import fund_statements, interest_transfer
from medassist.schemas import load_schema


def _post(book: MemoryBook, items: list[tuple[str, dict]]) -> list[int]:  # type: ignore[type-arg]
    return [book.post(from_movement(m) if k == "movement" else from_instruction(m)) for k, m in items]


def _zero_sum(book: MemoryBook) -> None:
    for county, accts in book.balances.items():
        assert sum(accts.values()) == 0, county


def test_quarter_of_a_fushun_county_balances_and_states() -> None:
    book = MemoryBook()
    assert _post(book, fushun_quarter()) == [POSTED] * 9
    _zero_sum(book)
    # special: 70000 + 30000 + 20000 - 80000 = 40000.00; expenditure: 80000 + 12.34 - 5000 - 1200.50 - 380
    # + 1200.50 (clawback) = 74632.34; payees: institution 5000, beneficiary 0, premium fund 380.
    b = book.balances["210402"]
    assert (b["special"], b["expenditure"]) == (4_000_000, 7_463_234)
    assert (b["payee:institution"], b["payee:beneficiary"], b["payee:premium_fund"]) == (500_000, 0, 38_000)
    assert b["source:fiscal_subsidy"] == -10_000_000 and b["source:interest"] == -1_234

    jan, = fund_statements(book, "2024-01")
    # January: in 100000 + 20000 + 12.34 = 120012.34; out 5000 + 1200.50 + 380 = 6580.50; closing 113431.84.
    assert jan["opening_fen"] == 0
    assert jan["inflows"] == {"fiscal_subsidy": 10_000_000, "lottery": 2_000_000, "donation": 0,
                              "interest": 1_234, "other": 0}
    assert jan["outflows"] == {"assistance": 620_050, "clawback": 0, "premium_subsidy": 38_000}
    assert (jan["outflows_total_fen"], jan["closing_fen"], jan["closing"]) == (658_050, 11_343_184, "113431.84")
    assert jan["accounts"] == {"special": {"opening_fen": 0, "adjustments_fen": 0, "closing_fen": 4_000_000},
                               "expenditure": {"opening_fen": 0, "adjustments_fen": 0, "closing_fen": 7_343_184}}
    assert (jan["statement_id"], jan["previous_statement_id"]) == ("FS-202401-210402", None)
    assert jan["prior_period_adjustments"]["total_fen"] == 0 and jan["prior_period_adjustments"]["lines"] == []
    assert jan["transfers"]["special_to_expenditure"] == 8_000_000 and jan["balanced"]
    feb, = fund_statements(book, "2024-02")  # the clawback is booked on the day of the reversal
    assert (feb["opening_fen"], feb["outflows"]["clawback"], feb["closing_fen"]) == (11_343_184, -120_050, 11_463_234)
    assert feb["postings"] == 1


def test_quarterly_interest_moves_to_the_special_account_once() -> None:
    book = MemoryBook()
    _post(book, fushun_quarter())
    mv = interest_transfer(book, "210402", "2024Q1")
    assert mv == {"movement_id": "IT-210402-2024Q1", "kind": "interest_transfer", "county": "210402",
                  "date": "2024-03-31", "amount": "12.34", "note": "interest of the expenditure account, 2024Q1"}
    assert book.post(from_movement(mv)) == POSTED
    assert book.post(from_movement(mv)) == DUPLICATE
    mar, = fund_statements(book, "2024-03")
    # Inside the fund: special 40000.00 + 12.34, expenditure 74632.34 - 12.34; the fund's closing is unchanged.
    assert mar["accounts"]["special"]["closing_fen"] == 4_001_234
    assert mar["accounts"]["expenditure"]["closing_fen"] == 7_462_000
    assert mar["closing_fen"] == 11_463_234 and mar["transfers"]["interest_to_special"] == 1_234
    assert interest_transfer(book, "210402", "2024Q2") is None  # no interest that quarter


def test_fushun_year_end_checks() -> None:
    book = MemoryBook()
    _post(book, fushun_quarter("210402"))
    _post(book, fushun_quarter("210421", city="60000.00", cty="40000.00", prefix="B"))
    nov = {s["county"]: s for s in fund_statements(book, "2024-11")}
    dec = {s["county"]: s for s in fund_statements(book, "2024-12")}
    check = fastjsonschema.compile(load_schema("fund_statement"))
    for st in [*nov.values(), *dec.values()]:
        check(st)  # the wire shape the month-end publishes
    split = {c: next(x for x in s["checks"] if x["check"] == "urban_city_share") for c, s in dec.items()}
    # 210402: city 70000 / county 30000 = 0.70 holds; 210421: 60000 / 40000 = 0.60 < 0.70, flagged at year end.
    assert (split["210402"]["city_share"], split["210402"]["flagged"]) == ("0.7000", False)
    assert (split["210421"]["city_fen"], split["210421"]["county_fen"], split["210421"]["flagged"]) == (
        6_000_000, 4_000_000, True)
    assert not any(c["flagged"] for s in nov.values() for c in s["checks"])  # reported, not flagged before December
    bal = next(x for x in dec["210402"]["checks"] if x["check"] == "year_end_balance")
    # raised 120012.34; 15% = 18001.851 -> 18001.85; year-end balance 114632.34 is above it.
    assert (bal["raised_fen"], bal["limit_fen"], bal["closing_fen"], bal["flagged"]) == (
        12_001_234, 1_800_185, 11_463_234, True)


def test_year_end_balance_within_15_percent_is_not_flagged() -> None:
    book = MemoryBook()
    _post(book, [("movement", movement("M1", "inflow", "10000.00", "2024-02-01", source="donation")),
                 ("movement", movement("M2", "transfer", "10000.00", "2024-02-01")),
                 ("instruction", instruction("PI-1", "assistance", 850_000, "institution", day="2024-06-01"))])
    dec, = fund_statements(book, "2024-12")
    bal = next(x for x in dec["checks"] if x["check"] == "year_end_balance")
    # 10000.00 raised, 8500.00 paid: 1500.00 left is exactly 15%, not above it.
    assert (bal["closing_fen"], bal["limit_fen"], bal["flagged"]) == (150_000, 150_000, False)


def test_counties_outside_fushun_have_no_fushun_checks() -> None:
    book = MemoryBook()
    book.post(from_instruction(instruction("PI-9", "assistance", 100, "institution", county="130302")))
    st, = fund_statements(book, "2024-01")
    assert st["policy_id"] == "qinhuangdao-2023" and st["checks"] == []
    assert st["closing_fen"] == -100  # paid before any money came in: shown, not hidden


def test_redelivery_is_a_duplicate_and_another_amount_a_conflict() -> None:
    book = MemoryBook()
    ins = instruction("PI-1", "assistance", 500_000, "institution")
    assert book.post(from_instruction(ins)) == POSTED
    assert book.post(from_instruction(dict(ins))) == DUPLICATE
    assert book.post(from_instruction({**ins, "amount_fen": 500_001})) == CONFLICT
    assert book.balances["210402"]["payee:institution"] == 500_000


@pytest.mark.parametrize(("bad", "why"), [
    ([], "instruction: not a JSON object"),
    (instruction("", "assistance", 1, "institution"), "instruction_id: missing"),
    (instruction("PI", "bonus", 1, "institution"), "kind: unknown instruction kind 'bonus'"),
    (instruction("PI", "assistance", 1.5, "institution"), "amount_fen: not an integer"),
    (instruction("PI", "assistance", -5, "institution"), "amount_fen: -5 has the wrong sign for assistance"),
    (instruction("PI", "clawback", 5, "institution"), "amount_fen: 5 has the wrong sign for clawback"),
    (instruction("PI", "assistance", 5, "institution", payer_account="130302"),
     "payer_account: not a county expenditure account: '130302'"),
    (instruction("PI", "assistance", 5, "shop"), "payee_kind: unknown payee kind 'shop'"),
    (instruction("PI", "assistance", 5, "institution", day="2024-02-30"),
     "setl_date: not a calendar date: '2024-02-30'"),
])
def test_bad_instructions_get_a_specific_error(bad: object, why: str) -> None:
    with pytest.raises(LedgerError) as e:
        from_instruction(bad)
    assert str(e.value) == why


@pytest.mark.parametrize(("bad", "why"), [
    (movement("M", "inflow", "10.00", "2024-01-01"), "source: missing (an inflow names its source)"),
    (movement("M", "inflow", "10.00", "2024-01-01", source="gift"), "source: must be one of"),
    (movement("M", "inflow", "-10.00", "2024-01-01", source="donation"), "amount: must match pattern"),
    (movement("M", "transfer", "0.00", "2024-01-01"), "amount: zero moves nothing"),
    (movement("M", "transfer", "10.00", "2024-13-01"), "date: not a calendar date: '2024-13-01'"),
    (movement("M", "transfer", "10.00", "2024-01-01", county="21"), "county: must match pattern"),
    ({"movement_id": "M", "kind": "transfer"}, "movement: must contain"),
])
def test_bad_movements_get_a_specific_error(bad: dict, why: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(LedgerError) as e:
        from_movement(bad)
    assert str(e.value).startswith(why)


def test_postings_always_balance() -> None:
    for kind, m in fushun_quarter():
        p: Posting = from_movement(m) if kind == "movement" else from_instruction(m)
        assert sum(fen for _, fen in p.legs) == 0 and len(p.legs) == 2
