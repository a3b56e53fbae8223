"""Early warnings with worked numbers (digest: Qinhuangdao §四(一), Lanzhou §十六)."""

from __future__ import annotations

from typing import Any

from warning_events import OPERATOR, grant, replayer, reversal, settlement

QHD = "130302"  # a Qinhuangdao county
LZ = "620102"  # a Lanzhou district (city-level pooling)


def _warnings(decisions: list[dict[str, Any]]) -> list[tuple[str, str, str, int, int]]:
    return [(w["event_id"], w["kind"], w["measure"], w["out_of_pocket_fen"], w["threshold_fen"])
            for d in decisions for w in d.get("warnings", [])]


def test_qinhuangdao_impoverishment_on_the_year_total_of_an_ordinary_resident() -> None:
    # Threshold: 100% of Hebei's 2022 rural income 19364.00. Out-of-pocket = medfee - funds (no assistance):
    # S1 12000.00 - 6000.00 = 6000.00; S2 20000.00 - 8000.00 - 1000.00 = 11000.00 (total 17000.00);
    # S3 5000.00 - 2500.00 = 2500.00 -> total 19500.00 > 19364.00: warning; S4 adds 100.00 but fires no more.
    r = replayer()
    out = []
    out += r.feed(settlement("S1", "P1", QHD, "2023-03-10", "21", "12000.00", "10000.00", "6000.00"))
    out += r.feed(settlement("S2", "P1", QHD, "2023-06-01", "21", "20000.00", "18000.00", "8000.00", "1000.00"))
    out += r.feed(settlement("S3", "P1", QHD, "2023-09-01", "11", "5000.00", "4000.00", "2500.00"))
    out += r.feed(settlement("S4", "P1", QHD, "2023-10-01", "11", "300.00", "300.00", "200.00"))
    assert [d["status"] for d in out] == ["not_eligible"] * 4
    assert _warnings(out) == [("S3", "impoverishment", "year_total", 1_950_000, 1_936_400)]
    w = out[2]["warnings"][0]
    assert w["basis"] == "rural_disposable_income_yuan.hebei.2022 (19364.00) x 1.00"
    assert w["notify"] == ["civil_affairs", "rural_revitalisation"]
    assert w["out_of_pocket"] == "19500.00" and w["year"] == 2023 and w["psn_no"] == "P1"


def test_qinhuangdao_reversal_takes_the_stay_off_the_year_total() -> None:
    # S2 (11000.00 out of pocket) is reversed: S1 6000.00 + S3 2500.00 = 8500.00 stays under 19364.00;
    # the re-settled S2b (11000.00 again) brings the total to 19500.00 and fires.
    r = replayer()
    out = []
    out += r.feed(settlement("S1", "P1", QHD, "2023-03-10", "21", "12000.00", "10000.00", "6000.00"))
    out += r.feed(settlement("S2", "P1", QHD, "2023-06-01", "21", "20000.00", "18000.00", "8000.00", "1000.00"))
    out += r.feed(reversal("R2", "P1", QHD, "S2", "2023-06-02"))
    out += r.feed(settlement("S3", "P1", QHD, "2023-09-01", "11", "5000.00", "4000.00", "2500.00"))
    assert _warnings(out) == []
    out += r.feed(settlement("S2b", "P1", QHD, "2023-09-05", "21", "20000.00", "18000.00", "8000.00", "1000.00"))
    assert _warnings(out) == [("S2b", "impoverishment", "year_total", 1_950_000, 1_936_400)]


def test_qinhuangdao_relapse_counts_out_of_pocket_after_assistance() -> None:
    # dibao_edge granted 2022-12-02, in force 2023-01-01. Threshold 50% x 19364.00 = 9682.00.
    # S1 general outpatient: no regular assistance; out of pocket 2000.00 - 500.00 = 1500.00.
    # S2 inpatient: base 18000.00 - 9000.00 = 9000.00; deductible 3000.00 -> 77% x 6000.00 = 4620.00;
    #    out of pocket 20000.00 - 9000.00 - 4620.00 = 6380.00 (total 7880.00).
    # S3 inpatient: base 2500.00, deductible used up -> 77% = 1925.00; out of pocket 6000.00 - 2500.00 - 1925.00
    #    = 1575.00 (total 9455.00, not yet). S4 general outpatient 500.00 - 100.00 = 400.00 -> 9855.00 > 9682.00.
    r = replayer()
    out = r.feed(grant("E1", "P2", QHD, "dibao_edge", "2022-12-02"))
    out += r.feed(settlement("S1", "P2", QHD, "2023-02-01", "11", "2000.00", "1500.00", "500.00"))
    out += r.feed(settlement("S2", "P2", QHD, "2023-03-01", "21", "20000.00", "18000.00", "9000.00"))
    out += r.feed(settlement("S3", "P2", QHD, "2023-04-01", "21", "6000.00", "5000.00", "2500.00"))
    assert [d["assistance_fen"] for d in out] == [0, 462_000, 192_500]
    assert _warnings(out) == []
    out += r.feed(settlement("S4", "P2", QHD, "2023-05-01", "11", "500.00", "400.00", "100.00"))
    assert _warnings(out) == [("S4", "relapse", "year_total", 985_500, 968_200)]
    assert out[-1]["warnings"][0]["category"] == "dibao_edge"


