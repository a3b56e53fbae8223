"""`medassist bench replay` at a tiny size: the figures are there and count the right things (no timing asserted)."""

from __future__ import annotations

import argparse

from medassist.bench.replay_bench import main
from medassist.population import population
from medassist.replay import replay_events


def test_bench_replay_reports_the_contract_figures_for_the_generated_file() -> None:
    figures = main(argparse.Namespace(people=40, seed=4))
    events = list(population(40, seed=4))
    assert figures["events"] == len(events)
    assert figures["settlements"] == sum(e["type"] == "settlement" for e in events)
    assert figures["decisions"] == len(replay_events(events))
    for key in ("per_s", "engine_per_s", "parse_per_s", "json_ceiling_per_s", "settlements_per_s"):
        assert isinstance(figures[key], int) and figures[key] > 0, key