def test_qinhuangdao_employee_insured_ordinary_resident_is_not_watched() -> None:
    # The impoverishment warning is for resident insurance (390); 30000.00 out of pocket under 310 warns nothing.
    r = replayer()
    out = r.feed(settlement("S1", "P3", QHD, "2023-03-10", "21", "40000.00", "30000.00", "10000.00",
                            insutype="310"))
    assert out[0]["warnings"] == []


def test_missing_or_bad_income_figure_is_a_reported_gap_not_a_crash() -> None:
    ops = {**OPERATOR, "rural_disposable_income_yuan": {"hebei": {"2023": "20688"}}}
    out = replayer(ops).feed(settlement("S1", "P1", QHD, "2023-03-10", "21", "40000.00", "30000.00", "5000.00"))
    assert out[0]["warnings"] == []
    assert out[0]["warning_gaps"] == ["rural_disposable_income_yuan.hebei.2022: missing"]
    ops = {**OPERATOR, "rural_disposable_income_yuan": {"hebei": {"2022": "lots"}}}
    out = replayer(ops).feed(settlement("S1", "P1", QHD, "2023-03-10", "21", "40000.00", "30000.00", "5000.00"))
    assert out[0]["warning_gaps"] == ["rural_disposable_income_yuan.hebei.2022: not a decimal amount"]


def test_lanzhou_rural_resident_single_stay_more_than_10000() -> None:
    # Ordinary rural residents: after insurance. 25000.00 - 14999.99 = 10000.01 > 10000.00 warns;
    # exactly 10000.00 does not; an urban resident and an outpatient visit are not watched.
    r = replayer()
    out = r.feed(settlement("S1", "P4", LZ, "2023-05-01", "21", "25000.00", "22000.00", "14999.99",
                            residence="rural"))
    out += r.feed(settlement("S2", "P5", LZ, "2023-05-01", "21", "25000.00", "22000.00", "15000.00",
                             residence="rural"))
    out += r.feed(settlement("S3", "P6", LZ, "2023-05-01", "21", "40000.00", "22000.00", "10000.00",
                             residence="urban"))
    out += r.feed(settlement("S4", "P7", LZ, "2023-05-01", "14", "40000.00", "22000.00", "10000.00",
                             residence="rural"))
    assert _warnings(out) == [("S1", "impoverishment", "single_stay", 1_000_001, 1_000_000)]


def test_lanzhou_dibao_edge_single_stay_after_three_systems_more_than_6000() -> None:
    # dibao_edge approved 2023-02-01. S1: base 18000.00 - 8000.00 = 10000.00; deductible 2000.00 ->
    # 60% x 8000.00 = 4800.00; burden 5200.00 is under the 6000.00 second-tilt line. Out of pocket
    # 20000.00 - 8000.00 - 4800.00 = 7200.00 > 6000.00: warning. S2 is a second stay over the line in the
    # same year, and each stay is its own alarm (§十六 "单次住院"): base 25000.00 - 2000.00 = 23000.00, no
    # deductible left, 60% = 13800.00; year burden 5200.00 + 9200.00 = 14400.00, second tilt 30% x 8400.00 =
    # 2520.00; out of pocket 30000.00 - 2000.00 - 16320.00 = 11680.00 > 6000.00: a second warning, its own id.
    r = replayer()
    out = r.feed(grant("E1", "P8", LZ, "dibao_edge", "2023-02-01"))
    out += r.feed(settlement("S1", "P8", LZ, "2023-05-01", "21", "20000.00", "18000.00", "8000.00"))
    assert out[0]["assistance_fen"] == 480_000
    assert _warnings(out) == [("S1", "relapse", "single_stay", 720_000, 600_000)]
    out += r.feed(settlement("S2", "P8", LZ, "2023-06-01", "21", "30000.00", "25000.00", "2000.00"))
    assert _warnings(out[1:]) == [("S2", "relapse", "single_stay", 1_168_000, 600_000)]
    assert len({w["warning_id"] for d in out for w in d["warnings"]}) == 2


def test_lanzhou_a_stay_reversed_and_settled_again_is_not_warned_twice() -> None:
    # The stay of the test above (7200.00 out of pocket), reversed and settled again under a new event id:
    # the warning already pushed for that stay stands and is not pushed a second time.
    r = replayer()
    r.feed(grant("E1", "P8", LZ, "dibao_edge", "2023-02-01"))
    first = r.feed(settlement("S1", "P8", LZ, "2023-05-01", "21", "20000.00", "18000.00", "8000.00"))
    assert _warnings(first) == [("S1", "relapse", "single_stay", 720_000, 600_000)]
    assert r.feed(reversal("R1", "P8", LZ, "S1", "2023-05-03"))[0]["status"] == "reversed"
    again = settlement("S1-again", "P8", LZ, "2023-05-01", "21", "20000.00", "18000.00", "8000.00")
    again["setl_id"] = "S1"
    out = r.feed(again)
    assert out[0]["assistance_fen"] == 480_000  # same stay, same assistance
    assert _warnings(out) == []
